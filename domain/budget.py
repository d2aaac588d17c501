"""The yearly budget of one reward scheme, or of one fund paying several schemes: the
aggregate that keeps rule 8's "never beyond the budget for the year" true across
enterprises and, for a fund (专项资金), across its schemes.

The budget is keyed by programme, *budget key* and year: the budget key is the scheme's
id, or the id of the fund the scheme names (``Programme.budget_of``), so every grant of
every scheme of one fund spends from the one budget.

A grant saves the enterprise and this budget in one transaction, so two grants that
race for the last yuan cannot both succeed: the second one's save conflicts on the
budget's version and is retried against the new balance.

>>> from datetime import date, datetime
>>> from domain.values import Actor
>>> b = SchemeBudget.open(programme="zhejiang", scheme="s", year=2023, budget_fen=100)
>>> hz = Actor(authority="330100", person="杭州市经信局")
>>> b.spend(reward_id="r1", uscc="X", amount_fen=60, occurred_on=date(2023, 5, 1), actor=hz, document="")
>>> b.spend(reward_id="r2", uscc="Y", amount_fen=60, occurred_on=date(2023, 5, 2), actor=hz, document="")
Traceback (most recent call last):
...
domain.errors.RuleViolation: reward.over_budget [amount_fen]: scheme zhejiang/s has 40 fen left of its 2023 budget of 100 fen; 60 fen asked (rule: 8. Rewards: valid designation, once per scheme, cap, yearly budget)
>>> f = SchemeBudget.open(programme="dalian", scheme="special", year=2023, budget_fen=100, fund=True)
>>> f.spend(reward_id="r1", uscc="X", amount_fen=70, occurred_on=date(2023, 5, 1), actor=hz, document="",
...         paid_scheme="reward_a")
>>> f.check_spend(amount_fen=40, occurred_on=date(2023, 6, 1))
Traceback (most recent call last):
...
domain.errors.RuleViolation: reward.over_budget [amount_fen]: fund dalian/special has 30 fen left of its 2023 budget of 100 fen; 40 fen asked (rule: 8. Rewards: valid designation, once per scheme, cap, yearly budget)
"""  # noqa: E501 (a doctest's expected output is one line)

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

import msgspec
from eventsourcing.domain import Aggregate, event

from domain.enterprise import LEDGER_NAMESPACE, SNAPSHOT_RENAME
from domain.errors import RuleViolation
from domain.values import Actor


def budget_id(programme: str, scheme: str, year: int) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"budget:{programme}:{scheme}:{year}")


class SchemeBudgetState(msgspec.Struct, kw_only=True, rename=SNAPSHOT_RENAME):
    """The typed state of a :class:`SchemeBudget` in a snapshot."""

    created_on: datetime
    modified_on: datetime
    programme: str
    scheme: str
    year: int
    budget_fen: int | None
    spent_fen: int
    fund: bool = False


class SchemeBudget(Aggregate):
    """Spending of one scheme in one calendar year against its budget."""

    SnapshotState = SchemeBudgetState  # how infra.mapper types a snapshot's state

    @staticmethod
    def create_id(programme: str, scheme: str, year: int, **_: Any) -> UUID:
        return budget_id(programme, scheme, year)

    @classmethod
    def open(cls, *, programme: str, scheme: str, year: int, budget_fen: int | None,
             fund: bool = False) -> SchemeBudget:
        """``scheme`` is the budget key: a scheme's id, or (``fund``) a fund's."""
        return cls._create(cls.Opened, programme=programme, scheme=scheme, year=year, budget_fen=budget_fen,
                           fund=fund)

    class Opened(Aggregate.Created):
        programme: str
        scheme: str
        year: int
        budget_fen: int | None
        fund: bool = False

    def __init__(self, *, programme: str, scheme: str, year: int, budget_fen: int | None, fund: bool = False):
        self.programme = programme
        self.scheme = scheme
        self.year = year
        self.budget_fen = budget_fen
        self.spent_fen = 0
        self.fund = fund

    @property
    def left_fen(self) -> int | None:
        return None if self.budget_fen is None else self.budget_fen - self.spent_fen

    def spend(self, *, reward_id: str, uscc: str, amount_fen: int, occurred_on: date, actor: Actor,
              document: str, paid_scheme: str | None = None) -> None:
        """Spend for a reward; ``paid_scheme`` names the scheme a fund pays it under."""
        self.check_spend(amount_fen=amount_fen, occurred_on=occurred_on)
        self._spent(reward_id=reward_id, uscc=uscc, amount_fen=amount_fen, occurred_on=occurred_on, actor=actor,
                    document=document, paid_scheme=paid_scheme)

    def check_spend(self, *, amount_fen: int, occurred_on: date) -> None:
        """Refuse a grant the budget cannot pay, without triggering anything."""
        if occurred_on.year != self.year:
            raise RuleViolation("reward", "reward.wrong_budget_year",
                                f"a grant on {occurred_on} is paid from the {occurred_on.year} budget, not {self.year}",
                                field="occurred_on")
        left = self.left_fen
        if left is not None and amount_fen > left:
            raise RuleViolation("reward", "reward.over_budget",
                                f"{'fund' if self.fund else 'scheme'} {self.programme}/{self.scheme} has {left} fen "
                                f"left of its {self.year} "
                                f"budget of {self.budget_fen} fen; {amount_fen} fen asked", field="amount_fen")

    @event("Spent")
    def _spent(self, reward_id: str, uscc: str, amount_fen: int, occurred_on: date, actor: Actor,
               document: str, paid_scheme: str | None = None) -> None:
        self.spent_fen += amount_fen

    def refund(self, *, reward_id: str, uscc: str, amount_fen: int, occurred_on: date, actor: Actor,
               document: str) -> None:
        self._refunded(reward_id=reward_id, uscc=uscc, amount_fen=amount_fen, occurred_on=occurred_on, actor=actor,
                       document=document)

    @event("Refunded")
    def _refunded(self, reward_id: str, uscc: str, amount_fen: int, occurred_on: date, actor: Actor,
                  document: str) -> None:
        self.spent_fen -= amount_fen
