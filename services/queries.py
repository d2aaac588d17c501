"""Read-model queries as messages: what a consumer that talks NATS only may ask.

``cultivation.query.pool`` (an endpoint of the command service) takes a :class:`PoolQuery`
and answers with a :class:`PoolAnswer`: the same items ``cultivation --json pool`` prints,
from the same :class:`~infra.readmodel.ReadModel` queries, each row as it stood on
``as_of`` (the read model keeps every row as versions over business time).  A query is
checked at the edge like a command, and a mistake names its field:

>>> decode_pool_query(b'{"tier": "little_giant", "as_of": "2024-02-30"}')
Traceback (most recent call last):
...
services.commands.InputError: $.as_of: Invalid RFC3339 encoded date
>>> decode_pool_query(b'{"tier": "little_giant", "as_of": "2024-02-01", "colour": "red"}')
Traceback (most recent call last):
...
services.commands.InputError: $: Object contains unknown field `colour`
>>> decode_pool_query(b'{"tier": "little_giant", "as_of": "0999-01-01"}')
Traceback (most recent call last):
...
services.commands.InputError: $.as_of: 0999-01-01 is outside the dates a ledger can answer for (1900-01-01 to 2199-12-31)
>>> q = decode_pool_query(b'{"tier": "specialized", "as_of": "2022-03-01", "region": "211400"}')
>>> q.stage, q.count, q.level, q.region
('designated', 'valid', None, '211400')

Beside "valid on D" (``count: "valid"``, the default) a query may count the subjects ever
designated up to D (``"ever"``) or newly designated in a year (``"new"``, with ``year``; its
default is the year of ``as_of``); docs/domain.md, "Three counts":

>>> decode_pool_query(b'{"tier": "product", "as_of": "2016-12-31", "count": "ever"}').count
'ever'
>>> decode_pool_query(b'{"tier": "product", "as_of": "2016-12-31", "count": "new", "year": 2017}')
Traceback (most recent call last):
...
services.commands.InputError: $.year: 2017 is after as_of 2016-12-31 (newly designated in a year is counted up to as_of)
>>> decode_pool_query(b'{"tier": "product", "as_of": "2016-12-31", "year": 2016}')
Traceback (most recent call last):
...
services.commands.InputError: $.year: a year goes with count "new" only
>>> decode_pool_query(b'{"tier": "product", "as_of": "2016-12-31", "stage": "pooled", "count": "ever"}')
Traceback (most recent call last):
...
services.commands.InputError: $.count: the cultivation pool (stage pooled) is counted on its date only (count valid)
"""  # noqa: E501 (a doctest's expected output is one line)

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from domain.values import Actor, Level, RegionCode
from services.commands import Ident, InputError, Uscc, input_error, unknown_choice

# The business dates a query may name (the CLI's --as-of and a PoolQuery's as_of alike).
QUERY_DATES = (date(1900, 1, 1), date(2199, 12, 31))


def check_query_date(d: date, field: str) -> None:
    """``d`` inside :data:`QUERY_DATES`, else :class:`InputError` naming ``field``."""
    if not QUERY_DATES[0] <= d <= QUERY_DATES[1]:
        raise InputError(field, f"{d.isoformat()} is outside the dates a ledger can answer for "
                                f"({QUERY_DATES[0]} to {QUERY_DATES[1]})")


def known_tiers(policy: Any) -> set[str]:
    """Every tier of every version of every programme of the policy book."""
    return {t.id for p in policy.programme_ids() for v in policy.versions(p) for t in v.tiers}


def tier_labels(policy: Any) -> dict[str, str]:
    """Every tier of the policy book with its Chinese names (a tier id two programmes share,
    little_giant of national and of liaoning, with both names)."""
    labels: dict[str, list[str]] = {}
    for pid in policy.programme_ids():
        for v in policy.versions(pid):
            for t in v.tiers:
                names = labels.setdefault(t.id, [])
                if t.name not in names:
                    names.append(t.name)
    return {k: " / ".join(v) for k, v in sorted(labels.items())}


