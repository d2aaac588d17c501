"""The pool projection: every designation and pool membership as rows, from the events.

A pure function of the event sequence.  :func:`apply_event` folds one stored domain
event into :class:`PoolState` rows and returns the keys it changed; the read-model
adapter (``infra.readmodel``) loads the rows an event batch touches, applies the batch,
and writes the rows and its checkpoint in one transaction.  Rebuilding from zero runs
the same function over the whole log.

Validity is not stored as a flag: a designation row keeps ``valid_from``,
``valid_until``, ``revoked_on`` and ``ended_on``, and every query takes a date (rule 4:
expiry follows from time, no event is needed for it).

>>> d = Designation(key="k", enterprise_id="e", uscc="U", name="n", region="211402", programme="national",
...     tier="little_giant", level="national", application_id="a", status="approved",
...     valid_from="2021-07-01", valid_until="2024-07-01")
>>> d.valid_on("2023-06-29"), d.valid_on("2024-07-01")
(True, False)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any
from uuid import UUID

import msgspec


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
    valid_until: str | None = None
    revoked_on: str | None = None
    revocation_reason: str | None = None
    ended_on: str | None = None
    review_failed: bool = False
    renewal_of: str | None = None
    replaced_by: str | None = None
    under_reconfirmation: bool = False
    document: str = ""
    decided_by: str | None = None
    changed_at: int = 0  # ledger position of the last event that changed this row

    def valid_on(self, d: str) -> bool:
        if self.status != "approved" or self.valid_from is None or self.valid_until is None:
            return False
        if not (self.valid_from <= d < self.valid_until):
            return False
        if self.revoked_on is not None and self.revoked_on <= d:
            return False
        return not (self.ended_on is not None and self.ended_on <= d)


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


class EnterpriseRow(msgspec.Struct, kw_only=True):
    enterprise_id: str
    uscc: str
    name: str
    region: str
    listed: bool = False
    filed_years: str = ""  # yearly data filed: "2021,2022L" (L: filed after the deadline)
    late_changes: str = ""  # change reports filed late: "relocation:2023-03-01,..."

    def filed(self, data_year: int) -> bool:
        return any(y.rstrip("L") == str(data_year) for y in self.filed_years.split(",") if y)


class PoolState:
    """The rows an event batch works on, keyed; the adapter fills and drains it.

    Designations and pool members go in through :meth:`add_designation` and
    :meth:`add_member`, which also index them by enterprise (a change report touches every
    row of its enterprise: found through the index, not by scanning every row held)."""

    def __init__(self) -> None:
        self.enterprises: dict[str, EnterpriseRow] = {}
        self.designations: dict[str, Designation] = {}
        self.members: dict[str, PoolMember] = {}
        self.dirty: set[tuple[str, str]] = set()  # (table, key) changed in this batch
        self._designation_keys: dict[str, list[str]] = {}  # enterprise_id: keys of its designations
        self._member_keys: dict[str, list[str]] = {}

    def touch(self, kind: str, key: str) -> None:
        self.dirty.add((kind, key))

    def add_designation(self, d: Designation) -> None:
        if d.key not in self.designations:
            self._designation_keys.setdefault(d.enterprise_id, []).append(d.key)
        self.designations[d.key] = d

    def add_member(self, m: PoolMember) -> None:
        if m.key not in self.members:
            self._member_keys.setdefault(m.enterprise_id, []).append(m.key)
        self.members[m.key] = m

    def designations_of(self, enterprise_id: str) -> list[Designation]:
        return [self.designations[k] for k in self._designation_keys.get(enterprise_id, ())]

    def members_of(self, enterprise_id: str) -> list[PoolMember]:
        return [self.members[k] for k in self._member_keys.get(enterprise_id, ())]

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
    if handler is not None:
        handler(state, ev, eid, position)


def _registered(state: PoolState, ev: Any, eid: str, position: int) -> None:
    state.enterprises[eid] = EnterpriseRow(enterprise_id=eid, uscc=ev.uscc, name=ev.name, region=ev.region,
                                           listed=ev.listed)
    state.dirty.add(("enterprise", eid))


def _applied(state: PoolState, ev: Any, eid: str, position: int) -> None:
    ent = state.enterprises.get(eid)
    if ent is None:
        return  # budgets, journal entries
    key = f"{eid}/{ev.application_id}"
    state.add_designation(Designation(
        key=key, enterprise_id=eid, uscc=ent.uscc, name=ent.name, region=ent.region, programme=ev.programme,
        tier=ev.tier, level=ev.level, application_id=ev.application_id, product_id=ev.product_id,
        product_name=ev.product_name, applied_on=_iso(ev.occurred_on), changed_at=position))
    state.dirty.add(("designation", key))


def _designation(state: PoolState, ev: Any, eid: str, position: int) -> Designation | None:
    """The designation an event of an application changes, marked changed at ``position``."""
    if eid not in state.enterprises:
        return None
    key = f"{eid}/{ev.application_id}"
    d = state.designations[key]
    state.dirty.add(("designation", key))
    d.changed_at = position
    return d


def _status(status: str) -> Callable[[PoolState, Any, str, int], None]:
    """The fold of an event that only moves its application to ``status``."""
    def handler(state: PoolState, ev: Any, eid: str, position: int) -> None:
        d = _designation(state, ev, eid, position)
        if d is not None:
            d.status = status
    return handler


def _approved(state: PoolState, ev: Any, eid: str, position: int) -> None:
    d = _designation(state, ev, eid, position)
    if d is not None:
        d.status = "approved"
        d.valid_from = _iso(ev.valid_from)
        d.valid_until = _iso(ev.valid_until)
        d.document = ev.document
        d.decided_by = ev.actor.authority


def _revoked(state: PoolState, ev: Any, eid: str, position: int) -> None:
    d = _designation(state, ev, eid, position)
    if d is not None:
        d.revoked_on = _iso(ev.effective_on)
        d.revocation_reason = ev.reason


def _reconfirmed(state: PoolState, ev: Any, eid: str, position: int) -> None:
    d = _designation(state, ev, eid, position)
    if d is not None:
        d.under_reconfirmation = False
        if not ev.confirmed:
            d.ended_on = _iso(ev.occurred_on)


def _reviewed(state: PoolState, ev: Any, eid: str, position: int) -> None:
    d = _designation(state, ev, eid, position)
    if d is None:
        return
    if not ev.passed:
        d.review_failed = True
    elif ev.new_application_id is None:
        d.valid_until = _iso(ev.valid_until)
    else:
        nkey = f"{eid}/{ev.new_application_id}"
        state.add_designation(Designation(
            key=nkey, enterprise_id=eid, uscc=d.uscc, name=d.name, region=d.region, programme=d.programme,
            tier=d.tier, level=d.level, application_id=ev.new_application_id, status="approved",
            product_id=d.product_id, product_name=d.product_name, applied_on=_iso(ev.occurred_on),
            valid_from=d.valid_until, valid_until=_iso(ev.valid_until), renewal_of=d.application_id,
            document=ev.document, decided_by=ev.actor.authority, changed_at=position))
        d.replaced_by = ev.new_application_id
        state.dirty.add(("designation", nkey))


def _yearly_data_filed(state: PoolState, ev: Any, eid: str, position: int) -> None:
    ent = state.enterprises.get(eid)
    if ent is None:
        return
    ent.filed_years = ",".join(filter(None, [ent.filed_years, f"{ev.data_year}{'L' if ev.late else ''}"]))
    state.dirty.add(("enterprise", eid))


def _change_reported(state: PoolState, ev: Any, eid: str, position: int) -> None:
    ent = state.enterprises.get(eid)
    if ent is None:
        return
    if ev.late:
        ent.late_changes = ",".join(filter(None, [ent.late_changes, f"{ev.kind}:{ev.changed_on.isoformat()}"]))
    if ev.new_name:
        ent.name = ev.new_name
    if ev.kind == "relocation" and ev.new_region:
        ent.region = ev.new_region
    if ev.kind in ("listing", "delisting"):
        ent.listed = ev.kind == "listing"
    state.dirty.add(("enterprise", eid))
    for d in state.designations_of(eid):
        d.name, d.region = ent.name, ent.region
        if d.application_id in ev.reconfirmation:
            d.under_reconfirmation = True
        d.changed_at = position
        state.dirty.add(("designation", d.key))
    for m in state.members_of(eid):
        m.name, m.region = ent.name, ent.region
        state.dirty.add(("member", m.key))


def _admitted_to_pool(state: PoolState, ev: Any, eid: str, position: int) -> None:
    ent = state.enterprises.get(eid)
    if ent is None:
        return
    key = f"{eid}/{ev.programme}/{ev.tier}"
    state.add_member(PoolMember(key=key, enterprise_id=eid, uscc=ent.uscc, name=ent.name, region=ent.region,
                                programme=ev.programme, tier=ev.tier, admitted_on=_iso(ev.occurred_on) or ""))
    state.dirty.add(("member", key))


def _removed_from_pool(state: PoolState, ev: Any, eid: str, position: int) -> None:
    if eid not in state.enterprises:
        return
    key = f"{eid}/{ev.programme}/{ev.tier}"
    state.members[key].removed_on = _iso(ev.occurred_on)
    state.dirty.add(("member", key))


_HANDLERS = {
    "Registered": _registered,
    "Applied": _applied,
    "Recommended": _status("recommended"),
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
    "AdmittedToPool": _admitted_to_pool,
    "RemovedFromPool": _removed_from_pool,
}
