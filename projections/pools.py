"""The pool projection: every designation and pool membership as rows, from the events.

A pure function of the event sequence.  :func:`apply_event` folds one stored domain
event into :class:`PoolState` rows and returns the keys it changed; the read-model
adapter (``infra.readmodel``) loads the rows an event batch touches, applies the batch,
and writes the rows and its checkpoint in one transaction.  Rebuilding from zero runs
the same function over the whole log.

Validity is not stored as a flag: a designation row keeps ``valid_from``,
``valid_until``, ``revoked_on`` and ``ended_on``, and every query takes a date (rule 4:
expiry follows from time, no event is needed for it).

**One time model.**  The state of an enterprise on business date D is the fold, in ledger
order, of its events whose ``occurred_on`` is on or before D (the aggregate judges a
command dated d on the same state: ``domain.enterprise``).  Every row is therefore kept as
*versions over business time* besides its current form: a version holds the row as it
stood from ``since`` (the business date of the events that made it so) until the next
version's ``since``.  Events usually come in business-date order per enterprise, and a
fold then closes the row's version and opens a new one when an event of a later date
changes it (:meth:`PoolState.change`).  An event dated before facts of its enterprise
already folded (recorded later, dated earlier) marks the enterprise ``backdated``; the
adapter then recomputes its whole timeline from its events with :func:`timeline`.
:func:`in_force` is the answer to "this row on D" over a row's versions; both it and rule 4
(:meth:`Designation.valid_on`) call the one spelling of each rule in ``domain.validity``,
whose :func:`~domain.validity.in_force_sql` and :func:`~domain.validity.valid_sql` are the
same rules for the tables.

>>> d = Designation(key="k", enterprise_id="e", uscc="U", name="n", region="211402", programme="national",
...     tier="little_giant", level="national", application_id="a", status="approved",
...     valid_from="2021-07-01", valid_until="2024-07-01")
>>> d.valid_on("2023-06-29"), d.valid_on("2024-07-01")
(True, False)
>>> last_day("2024-07-01")  # people read the last valid day (有效期至); machines the exclusive end
'2024-06-30'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, TypeVar
from uuid import UUID

import msgspec

from domain.validity import designated_by, in_force_on, valid_on


def last_day(valid_until: str | None) -> str | None:
    """The last valid day of an exclusive end (有效期至, as tables, reports and documents show it)."""
    return None if valid_until is None else (date.fromisoformat(valid_until) - timedelta(days=1)).isoformat()


class Designation(msgspec.Struct, kw_only=True):
    """One application of one enterprise for one tier; a designation once approved."""

    key: str  # enterprise_id/application_id
    enterprise_id: str
    uscc: str
    name: str
    region: str
    programme: str
    tier: str
    level: str
    application_id: str
    status: str = "applied"
    product_id: str | None = None
    product_name: str | None = None
    applied_on: str | None = None
    valid_from: str | None = None  # ISO dates: they compare as text in SQL and in Python
    valid_until: str | None = None  # exclusive: the first day no longer valid
    last_day: str | None = None  # valid_until - 1 day: the last valid day, as documents print it (有效期至)
    revoked_on: str | None = None
    revocation_reason: str | None = None
    ended_on: str | None = None
    review_failed: bool = False
    renewal_of: str | None = None
    replaced_by: str | None = None
    under_reconfirmation: bool = False
    document: str = ""
    decided_by: str | None = None
    approved_on: str | None = None  # the approval's business date (a renewal's: its review's); "ever designated"
    batch: int | None = None  # the batch (第N批) the approval announced, if it named one
    recommended_batch: int | None = None  # the batch the latest recommendation naming one was sent in
    changed_at: int = 0  # ledger position of the last event that changed this row
    since: str = ""  # business date from which the row stands as it is (see "One time model")

    def set_validity(self, valid_from: str | None, valid_until: str | None) -> None:
        self.valid_from, self.valid_until, self.last_day = valid_from, valid_until, last_day(valid_until)

    def valid_on(self, d: str) -> bool:
        """Rule 4 (:func:`domain.validity.valid_on`) on this row."""
        return valid_on(d, status=self.status, valid_from=self.valid_from, valid_until=self.valid_until,
                        revoked_on=self.revoked_on, ended_on=self.ended_on)


class PoolMember(msgspec.Struct, kw_only=True):
    """Membership of the cultivation pool (培育库) of one programme tier."""

    key: str  # enterprise_id/programme/tier
    enterprise_id: str
    uscc: str
    name: str
    region: str
    programme: str
    tier: str
    admitted_on: str
    removed_on: str | None = None
    since: str = ""


class EnterpriseRow(msgspec.Struct, kw_only=True):
    enterprise_id: str
    uscc: str
    name: str
    region: str
    listed: bool = False
    filed_years: str = ""  # yearly data filed: "2021,2022L" (L: filed after the deadline)
    late_changes: str = ""  # change reports filed late: "relocation:2023-03-01,..."
    chains: str = ""  # industrial chains tagged (一链一策一批): "zhejiang/digital_security,..."
    since: str = ""
    dated_to: str = ""  # the latest business date of the enterprise's events folded (not versioned)

    def filed(self, data_year: int) -> bool:
        return any(y.rstrip("L") == str(data_year) for y in self.filed_years.split(",") if y)

    def on_chain(self, chain: str) -> bool:
        """Tagged on ``chain``: "programme/chain", or a chain id of any programme.

        >>> e = EnterpriseRow(enterprise_id="e", uscc="U", name="n", region="330106", chains="zhejiang/smart_home")
        >>> e.on_chain("smart_home"), e.on_chain("zhejiang/smart_home"), e.on_chain("home")
        (True, True, False)
        """
        return any(t == chain or t.partition("/")[2] == chain for t in self.chains.split(",") if t)


class BatchLine(msgspec.Struct, kw_only=True):
    """One batch (第N批) of one programme's tier at one level: "推荐6家", "第五批 160项"."""

    programme: str
    tier: str
    level: str
    batch: int
    recommended: int  # applications whose latest recommendation naming a batch named this one
    approved: int  # approvals the batch announced (on or before the date, whatever happened after)
    first_approved_on: str | None = None
    last_approved_on: str | None = None