def check_tier(tier: str, policy: Any, field: str) -> None:
    """An unknown tier is malformed input naming ``field`` (a query of it would answer nothing),
    answered with the known ones and their Chinese names (a Chinese name with its identifier)."""
    if tier not in known_tiers(policy):
        raise InputError(field, unknown_choice(tier, tier_labels(policy), "tier"))


# What a pool query counts (docs/domain.md, "Three counts"): designations valid on the date,
# subjects ever designated up to it, or subjects newly designated in a year (up to the date).
COUNTS: dict[str, str] = {
    "valid": "valid on the date (rule 4): the pool as it stands",
    "ever": "ever designated up to the date: subjects with an approval on or before it, whatever happened after",
    "new": "newly designated in a year (--year, default the date's year): subjects whose first approval falls in it",
}
Count = Literal["valid", "ever", "new"]
Year = Annotated[int, msgspec.Meta(ge=QUERY_DATES[0].year, le=QUERY_DATES[1].year)]


def check_count(count: str, year: int | None, as_of: date, stage: str, prefix: str = "$.") -> int | None:
    """The year a count is for (None but for ``new``; its default is the year of ``as_of``),
    or :class:`InputError` naming the field (``prefix`` + name: ``$.year``, or ``--year``)."""
    if stage == "pooled" and count != "valid":
        raise InputError(f"{prefix}count", "the cultivation pool (stage pooled) is counted on its date only "
                                           "(count valid)")
    if count != "new":
        if year is not None:
            raise InputError(f"{prefix}year", 'a year goes with count "new" only')
        return None
    year = as_of.year if year is None else year
    if year > as_of.year:
        raise InputError(f"{prefix}year", f"{year} is after as_of {as_of.isoformat()} (newly designated in a "
                                          f"year is counted up to as_of)")
    return year


def parse_moment(value: str, field: str) -> str:
    """A ledger time (ISO 8601) as the chain table keeps it (UTC, fixed width): the one
    reading of ``--as-recorded`` and of a query's ``as_recorded``.  A date alone means the end
    of that day in UTC; a time without zone is UTC.

    >>> parse_moment("2024-03-01", "$.as_recorded"), parse_moment("2024-03-01T08:00:00+08:00", "x")
    ('2024-03-01T23:59:59.999999Z', '2024-03-01T00:00:00.000000Z')
    >>> parse_moment("yesterday", "$.as_recorded")
    Traceback (most recent call last):
    ...
    services.commands.InputError: $.as_recorded: 'yesterday' is not an ISO 8601 date or time
    """
    from datetime import time as dtime

    from infra.integrity import utc_text

    try:
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), dtime.max, tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(field, f"{value!r} is not an ISO 8601 date or time") from None
    return utc_text(moment)


class RecordedAt(msgspec.Struct, frozen=True):
    """A ledger time a query was answered as of, and the last ledger position recorded by it."""

    time: str
    position: int


def recorded_read_model(ledger: Any, moment: str, progress: Callable[[int, int], None] | None = None
                        ) -> tuple[Any, RecordedAt]:
    """A scratch read model folded up to the last position recorded by ``moment`` (a
    :func:`parse_moment` text): the ledger as it stood then.  The two clocks compose: a query's
    ``as_of`` then picks each row's version on the business date.  It replays the store up to
    that position, so it costs a rebuild of that many events."""
    from infra.integrity import position_recorded_by
    from infra.readmodel import ReadModel

    position = position_recorded_by(ledger, moment)
    rm = ReadModel(ledger, prefix="asrec", follows_store=False, target=":memory:")
    rm.catch_up(progress, upto=position)
    return rm, RecordedAt(time=moment, position=position)


# A page of a pool query: at most this many items (one NATS message carries about 1 MB by
# default, a designation about 600 bytes as JSON); ``after`` is the last item's key.
PAGE_MAX = 1000
Moment = Annotated[str, msgspec.Meta(min_length=10, max_length=40, description=(
    "a ledger time, ISO 8601 (a date alone means its end, UTC; a time without zone is UTC)"))]
