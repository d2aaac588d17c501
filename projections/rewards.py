"""The rewards projection: every reward (奖补) and every scheme's yearly budget as rows.

A pure fold like :mod:`projections.pools`.  :func:`apply_event` folds one stored domain
event into :class:`RewardState` and marks the rows it changed; the read-model adapter
(``infra.readmodel``) loads the rows a batch touches (rewards by enterprise, budgets by
their aggregate id), applies the batch and writes the rows with its checkpoint in one
transaction, so rebuilding from zero and catching up run the same code.

- :class:`RewardRow`: one per reward, from ``RewardGranted`` and its ``RewardClawedBack``
  corrections.  The region is the enterprise's *at the grant* (a later relocation does not
  move money already paid); the year is the grant's, because a claw-back is refunded to
  the budget of the year the reward was paid from (``services.ledger``).
- :class:`BudgetRow`: one per :class:`~domain.budget.SchemeBudget` (programme, scheme,
  calendar year), from its ``Opened``, ``Spent`` and ``Refunded`` events.

Money is integer fen.  Claw-backs keep their business dates, so every sum can be taken
as of a date:

>>> r = RewardRow(key="e/r", enterprise_id="e", reward_id="r", uscc="U", name="n", region="211402",
...     programme="liaoning", scheme="s", year=2021, granted_on="2021-03-10", amount_fen=500,
...     claw_backs="2023-03-15:200")
>>> r.clawed_back_on("2023-03-14"), r.clawed_back_on("2023-03-15")
(0, 200)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, cast

import msgspec

from domain.budget import SchemeBudget
from projections.pools import EnterpriseRow, aggregate_key


class RewardRow(msgspec.Struct, kw_only=True):
    """One reward paid to one enterprise under one scheme."""

    key: str  # enterprise_id/reward_id
    enterprise_id: str
    reward_id: str
    uscc: str
    name: str
    region: str  # the enterprise's region on the grant date
    programme: str
    scheme: str
    year: int  # the budget year: the grant's calendar year
    granted_on: str  # ISO date
    amount_fen: int
    clawed_back_fen: int = 0  # every claw-back recorded so far
    claw_backs: str = ""  # "2023-03-15:50000000,...": business date and amount of each claw-back
    application_id: str | None = None  # the designation the reward rests on
    tranche: int | None = None
    document: str = ""
    changed_at: int = 0  # ledger position of the last event that changed this row

    def clawed_back_on(self, d: str) -> int:
        """Fen clawed back by claw-backs dated on or before ``d``."""
        total = 0
        for item in filter(None, self.claw_backs.split(",")):
            on, _, amount = item.partition(":")
            if on <= d:
                total += int(amount)
        return total


class BudgetRow(msgspec.Struct, kw_only=True):
    """The yearly budget of one scheme and what was spent from it."""

    key: str  # the SchemeBudget aggregate id
    programme: str
    scheme: str
    year: int
    budget_fen: int | None  # None: the scheme has no yearly budget
    spent_fen: int = 0
    refunded_fen: int = 0
    changed_at: int = 0

    @property
    def net_fen(self) -> int:
        return self.spent_fen - self.refunded_fen

    @property
    def left_fen(self) -> int | None:
        return None if self.budget_fen is None else self.budget_fen - self.net_fen


class RewardState:
    """The reward and budget rows an event batch works on, keyed."""

    def __init__(self) -> None:
        self.rewards: dict[str, RewardRow] = {}
        self.budgets: dict[str, BudgetRow] = {}
        self.dirty: set[tuple[str, str]] = set()  # ("reward" | "budget", key) changed in this batch

    def forget(self, aggregate_ids: set[str]) -> None:
        """Drop the budgets and the enterprises' rewards of ``aggregate_ids`` (clean rows
        only: the adapter's cache eviction)."""
        for oid in aggregate_ids:
            self.budgets.pop(oid, None)
        if self.rewards:
            self.rewards = {k: r for k, r in self.rewards.items() if r.enterprise_id not in aggregate_ids}


def _iso(d: Any) -> str:
    return cast(str, d.isoformat())


def apply_event(state: RewardState, ev: Any, enterprises: Mapping[str, EnterpriseRow], position: int = 0) -> None:
    """Fold one domain event at ledger ``position`` into ``state``.  ``enterprises`` are the
    pool projection's enterprise rows (for the USCC, name and region of a grant).  Events
    that are neither rewards nor budgets are ignored."""
    cls: type = type(ev)  # (typed as a plain type: the cache's key)
    handler = handler_for(cls)
    if handler is not None:
        handler(state, ev, aggregate_key(ev.originator_id), enterprises, position)


@cache
def handler_for(cls: type) -> Callable[[RewardState, Any, str, Mapping[str, EnterpriseRow], int], None] | None:
    """The fold of events of class ``cls`` (``None``: the class changes no reward or budget
    row); called with the state, the event, its aggregate key, the enterprise rows and the
    position.  The read model's fold looks it up once per class."""
    if issubclass(cls, SchemeBudget.Event):
        return {"Opened": _opened, "Spent": _spent, "Refunded": _refunded}.get(cls.__name__)
    return {"RewardGranted": _granted, "RewardClawedBack": _clawed_back}.get(cls.__name__)


def _opened(state: RewardState, ev: Any, oid: str, enterprises: Mapping[str, EnterpriseRow], position: int) -> None:
    state.budgets[oid] = BudgetRow(key=oid, programme=ev.programme, scheme=ev.scheme, year=ev.year,
                                   budget_fen=ev.budget_fen, changed_at=position)
    state.dirty.add(("budget", oid))


def _spent(state: RewardState, ev: Any, oid: str, enterprises: Mapping[str, EnterpriseRow], position: int) -> None:
    b = state.budgets[oid]
    b.spent_fen += ev.amount_fen
    b.changed_at = position
    state.dirty.add(("budget", oid))


def _refunded(state: RewardState, ev: Any, oid: str, enterprises: Mapping[str, EnterpriseRow],
              position: int) -> None:
    b = state.budgets[oid]
    b.refunded_fen += ev.amount_fen
    b.changed_at = position
    state.dirty.add(("budget", oid))


def _granted(state: RewardState, ev: Any, oid: str, enterprises: Mapping[str, EnterpriseRow], position: int) -> None:
    ent = enterprises[oid]
    key = f"{oid}/{ev.reward_id}"
    state.rewards[key] = RewardRow(
        key=key, enterprise_id=oid, reward_id=ev.reward_id, uscc=ent.uscc, name=ent.name, region=ent.region,
        programme=ev.programme, scheme=ev.scheme, year=ev.occurred_on.year, granted_on=_iso(ev.occurred_on),
        amount_fen=ev.amount_fen, application_id=ev.application_id, tranche=ev.tranche, document=ev.document,
        changed_at=position)
    state.dirty.add(("reward", key))


def _clawed_back(state: RewardState, ev: Any, oid: str, enterprises: Mapping[str, EnterpriseRow],
                 position: int) -> None:
    key = f"{oid}/{ev.reward_id}"
    r = state.rewards[key]
    r.clawed_back_fen += ev.amount_fen
    r.claw_backs = ",".join(filter(None, [r.claw_backs, f"{_iso(ev.occurred_on)}:{ev.amount_fen}"]))
    r.changed_at = position
    state.dirty.add(("reward", key))