def batch_lines(rows: Iterable[Designation], on: str) -> list[BatchLine]:
    """The batches of ``rows`` (designations as they stood on ``on``), in programme, tier,
    level and batch order.

    >>> d = Designation(key="k", enterprise_id="e", uscc="U", name="n", region="370211", programme="qingdao",
    ...     tier="product", level="municipal", application_id="a", status="approved", approved_on="2016-06-15",
    ...     batch=5, recommended_batch=5)
    >>> [(b.batch, b.recommended, b.approved) for b in batch_lines([d], "2016-12-31")]
    [(5, 1, 1)]
    """
    lines: dict[tuple[str, str, str, int], BatchLine] = {}

    def line(d: Designation, batch: int) -> BatchLine:
        k = (d.programme, d.tier, d.level, batch)
        if k not in lines:
            lines[k] = BatchLine(programme=d.programme, tier=d.tier, level=d.level, batch=batch, recommended=0,
                                 approved=0)
        return lines[k]

    for d in rows:
        if d.recommended_batch is not None:
            line(d, d.recommended_batch).recommended += 1
        if d.batch is not None and designated_by(on, status=d.status, approved_on=d.approved_on):
            b = line(d, d.batch)
            b.approved += 1
            assert d.approved_on is not None
            b.first_approved_on = min(b.first_approved_on or d.approved_on, d.approved_on)
            b.last_approved_on = max(b.last_approved_on or d.approved_on, d.approved_on)
    return [lines[k] for k in sorted(lines)]


# Columns a row has but its versions do not: how far the enterprise's facts reach is not a
# fact of any one date.
UNVERSIONED = ("dated_to",)

Row = TypeVar("Row", Designation, PoolMember, EnterpriseRow)


class Version(msgspec.Struct, frozen=True):
    """A row as it stood from ``row.since`` until ``until`` (exclusive; None: still)."""

    row: Any
    until: str | None


def in_force(versions: Iterable[Version], on: str) -> Any | None:
    """The row of ``versions`` (one row's, any order) that stands on business date ``on``.

    >>> v1 = Version(PoolMember(key="k", enterprise_id="e", uscc="U", name="旧名", region="211402",
    ...     programme="national", tier="innovative", admitted_on="2021-01-05", since="2021-01-05"), "2024-03-01")
    >>> v2 = Version(msgspec.structs.replace(v1.row, name="新名", since="2024-03-01"), None)
    >>> in_force([v1, v2], "2023-06-29").name, in_force([v2, v1], "2024-03-01").name, in_force([v1], "2020-01-01")
    ('旧名', '新名', None)
    """
    for v in versions:
        if in_force_on(v.row.since, v.until, on):
            return v.row
    return None