ItemKey = Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="the key of the last item of the "
                                                                               "page before (its `next`)")]


class PoolQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``cultivation.query.pool``: the designations of ``tier`` valid on ``as_of`` (stage
    ``designated``), or the members of its cultivation pool (培育库, stage ``pooled``), each
    as it stood on ``as_of``, inside ``region``; ``level`` only with ``designated``.  ``count``
    (:data:`COUNTS`): ``valid`` on ``as_of``, or one row per subject ``ever`` designated up to
    ``as_of`` or ``new`` in ``year`` (the year of ``as_of`` unless told).  ``as_recorded``: as
    the ledger stood at that ledger time (facts recorded later are invisible).  The items come
    in pages of ``limit`` in the order of their keys: ask again with ``after`` set to the
    answer's ``next`` until ``next`` is null."""

    tier: Ident
    as_of: date
    level: Level | None = None
    region: RegionCode | None = None
    programme: Ident | None = None
    stage: Literal["designated", "pooled"] = "designated"
    count: Count = "valid"
    year: Year | None = None
    chain: Annotated[str, msgspec.Meta(pattern=r"\A([a-z][a-z0-9_]*/)?[a-z][a-z0-9_]*\Z", max_length=130)] | None = None
    as_recorded: Moment | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=PAGE_MAX)] = PAGE_MAX
    after: ItemKey | None = None


class PoolAnswer(msgspec.Struct, kw_only=True):
    """The reply: ``position`` is the ledger position the read model had applied when it
    answered (every event up to it counts, as of ``as_of``); with ``as_recorded``, the last
    position recorded by that time.  ``count`` items in this page of ``total``; ``next`` is
    the ``after`` of the next page (null on the last)."""

    ok: bool = True
    as_of: date
    as_recorded: RecordedAt | None = None
    position: int
    count: int
    total: int
    next: str | None = None
    items: list[Any]  # projections.pools.Designation (or PoolMember, stage "pooled"); region_name added on the wire


