"""Audit-trail entries and activity statistics: pure functions of one event and the pool
rows it touches.

An audit entry is what an auditor reads on ``cultivation.audit.<uscc>``: who did what, on
which business date, recorded when, under which document, and which event it corrects.
A statistics key counts events by province, tier, type and business year.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

import msgspec

from domain.enterprise import event_id_text
from projections.pools import EnterpriseRow, PoolState, aggregate_key


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    position: int
    event_id: str  # the event's id (uuid5 of aggregate and version), as text
    uscc: str
    type: str
    occurred_on: str | None
    recorded_at: str
    authority: str | None
    person: str | None
    document: str
    application_id: str | None = None
    tier: str | None = None
    corrects: UUID | None = None


def tier_of(state: PoolState, eid: str, ev: Any) -> str | None:
    """The tier an event of enterprise ``eid`` is about: its own, else its application's."""
    tier = getattr(ev, "tier", None)
    if tier:
        return cast(str, tier)
    app = getattr(ev, "application_id", None)
    row = state.designations.get(f"{eid}/{app}") if app else None
    return row.tier if row else None


def audit_values(position: int, ev: Any, eid: str, ent: EnterpriseRow, tier: str | None) -> tuple[Any, ...]:
    """The fields of the audit entry of event ``ev`` of enterprise row ``ent``, in
    :class:`AuditEntry` field order (``tier`` from :func:`tier_of`): the read model writes
    these tuples straight into its table."""
    actor = getattr(ev, "actor", None)
    occurred = getattr(ev, "occurred_on", None)
    return (position, event_id_text(eid, ev.originator_version), ent.uscc, type(ev).__name__,
            occurred.isoformat() if occurred else None, ev.timestamp.isoformat(),
            actor.authority if actor else None, actor.person if actor else None, getattr(ev, "document", ""),
            getattr(ev, "application_id", None), tier, getattr(ev, "corrects", None))


_FIELDS = AuditEntry.__struct_fields__


def audit_entry(position: int, ev: Any, state: PoolState) -> AuditEntry | None:
    """The audit entry of an enterprise's event (``None`` for budgets and the journal)."""
    eid = aggregate_key(ev.originator_id)
    ent = state.enterprises.get(eid)
    if ent is None:
        return None
    return AuditEntry(**dict(zip(_FIELDS, audit_values(position, ev, eid, ent, tier_of(state, eid, ev)))))


def stat_key(ev: Any, state: PoolState) -> tuple[str, str, str, int] | None:
    """(province, tier, event type, business year) an event counts under."""
    eid = aggregate_key(ev.originator_id)
    ent = state.enterprises.get(eid)
    occurred = getattr(ev, "occurred_on", None)
    if ent is None or occurred is None:
        return None
    return (ent.region[:2] + "0000", tier_of(state, eid, ev) or "_", type(ev).__name__, occurred.year)
