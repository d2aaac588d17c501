"""The members of a group (集团): the enterprises that name one group parent or controlling
enterprise (``group_uscc``) at registration or with ``record_group``.

The ``same_group`` bar (2026 little giants: 与已认定"小巨人"企业同一集团或受同一控制且主导产品相似)
needs, at a recommendation, the other enterprises of the applicant's group.  An enterprise
aggregate reads no other aggregate, so the members are kept here, one aggregate per group,
written in the same transaction as the enterprise's own event, and read by the service layer
(``services.handlers``), which passes the members' designations to ``Enterprise.recommend``
as facts.

>>> from datetime import date
>>> from domain.values import Actor
>>> g = Group.open(group_uscc="91110000MA0000001X")
>>> city = Actor(authority="211400", person="city")
>>> g.join(uscc="A", on=date(2024, 1, 1), actor=city, document="")
>>> g.leave(uscc="A", on=date(2025, 1, 1), actor=city, document="")
>>> g.members_on(date(2024, 6, 1)), g.members_on(date(2025, 1, 1))
(['A'], [])
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID, uuid5

import msgspec
from eventsourcing.domain import Aggregate, event

from domain.enterprise import LEDGER_NAMESPACE, SNAPSHOT_RENAME
from domain.values import Actor


def group_id(group_uscc: str) -> UUID:
    """The aggregate id of the group of parent (or controlling enterprise) ``group_uscc``."""
    return uuid5(LEDGER_NAMESPACE, f"group:{group_uscc}")


class Membership(msgspec.Struct, kw_only=True):
    since: date
    until: date | None = None  # exclusive; None: still a member


class GroupState(msgspec.Struct, kw_only=True, rename=SNAPSHOT_RENAME):
    """The typed state of a :class:`Group` in a snapshot."""

    created_on: datetime
    modified_on: datetime
    group_uscc: str
    members: dict[str, list[Membership]]


class Group(Aggregate):
    """One group (集团) and its members over time."""

    SnapshotState = GroupState

    @staticmethod
    def create_id(group_uscc: str, **_: object) -> UUID:
        return group_id(group_uscc)

    @classmethod
    def open(cls, *, group_uscc: str) -> Group:
        return cls._create(cls.GroupOpened, group_uscc=group_uscc)

    class GroupOpened(Aggregate.Created):
        group_uscc: str

    def __init__(self, *, group_uscc: str):
        self.group_uscc = group_uscc
        self.members: dict[str, list[Membership]] = {}

    def join(self, *, uscc: str, on: date, actor: Actor, document: str) -> None:
        """Enterprise ``uscc`` belongs to the group from ``on`` (the enterprise's method checked it)."""
        self._member_joined(uscc=uscc, occurred_on=on, actor=actor, document=document)

    @event("MemberJoined")
    def _member_joined(self, uscc: str, occurred_on: date, actor: Actor, document: str) -> None:
        self.members = {**self.members, uscc: [*self.members.get(uscc, ()), Membership(since=occurred_on)]}

    def leave(self, *, uscc: str, on: date, actor: Actor, document: str) -> None:
        """Enterprise ``uscc`` no longer belongs to the group from ``on``."""
        self._member_left(uscc=uscc, occurred_on=on, actor=actor, document=document)

    @event("MemberLeft")
    def _member_left(self, uscc: str, occurred_on: date, actor: Actor, document: str) -> None:
        spans = self.members.get(uscc)
        if spans and spans[-1].until is None:
            spans[-1].until = occurred_on

    def members_on(self, on: date) -> list[str]:
        """The members of the group on business date ``on``, sorted."""
        return sorted(u for u, spans in self.members.items()
                      if any(s.since <= on and (s.until is None or on < s.until) for s in spans))