class PoolState:
    """The rows an event batch works on, keyed; the adapter fills and drains it.

    Designations and pool members go in through :meth:`add_designation` and
    :meth:`add_member`, which also index them by enterprise (a change report touches every
    row of its enterprise: found through the index, not by scanning every row held).

    A fold changes a row only through :meth:`change` (with the business date of the event),
    which keeps the row's versions: ``versions`` collects the versions a batch closed, by
    (kind, key, since), until the adapter stores them with the rows (``track`` False: no
    versions, for :func:`timeline`'s own folds).  ``backdated``: enterprises that got an
    event dated before facts already folded (the adapter recomputes their timelines)."""

    def __init__(self, track: bool = True) -> None:
        self.enterprises: dict[str, EnterpriseRow] = {}
        self.designations: dict[str, Designation] = {}
        self.members: dict[str, PoolMember] = {}
        self.dirty: set[tuple[str, str]] = set()  # (table, key) changed in this batch
        # enterprises whose only change in this batch is ``dated_to`` (not versioned): their row
        # is stored, their version is not (it stands as it was); most events change no more
        self.dated: set[str] = set()
        self.track = track
        self.versions: dict[tuple[str, str, str], Version] = {}
        self.backdated: dict[str, int] = {}  # enterprise_id: version of an event dated before folded facts
        # history(enterprise_id, version): the enterprise's events up to that version (the
        # adapter's read of the store); with it a backdated event recomputes the timeline
        # at once (:func:`refold`), without it the enterprise is only marked ``backdated``.
        self.history: Callable[[str, int], list[Any]] | None = None
        self.refolded: set[str] = set()  # enterprises whose stored versions are to be replaced
        self._designation_keys: dict[str, list[str]] = {}  # enterprise_id: keys of its designations
        self._member_keys: dict[str, list[str]] = {}

    def touch(self, kind: str, key: str) -> None:
        self.dirty.add((kind, key))

    def change(self, kind: str, row: Any, on: str) -> None:
        """``row`` (of ``kind``) is about to be changed by an event of business date ``on``:
        the version it stood as since an earlier date ends on ``on``."""
        key = row.enterprise_id if kind == "enterprise" else row.key
        self.dirty.add((kind, key))
        if not row.since:
            row.since = on
        elif row.since < on:
            if self.track:
                self.versions[(kind, key, row.since)] = Version(msgspec.structs.replace(row), on)
            row.since = on
        # row.since > on: an event dated before the row's version; fold() has marked the
        # enterprise backdated, and its timeline is recomputed from its events.

    def add_designation(self, d: Designation) -> None:
        if d.key not in self.designations:
            self._designation_keys.setdefault(d.enterprise_id, []).append(d.key)
        self.designations[d.key] = d

    def add_member(self, m: PoolMember) -> None:
        if m.key not in self.members:
            self._member_keys.setdefault(m.enterprise_id, []).append(m.key)
        self.members[m.key] = m

    def add(self, kind: str, row: Any) -> None:
        """Put ``row`` of ``kind`` (``enterprise``, ``designation``, ``member``) in."""
        if kind == "enterprise":
            self.enterprises[row.enterprise_id] = row
        elif kind == "designation":
            self.add_designation(row)
        else:
            self.add_member(row)

    def designations_of(self, enterprise_id: str) -> list[Designation]:
        return [self.designations[k] for k in self._designation_keys.get(enterprise_id, ())]

    def members_of(self, enterprise_id: str) -> list[PoolMember]:
        return [self.members[k] for k in self._member_keys.get(enterprise_id, ())]

    def rows_of(self, enterprise_id: str) -> list[tuple[str, Any]]:
        """Every row of one enterprise, with its kind."""
        ent = self.enterprises.get(enterprise_id)
        return ([("enterprise", ent)] if ent is not None else []) + \
            [("designation", d) for d in self.designations_of(enterprise_id)] + \
            [("member", m) for m in self.members_of(enterprise_id)]

    def forget(self, enterprise_id: str) -> None:
        """Drop every row of one enterprise (clean rows only: the adapter's cache eviction)."""
        self.enterprises.pop(enterprise_id, None)
        for k in self._designation_keys.pop(enterprise_id, ()):
            del self.designations[k]
        for k in self._member_keys.pop(enterprise_id, ()):
            del self.members[k]


