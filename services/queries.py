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
>>> q.stage, q.level, q.region
('designated', None, '211400')
"""  # noqa: E501 (a doctest's expected output is one line)

from __future__ import annotations

from datetime import date
from typing import Any, Literal, cast

import msgspec

from domain.regions import name_regions
from domain.values import Level, RegionCode
from services.commands import Ident, InputError, input_error

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


def check_tier(tier: str, policy: Any, field: str) -> None:
    """An unknown tier is malformed input naming ``field`` (a query of it would answer nothing)."""
    known = known_tiers(policy)
    if tier not in known:
        raise InputError(field, f"unknown tier {tier!r} (known: {sorted(known)})")


class PoolQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``cultivation.query.pool``: the designations of ``tier`` valid on ``as_of`` (stage
    ``designated``), or the members of its cultivation pool (培育库, stage ``pooled``), each
    as it stood on ``as_of``, inside ``region``; ``level`` only with ``designated``."""

    tier: Ident
    as_of: date
    level: Level | None = None
    region: RegionCode | None = None
    programme: Ident | None = None
    stage: Literal["designated", "pooled"] = "designated"


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
    return q


def pool_items(rm: Any, *, tier: str, as_of: str, level: str | None = None, region: str | None = None,
               programme: str | None = None, stage: str = "designated") -> list[Any]:
    """The rows a pool query answers with (the CLI's ``pool`` and ``cultivation.query.pool``)."""
    if stage == "pooled":
        return list(rm.pooled(tier=tier, as_of=as_of, region=region, programme=programme))
    return list(rm.pool(tier=tier, as_of=as_of, level=level, region=region, programme=programme))


def answer_pool(rm: Any, policy: Any, q: PoolQuery) -> PoolAnswer:
    """Answer ``q`` from ``rm`` (a read model that follows the store: caught up first)."""
    check_tier(q.tier, policy, "$.tier")
    rm.catch_up()
    position = rm.position()
    items = pool_items(rm, tier=q.tier, as_of=q.as_of.isoformat(), level=q.level.value if q.level else None,
                       region=q.region, programme=q.programme, stage=q.stage)
    # Each item as the CLI's --json prints it: with region_name beside its region code.
    named = cast(list[Any], name_regions(msgspec.to_builtins(items)))
    return PoolAnswer(as_of=q.as_of, position=position, count=len(items), items=named)
