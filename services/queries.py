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

from datetime import date
from typing import Annotated, Any, Literal, cast

import msgspec

from domain.regions import name_regions
from domain.values import Level, RegionCode
from services.commands import Ident, InputError, input_error, unknown_choice

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


class PoolQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``cultivation.query.pool``: the designations of ``tier`` valid on ``as_of`` (stage
    ``designated``), or the members of its cultivation pool (培育库, stage ``pooled``), each
    as it stood on ``as_of``, inside ``region``; ``level`` only with ``designated``.  ``count``
    (:data:`COUNTS`): ``valid`` on ``as_of``, or one row per subject ``ever`` designated up to
    ``as_of`` or ``new`` in ``year`` (the year of ``as_of`` unless told)."""

    tier: Ident
    as_of: date
    level: Level | None = None
    region: RegionCode | None = None
    programme: Ident | None = None
    stage: Literal["designated", "pooled"] = "designated"
    count: Count = "valid"
    year: Year | None = None
    chain: Annotated[str, msgspec.Meta(pattern=r"\A([a-z][a-z0-9_]*/)?[a-z][a-z0-9_]*\Z", max_length=130)] | None = None


class PoolAnswer(msgspec.Struct, kw_only=True):
    """The reply: ``position`` is the ledger position the read model had applied when it
    answered (every event up to it counts, as of ``as_of``)."""

    ok: bool = True
    as_of: date
    position: int
    count: int
    items: list[Any]  # projections.pools.Designation (or PoolMember, stage "pooled") as JSON, with region_name


_decoder = msgspec.json.Decoder(PoolQuery)


def decode_pool_query(data: bytes | str) -> PoolQuery:
    """Decode a pool query; :class:`InputError` naming the bad field (``$.as_of``, ``$.tier``)."""
    try:
        q = _decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise input_error(e) from None
    except UnicodeDecodeError:
        raise InputError("$", "not valid UTF-8: JSON text must be UTF-8") from None
    check_query_date(q.as_of, "$.as_of")
    check_count(q.count, q.year, q.as_of, q.stage)
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


def answer_pool(rm: Any, policy: Any, q: PoolQuery) -> PoolAnswer:
    """Answer ``q`` from ``rm`` (a read model that follows the store: caught up first)."""
    check_tier(q.tier, policy, "$.tier")
    if q.chain is not None:
        check_chain(q.chain, policy, "$.chain")
    rm.catch_up()
    position = rm.position()
    items = pool_items(rm, tier=q.tier, as_of=q.as_of.isoformat(), level=q.level.value if q.level else None,
                       region=q.region, programme=q.programme, stage=q.stage, count=q.count,
                       year=check_count(q.count, q.year, q.as_of, q.stage), chain=q.chain)
    # Each item as the CLI's --json prints it: with region_name beside its region code.
    named = cast(list[Any], name_regions(msgspec.to_builtins(items)))
    return PoolAnswer(as_of=q.as_of, position=position, count=len(items), items=named)