@lru_cache(maxsize=65536)
def aggregate_key(originator_id: UUID) -> str:
    """The text key of an aggregate id (cached: a batch folds many events per aggregate)."""
    return str(originator_id)


def _iso(d: Any) -> str | None:
    return None if d is None else d.isoformat()


def apply_event(state: PoolState, ev: Any, position: int = 0) -> None:
    """Fold one domain event at ledger ``position`` into ``state``.  Events of other
    aggregates are ignored."""
    fold(state, ev, aggregate_key(ev.originator_id), type(ev).__name__, position)


def fold(state: PoolState, ev: Any, eid: str, kind: str, position: int) -> None:
    """:func:`apply_event` given the event's aggregate key ``eid`` and class name ``kind``
    (the read model's fold computes both once per event for every projection)."""
    handler = _HANDLERS.get(kind)
    if handler is None:
        return
    on = ev.occurred_on.isoformat()
    ent = state.enterprises.get(eid)
    if ent is not None and on < ent.dated_to:
        if state.history is not None and state.track:
            refold(state, eid, state.history(eid, ev.originator_version), position)
            return
        state.backdated[eid] = ev.originator_version
    handler(state, ev, eid, position, on)
    ent = state.enterprises.get(eid)
    if ent is not None and on > ent.dated_to:
        ent.dated_to = on
        state.dated.add(eid)


def refold(state: PoolState, eid: str, events: list[Any], position: int) -> None:
    """Replace the rows of enterprise ``eid`` in ``state`` and all their versions by its
    :func:`timeline` from ``events`` (its events in ledger order, up to the one being folded)."""
    fresh = timeline(events, position)
    for k in [k for k in state.versions if k[1] == eid or k[1].startswith(f"{eid}/")]:
        del state.versions[k]
    for kind, row in fresh.rows_of(eid):
        state.add(kind, row)
    state.dirty |= fresh.dirty
    state.dated |= fresh.dated
    state.versions.update(fresh.versions)
    state.refolded.add(eid)


def timeline(events: Iterable[Any], position: int) -> PoolState:
    """The rows of one enterprise and all their versions, from its events (in ledger order):
    the version standing on a date D is the fold of the events dated on or before D.  Used
    when an event came dated before facts already folded.  The rows' ``changed_at`` is
    ``position``; every row is marked changed and ``versions`` holds every version.

    >>> from types import SimpleNamespace as E
    >>> from uuid import uuid4
    >>> oid, d = uuid4(), date.fromisoformat
    >>> reg = type("Registered", (), {})()
    >>> reg.__dict__.update(originator_id=oid, originator_version=1, occurred_on=d("2020-01-01"), uscc="U",
    ...                     name="甲", region="211402", listed=False)
    >>> ren = type("ChangeReported", (), {})()
    >>> ren.__dict__.update(originator_id=oid, originator_version=2, occurred_on=d("2024-03-01"), kind="rename",
    ...     changed_on=d("2024-02-20"), late=False, new_name="乙", new_region=None, reconfirmation=[])
    >>> st = timeline([reg, ren], 7)
    >>> sorted((k[2], v.row.name, v.until) for k, v in st.versions.items())
    [('2020-01-01', '甲', '2024-03-01'), ('2024-03-01', '乙', None)]
    """
    events = list(events)
    eid = aggregate_key(events[0].originator_id)
    dates = sorted({ev.occurred_on.isoformat() for ev in events})
    last: dict[tuple[str, str], tuple[str, tuple[Any, ...], Any]] = {}  # (kind, key): since, content, row
    out = PoolState()
    st = out
    for x in dates:
        st = PoolState(track=False)
        for ev in events:
            if ev.occurred_on.isoformat() <= x:
                fold(st, ev, eid, type(ev).__name__, position)
        for kind, row in st.rows_of(eid):
            key = row.enterprise_id if kind == "enterprise" else row.key
            content = _content(row)
            prev = last.get((kind, key))
            if prev is None or prev[1] != content:
                if prev is not None:
                    out.versions[(kind, key, prev[0])] = Version(prev[2], x)
                last[(kind, key)] = (x, content, row)
    for kind, row in st.rows_of(eid):  # the last fold saw every event: the rows as they now stand
        key = row.enterprise_id if kind == "enterprise" else row.key
        row.since = last[(kind, key)][0]
        if kind == "designation":
            row.changed_at = position
        out.versions[(kind, key, row.since)] = Version(msgspec.structs.replace(row), None)
        out.add(kind, row)
        out.dirty.add((kind, key))
    for (kind, key, since), v in list(out.versions.items()):  # each version dated by when it began
        if v.row.since != since:
            out.versions[(kind, key, since)] = Version(msgspec.structs.replace(v.row, since=since), v.until)
    return out