def decode_query(kind: type[Any], data: bytes | str) -> Any:
    """A query of ``kind`` (a Struct) from its request, an empty request being ``{}``;
    :class:`InputError` naming the bad field.  The one decoding of every query."""
    try:
        return msgspec.json.decode(data or b"{}", type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise input_error(e) from None
    except UnicodeDecodeError:
        raise InputError("$", "not valid UTF-8: JSON text must be UTF-8") from None


def decode_pool_query(data: bytes | str) -> PoolQuery:
    """Decode a pool query; :class:`InputError` naming the bad field (``$.as_of``, ``$.tier``)."""
    q: PoolQuery = decode_query(PoolQuery, data)
    check_query_date(q.as_of, "$.as_of")
    check_count(q.count, q.year, q.as_of, q.stage)
    if q.as_recorded is not None:
        parse_moment(q.as_recorded, "$.as_recorded")
    return q


def pool_items(rm: Any, *, tier: str, as_of: str, level: str | None = None, region: str | None = None,
               programme: str | None = None, stage: str = "designated", count: str = "valid",
               year: int | None = None, chain: str | None = None) -> list[Any]:
    """The rows a pool query answers with (the CLI's ``pool`` and ``cultivation.query.pool``):
    designations valid on ``as_of``; with ``count`` ``ever`` or ``new`` one row per subject,
    its first approval (``ReadModel.designated``); ``chain`` keeps the enterprises tagged on
    that industrial chain on ``as_of``."""
    if stage == "pooled":
        return list(rm.pooled(tier=tier, as_of=as_of, region=region, programme=programme, chain=chain))
    if count in ("ever", "new"):
        if count == "new" and year is None:
            year = int(as_of[:4])
        return list(rm.designated(tier=tier, as_of=as_of, count=count, year=year, level=level, region=region,
                                  programme=programme, chain=chain))
    return list(rm.pool(tier=tier, as_of=as_of, level=level, region=region, programme=programme, chain=chain))


def check_chain(chain: str, policy: Any, field: str) -> None:
    """An unknown chain ("programme/chain" or a chain id) is malformed input naming ``field``."""
    known = {f"{p}/{c.id}" for p in policy.programme_ids() for v in policy.versions(p) for c in v.chains}
    if chain not in known and chain not in {k.partition("/")[2] for k in known}:
        raise InputError(field, f"unknown industrial chain {chain!r} (known: {sorted(known)})")


def count_of(rm: Any, query: dict[str, Any], default_as_of: str) -> int:
    """The figure of one of the demo's pinned queries (``scenarios.demo.EXPECTED``): the keyword
    arguments of :func:`pool_items` (``as_of`` defaults to ``default_as_of``), and
    ``count: "batches"`` for how many batches (第N批) announced approvals of the tier up to
    ``as_of`` (``ReadModel.batches``)."""
    q = dict(query)
    q.setdefault("as_of", default_as_of)
    if q.get("count") == "batches":
        lines = rm.batches(as_of=q["as_of"], region=q.get("region"), programme=q.get("programme"), tier=q["tier"])
        return sum(1 for b in lines if b.approved and (q.get("level") is None or b.level == q["level"]))
    return len(pool_items(rm, **q))


def page(items: list[Any], limit: int, after: str | None) -> tuple[list[Any], str | None]:
    """The page of ``items`` after the key ``after`` (every item has a ``key``), in key order,
    and the ``after`` of the next page (None on the last): :func:`page_of_keys` of their keys.

    >>> class I(msgspec.Struct):
    ...     key: str
    >>> rows = [I("c"), I("a"), I("b")]
    >>> [i.key for i in page(rows, 2, None)[0]], page(rows, 2, None)[1], [i.key for i in page(rows, 2, "b")[0]]
    (['a', 'b'], 'b', ['c'])
    """
    ordered = sorted(items, key=lambda i: i.key)
    start, stop = _page_bounds([i.key for i in ordered], limit, after)
    chunk = ordered[start:stop]
    return chunk, (chunk[-1].key if stop < len(ordered) and chunk else None)


def page_of_keys(keys: list[str], limit: int, after: str | None) -> tuple[list[str], str | None]:
    """The page of ``keys`` (sorted, unique) after the key ``after``, and the ``after`` of the
    next page (None on the last).  Keys make the pages stable: an item never appears on two
    pages of one walk through the same position.

    >>> page_of_keys(["a", "b", "c"], 2, None), page_of_keys(["a", "b", "c"], 2, "b"), page_of_keys(["a"], 2, "zz")
    ((['a', 'b'], 'b'), (['c'], None), ([], None))
    """
    start, stop = _page_bounds(keys, limit, after)
    chunk = keys[start:stop]
    return chunk, (chunk[-1] if stop < len(keys) and chunk else None)


def _page_bounds(keys: list[str], limit: int, after: str | None) -> tuple[int, int]:
    """Where the page of sorted ``keys`` after the key ``after`` starts and stops: the one
    paging rule of :func:`page` and :func:`page_of_keys`."""
    start = 0 if after is None else bisect_right(keys, after)
    return start, start + limit


def answer_pool(rm: Any, policy: Any, q: PoolQuery, as_recorded: RecordedAt | None = None) -> PoolAnswer:
    """Answer ``q`` from ``rm``: the store's own read model (caught up first), or, with
    ``as_recorded``, one folded up to that position (:func:`recorded_read_model`).

    The valid designations of a pool (the default query, without a chain) are paged from
    their keys: the pool's keys from its index, then the rows of the page's keys alone
    (:meth:`~infra.readmodel.ReadModel.pool_page`); the other listings are made whole, then
    paged.  Both page by the same rule (:func:`page_of_keys`)."""
    check_tier(q.tier, policy, "$.tier")
    if q.chain is not None:
        check_chain(q.chain, policy, "$.chain")
    if as_recorded is None:
        rm.catch_up()
        position = rm.position()
    else:
        position = as_recorded.position
    as_of, level = q.as_of.isoformat(), (q.level.value if q.level else None)
    year = check_count(q.count, q.year, q.as_of, q.stage)
    if q.stage == "designated" and q.count == "valid" and q.chain is None:
        keys, chunk = rm.pool_page(tier=q.tier, as_of=as_of, level=level, region=q.region, programme=q.programme,
                                   pick=lambda keys: page_of_keys(keys, q.limit, q.after)[0])
        after, total = page_of_keys(keys, q.limit, q.after)[1], len(keys)
    else:
        items = pool_items(rm, tier=q.tier, as_of=as_of, level=level, region=q.region, programme=q.programme,
                           stage=q.stage, count=q.count, year=year, chain=q.chain)
        chunk, after = page(items, q.limit, q.after)
        total = len(items)
    return PoolAnswer(as_of=q.as_of, as_recorded=as_recorded, position=position, count=len(chunk),
                      total=total, next=after, items=chunk)


# ---------------------------------------------------------------------------- history
class HistoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One event of an enterprise's trail: its business date (``occurred_on``), its ledger
    time (``recorded_at``), who acted under which document, and what it recorded (money in
    fen, ratios in basis points)."""

    version: int
    event_id: UUID
    type: str
    occurred_on: date | None
    recorded_at: datetime
    actor: Actor | None
    document: str
    details: dict[str, Any]


class HistoryQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``cultivation.query.history``: one enterprise's trail, every event of it in order;
    ``as_of`` keeps the facts dated up to that business date, ``as_recorded`` those recorded
    by that ledger time."""

    uscc: Uscc
    as_of: date | None = None
    as_recorded: Moment | None = None


class HistoryAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The reply: the enterprise, and ``count`` events."""

    ok: bool = True
    uscc: str
    name: str
    region: str
    count: int
    events: list[HistoryEntry]


_OWN_FIELDS = ("originator_id", "originator_version", "timestamp", "originator_topic", "occurred_on", "actor",
               "document")


def history(ledger: Any, uscc: str, as_of: date | None = None, as_recorded: str | None = None) -> HistoryAnswer:
    """The enterprise's trail (``cultivation history`` and ``cultivation.query.history``):
    every event of its aggregate in order, those dated after ``as_of`` or recorded after
    ``as_recorded`` (a :func:`parse_moment` text) left out.  An unknown enterprise is
    ``enterprise.not_found`` naming ``uscc``."""
    from domain.enterprise import event_id
    from infra.integrity import utc_text

    ent = ledger.enterprise(uscc)
    entries = []
    for ev in ledger.events.get(ent.id):
        occurred_on = getattr(ev, "occurred_on", None)
        if as_recorded is not None and utc_text(ev.timestamp) > as_recorded:
            continue
        if as_of is not None and occurred_on is not None and occurred_on > as_of:
            continue
        entries.append(HistoryEntry(
            version=ev.originator_version, event_id=event_id(ev.originator_id, ev.originator_version),
            type=type(ev).__name__, occurred_on=occurred_on, recorded_at=ev.timestamp,
            actor=getattr(ev, "actor", None), document=getattr(ev, "document", ""),
            details={k: v for k, v in vars(ev).items() if k not in _OWN_FIELDS}))
    return HistoryAnswer(uscc=uscc, name=ent.name, region=ent.region, count=len(entries), events=entries)


def decode_history_query(data: bytes | str) -> HistoryQuery:
    """Decode a history query; :class:`InputError` naming the bad field.

    >>> decode_history_query(b'{"uscc": "91211400MA0000001"}')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    services.commands.InputError: $.uscc: must be a USCC (统一社会信用代码, GB 32100-2015): 18 characters, ...
    """
    q: HistoryQuery = decode_query(HistoryQuery, data)
    if q.as_of is not None:
        check_query_date(q.as_of, "$.as_of")
    if q.as_recorded is not None:
        parse_moment(q.as_recorded, "$.as_recorded")
    return q