def _content(row: Any) -> tuple[Any, ...]:
    """What a version stands for: the row's fields but its date, position and reach."""
    fields = row.__struct_fields__
    return tuple(v for f, v in zip(fields, msgspec.structs.astuple(row))
                 if f not in ("since", "changed_at", "dated_to"))


def _registered(state: PoolState, ev: Any, eid: str, position: int, on: str) -> None:
    state.enterprises[eid] = EnterpriseRow(enterprise_id=eid, uscc=ev.uscc, name=ev.name, region=ev.region,
                                           listed=ev.listed, since=on, dated_to=on)
    state.dirty.add(("enterprise", eid))


def _applied(state: PoolState, ev: Any, eid: str, position: int, on: str) -> None:
    ent = state.enterprises.get(eid)
    if ent is None:
        return  # budgets, journal entries
    key = f"{eid}/{ev.application_id}"
    state.add_designation(Designation(
        key=key, enterprise_id=eid, uscc=ent.uscc, name=ent.name, region=ent.region, programme=ev.programme,
        tier=ev.tier, level=ev.level, application_id=ev.application_id, product_id=ev.product_id,
        product_name=ev.product_name, applied_on=on, changed_at=position, since=on))
    state.dirty.add(("designation", key))


def _designation(state: PoolState, ev: Any, eid: str, position: int, on: str) -> Designation | None:
    """The designation an event of an application changes, marked changed at ``position``."""
    if eid not in state.enterprises:
        return None
    d = state.designations.get(f"{eid}/{ev.application_id}")
    if d is None:
        return None
    state.change("designation", d, on)
    d.changed_at = position
    return d


def _status(status: str) -> Callable[[PoolState, Any, str, int, str], None]:
    """The fold of an event that only moves its application to ``status``."""
    def handler(state: PoolState, ev: Any, eid: str, position: int, on: str) -> None:
        d = _designation(state, ev, eid, position, on)
        if d is not None:
            d.status = status
    return handler


def _recommended(state: PoolState, ev: Any, eid: str, position: int, on: str) -> None:
    d = _designation(state, ev, eid, position, on)
    if d is not None:
        d.status = "recommended"
        if ev.batch is not None:
            d.recommended_batch = ev.batch


def _approved(state: PoolState, ev: Any, eid: str, position: int, on: str) -> None:
    d = _designation(state, ev, eid, position, on)
    if d is not None:
        d.status = "approved"
        d.set_validity(_iso(ev.valid_from), _iso(ev.valid_until))
        d.document = ev.document
        d.decided_by = ev.actor.authority
        d.approved_on = on
        d.batch = ev.batch


def _revoked(state: PoolState, ev: Any, eid: str, position: int, on: str) -> None:
    d = _designation(state, ev, eid, position, on)
    if d is not None:
        d.revoked_on = _iso(ev.effective_on)
        d.revocation_reason = ev.reason


def _reconfirmed(state: PoolState, ev: Any, eid: str, position: int, on: str) -> None:
    d = _designation(state, ev, eid, position, on)
    if d is not None:
        d.under_reconfirmation = False
        if not ev.confirmed:
            d.ended_on = on


def _reviewed(state: PoolState, ev: Any, eid: str, position: int, on: str) -> None:
    d = _designation(state, ev, eid, position, on)
    if d is None:
        return
    if not ev.passed:
        d.review_failed = True
    elif ev.new_application_id is None:
        d.set_validity(d.valid_from, _iso(ev.valid_until))
    else:
        nkey = f"{eid}/{ev.new_application_id}"
        renewal = Designation(
            key=nkey, enterprise_id=eid, uscc=d.uscc, name=d.name, region=d.region, programme=d.programme,
            tier=d.tier, level=d.level, application_id=ev.new_application_id, status="approved",
            product_id=d.product_id, product_name=d.product_name, applied_on=on,
            renewal_of=d.application_id, document=ev.document, decided_by=ev.actor.authority, approved_on=on,
            changed_at=position, since=on)
        renewal.set_validity(d.valid_until, _iso(ev.valid_until))
        state.add_designation(renewal)
        d.replaced_by = ev.new_application_id
        state.dirty.add(("designation", nkey))


def _yearly_data_filed(state: PoolState, ev: Any, eid: str, position: int, on: str) -> None:
    ent = state.enterprises.get(eid)
    if ent is None:
        return
    state.change("enterprise", ent, on)
    ent.filed_years = ",".join(filter(None, [ent.filed_years, f"{ev.data_year}{'L' if ev.late else ''}"]))


def _change_reported(state: PoolState, ev: Any, eid: str, position: int, on: str) -> None:
    ent = state.enterprises.get(eid)
    if ent is None:
        return
    state.change("enterprise", ent, on)
    if ev.late:
        ent.late_changes = ",".join(filter(None, [ent.late_changes, f"{ev.kind}:{ev.changed_on.isoformat()}"]))
    if ev.new_name:
        ent.name = ev.new_name
    if ev.kind == "relocation" and ev.new_region:
        ent.region = ev.new_region
    if ev.kind in ("listing", "delisting"):
        ent.listed = ev.kind == "listing"
    for d in state.designations_of(eid):
        if (d.name, d.region) != (ent.name, ent.region) or d.application_id in ev.reconfirmation:
            state.change("designation", d, on)
            d.name, d.region = ent.name, ent.region
            if d.application_id in ev.reconfirmation:
                d.under_reconfirmation = True
            d.changed_at = position
    for m in state.members_of(eid):
        if (m.name, m.region) != (ent.name, ent.region):
            state.change("member", m, on)
            m.name, m.region = ent.name, ent.region


def _chain_tagged(state: PoolState, ev: Any, eid: str, position: int, on: str) -> None:
    ent = state.enterprises.get(eid)
    if ent is None:
        return
    state.change("enterprise", ent, on)
    key = f"{ev.programme}/{ev.chain}"
    tags = [t for t in ent.chains.split(",") if t and t != key] + ([key] if ev.tagged else [])
    ent.chains = ",".join(sorted(tags))


def _admitted_to_pool(state: PoolState, ev: Any, eid: str, position: int, on: str) -> None:
    ent = state.enterprises.get(eid)
    if ent is None:
        return
    key = f"{eid}/{ev.programme}/{ev.tier}"
    m = state.members.get(key)
    if m is not None:  # admitted again after a removal: the membership starts anew
        state.change("member", m, on)
        m.admitted_on, m.removed_on, m.name, m.region = on, None, ent.name, ent.region
    else:
        state.add_member(PoolMember(key=key, enterprise_id=eid, uscc=ent.uscc, name=ent.name, region=ent.region,
                                    programme=ev.programme, tier=ev.tier, admitted_on=on, since=on))
    state.dirty.add(("member", key))


def _removed_from_pool(state: PoolState, ev: Any, eid: str, position: int, on: str) -> None:
    if eid not in state.enterprises:
        return
    m = state.members.get(f"{eid}/{ev.programme}/{ev.tier}")
    if m is None:
        return
    state.change("member", m, on)
    m.removed_on = on


_HANDLERS = {
    "Registered": _registered,
    "Applied": _applied,
    "Recommended": _recommended,
    "Assessed": _status("assessed"),
    "NoticeOpened": _status("noticed"),
    "Approved": _approved,
    "Rejected": _status("rejected"),
    "Withdrawn": _status("withdrawn"),
    "Annulled": _status("annulled"),
    "Revoked": _revoked,
    "Reconfirmed": _reconfirmed,
    "Reviewed": _reviewed,
    "YearlyDataFiled": _yearly_data_filed,
    "ChangeReported": _change_reported,
    "ChainTagged": _chain_tagged,
    "AdmittedToPool": _admitted_to_pool,
    "RemovedFromPool": _removed_from_pool,
}
