"""One handler per command type: what the ledger asks of the domain to decide it.

A handler takes the command and a :class:`Context` (the ledger: the aggregates of the
decision under way and the policy book), calls the aggregates' methods, which check the
rules and trigger the events, and returns the aggregates it changed.  It writes nothing
and keeps nothing: :class:`services.ledger.Ledger` picks the handler from
:data:`HANDLERS` by the command's type, decides on the facts of the command's date (the
time rule, ``Ledger._decide``) and saves what the handler changed in one transaction.

The order of the checks is part of the answer (a refused command keeps its code when it
is sent again), so every handler asks in the same order: the names the command gives
against the policy book as a whole (:meth:`Context.check_known`, malformed input), the
enterprise, the application or reward it names, the rule version in force, then the
domain's rules.

>>> from services import commands as c
>>> set(HANDLERS) == set(c.COMMAND_TYPES.values())
True
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Protocol

from eventsourcing.domain import Aggregate

from domain.budget import SchemeBudget
from domain.enterprise import Enterprise, GroupHolder
from domain.errors import NotFound
from domain.group import Group
from domain.policy import Programme, Tier
from domain.sme import SmeStandard
from domain.values import uscc_region
from services import commands as c


class Context(Protocol):
    """What a handler may ask of the ledger while it decides one command."""

    def enterprise(self, uscc: str) -> Enterprise:
        """The enterprise of ``uscc`` (refused with ``enterprise.not_found``, or malformed
        input for a failing check character, when none is registered)."""
        ...

    def is_registered(self, uscc: str) -> bool:
        """Whether an enterprise of ``uscc`` is registered."""
        ...

    def in_force(self, programme: str, on: date, region: str | None = None) -> Programme:
        """The rule version of ``programme`` in force on ``on`` (``policy.not_in_force``), for
        an enterprise in ``region`` with the provincial overrides in force there laid over it
        (``PolicyBook.in_force``); every decision on an enterprise passes its region."""
        ...

    def reviewing(self, programme: str, tier: str, on: date, region: str | None = None) -> Programme:
        """The rule version that judges a review of a ``tier`` designation on ``on``: the one in
        force, or the one the tier names (``domain.policy.PolicyBook.reviewing``), with the
        overrides in force for ``region`` laid over it."""
        ...

    def budget(self, programme: str, scheme: str, year: int, budget_fen: int | None,
               fund: bool = False) -> SchemeBudget:
        """The budget of ``scheme`` (a scheme's id, or a fund's: ``Programme.budget_of``) for
        ``year``, opened with ``budget_fen`` if it has none yet."""
        ...

    def check_known(self, programme: str, tier: str | None = None, scheme: str | None = None,
                    chain: str | None = None, recognition: str | None = None) -> None:
        """Malformed input unless the programme, tier, scheme, chain and recognition exist in
        some rule version."""
        ...

    def group(self, group_uscc: str) -> Group | None:
        """The members of the group of parent (or controlling enterprise) ``group_uscc``;
        None when no enterprise has named it."""
        ...

    def sme_standard(self) -> SmeStandard:
        """The 企业划型 standard (《中小企业划型标准规定》) the ``not_sme`` bar judges by."""
        ...


Handler = Callable[[Any, Context], list[Aggregate]]


def _envelope(cmd: c.Command) -> dict[str, Any]:
    """What every event of a command carries: the business date, the actor, the document."""
    return {"occurred_on": cmd.occurred_on, "actor": cmd.actor, "document": cmd.document}


# ------------------------------------------------------------------ the enterprise
def register(cmd: c.Register, ctx: Context) -> list[Aggregate]:
    ent = Enterprise.register_new(registered=ctx.is_registered(cmd.uscc), uscc=cmd.uscc, name=cmd.name,
                                  region=cmd.region or uscc_region(cmd.uscc), industry=cmd.industry,
                                  listed=cmd.listed, uscc_override=cmd.uscc_override, board=cmd.board,
                                  group_uscc=cmd.group_uscc, **_envelope(cmd))
    if cmd.group_uscc is None:
        return [ent]
    group = _group(cmd.group_uscc, ctx)
    group.join(uscc=cmd.uscc, on=cmd.occurred_on, actor=cmd.actor, document=cmd.document)
    return [ent, group]


def _group(group_uscc: str, ctx: Context) -> Group:
    return ctx.group(group_uscc) or Group.open(group_uscc=group_uscc)


def record_group(cmd: c.RecordGroup, ctx: Context) -> list[Aggregate]:
    ent = ctx.enterprise(cmd.uscc)
    left = ent.record_group(group_uscc=cmd.group_uscc, **_envelope(cmd))
    changed: list[Aggregate] = [ent]
    if left is not None:
        old = _group(left, ctx)
        old.leave(uscc=cmd.uscc, on=cmd.occurred_on, actor=cmd.actor, document=cmd.document)
        changed.append(old)
    if cmd.group_uscc is not None:
        new = _group(cmd.group_uscc, ctx)
        new.join(uscc=cmd.uscc, on=cmd.occurred_on, actor=cmd.actor, document=cmd.document)
        changed.append(new)
    return changed


def record_credit_listing(cmd: c.RecordCreditListing, ctx: Context) -> list[Aggregate]:
    ent = ctx.enterprise(cmd.uscc)
    ent.record_credit_listing(credit_list=cmd.credit_list, listed=cmd.listed, listed_on=cmd.listed_on,
                              **_envelope(cmd))
    return [ent]


def admit_to_pool(cmd: c.AdmitToPool, ctx: Context) -> list[Aggregate]:
    ctx.check_known(cmd.programme, tier=cmd.tier)
    ent = ctx.enterprise(cmd.uscc)
    ent.admit_to_pool(programme=ctx.in_force(cmd.programme, cmd.occurred_on, ent.region), tier=cmd.tier,
                      **_envelope(cmd))
    return [ent]


def remove_from_pool(cmd: c.RemoveFromPool, ctx: Context) -> list[Aggregate]:
    ctx.check_known(cmd.programme, tier=cmd.tier)
    ent = ctx.enterprise(cmd.uscc)
    ent.remove_from_pool(programme=ctx.in_force(cmd.programme, cmd.occurred_on, ent.region), tier=cmd.tier,
                         reason=cmd.reason, **_envelope(cmd))
    return [ent]


def apply(cmd: c.Apply, ctx: Context) -> list[Aggregate]:
    ctx.check_known(cmd.programme, tier=cmd.tier)
    ent = ctx.enterprise(cmd.uscc)
    ent.apply(application_id=cmd.application_id, programme=ctx.in_force(cmd.programme, cmd.occurred_on, ent.region),
              tier=cmd.tier, product_id=cmd.product_id, product_name=cmd.product_name,
              declared_revenue_fen=cmd.declared_revenue_fen, employees=cmd.employees, assets_fen=cmd.assets_fen,
              **_envelope(cmd))
    return [ent]


def file_yearly_data(cmd: c.FileYearlyData, ctx: Context) -> list[Aggregate]:
    ctx.check_known(cmd.programme)
    ent = ctx.enterprise(cmd.uscc)
    ent.file_yearly_data(programme=ctx.in_force(cmd.programme, cmd.occurred_on, ent.region),
                         data_year=cmd.data_year, indicators=dict(cmd.indicators), **_envelope(cmd))
    return [ent]


def report_change(cmd: c.ReportChange, ctx: Context) -> list[Aggregate]:
    ctx.check_known(cmd.programme)
    ent = ctx.enterprise(cmd.uscc)
    # each designation's programme says who its provincial-level authority is (计划单列市)
    held = sorted({a.programme for a in ent.designations()})
    ent.report_change(programme=ctx.in_force(cmd.programme, cmd.occurred_on, ent.region), kind=cmd.kind,
                      changed_on=cmd.changed_on, new_name=cmd.new_name, new_region=cmd.new_region,
                      counterpart_uscc=cmd.counterpart_uscc, board=cmd.board,
                      programmes={pid: ctx.in_force(pid, cmd.occurred_on, ent.region) for pid in held},
                      **_envelope(cmd))
    return [ent]


# ------------------------------------------------------------------ facts rewards rest on
def record_loan(cmd: c.RecordLoan, ctx: Context) -> list[Aggregate]:
    ent = ctx.enterprise(cmd.uscc)
    ent.record_loan(loan_id=cmd.loan_id, lender=cmd.lender, guarantor=cmd.guarantor, principal_fen=cmd.principal_fen,
                    drawn_on=cmd.drawn_on, due_on=cmd.due_on, guarantee_fee_fen=cmd.guarantee_fee_fen,
                    guarantee_fee_rate_bp=cmd.guarantee_fee_rate_bp, **_envelope(cmd))
    return [ent]


def record_repayment(cmd: c.RecordRepayment, ctx: Context) -> list[Aggregate]:
    ent = ctx.enterprise(cmd.uscc)
    ent.record_repayment(loan_id=cmd.loan_id, repaid_on=cmd.repaid_on, **_envelope(cmd))
    return [ent]


def recognise_product(cmd: c.RecogniseProduct, ctx: Context) -> list[Aggregate]:
    ctx.check_known(cmd.programme, recognition=cmd.recognition)
    ent = ctx.enterprise(cmd.uscc)
    ent.recognise_product(programme=ctx.in_force(cmd.programme, cmd.occurred_on, ent.region),
                          recognition=cmd.recognition, product_id=cmd.product_id, product_name=cmd.product_name,
                          level=cmd.level, **_envelope(cmd))
    return [ent]


def tag_chain(cmd: c.TagChain, ctx: Context) -> list[Aggregate]:
    ctx.check_known(cmd.programme, chain=cmd.chain)
    ent = ctx.enterprise(cmd.uscc)
    ent.tag_chain(programme=ctx.in_force(cmd.programme, cmd.occurred_on, ent.region), chain=cmd.chain,
                  tagged=cmd.tagged, **_envelope(cmd))
    return [ent]


def _yearly(given: dict[str, dict[str, int]] | None) -> dict[int, dict[str, int]] | None:
    """A command's yearly indicators by data year (None: none given)."""
    return None if given is None else {int(y): dict(v) for y, v in given.items()}


# ------------------------------------------------------------------ one application's steps
def _application(cmd: c.ApplicationCommand, ctx: Context) -> tuple[Enterprise, Programme]:
    """The enterprise, and the rule version in force on the command's date of the programme
    of the application it names, for the enterprise's region (its province's overrides).
    Every step needs a version in force, also those whose method does not take it (object,
    withdraw)."""
    ent = ctx.enterprise(cmd.uscc)
    app = ent.application(cmd.application_id)
    return ent, ctx.in_force(app.programme, cmd.occurred_on, ent.region)


def recommend(cmd: c.Recommend, ctx: Context) -> list[Aggregate]:
    ent, programme = _application(cmd, ctx)
    t = programme.tier(ent.application(cmd.application_id).tier)
    holders = _group_holders(ent, programme, t, cmd.occurred_on, ctx) if "same_group" in t.bars else []
    ent.recommend(application_id=cmd.application_id, programme=programme, batch=cmd.batch,
                  sme=ctx.sme_standard(), group_holders=holders, **_envelope(cmd))
    return [ent]


def _group_holders(ent: Enterprise, programme: Programme, t: Tier, on: date, ctx: Context) -> list[GroupHolder]:
    """The facts of the ``same_group`` bar: the other enterprises of ``ent``'s group on ``on``
    (those naming the same parent, the parent itself, and those naming ``ent`` as theirs)
    that hold a designation of tier ``t`` of ``programme`` valid on ``on``."""
    others: set[str] = set()
    for parent in (ent.group_uscc, ent.uscc):
        if parent is None:
            continue
        group = ctx.group(parent)
        if group is not None:
            others.update(group.members_on(on))
        others.add(parent)
    others.discard(ent.uscc)
    holders: list[GroupHolder] = []
    for uscc in sorted(others):
        if not ctx.is_registered(uscc):
            continue
        other = ctx.enterprise(uscc)
        holders.extend(GroupHolder(uscc=uscc, industry=other.industry, application_id=a.id,
                                   valid_until=a.valid_until)  # type: ignore[arg-type]
                       for a in other.valid_designations(on) if a.programme == programme.id and a.tier == t.id)
    return holders


def assess(cmd: c.Assess, ctx: Context) -> list[Aggregate]:
    ent, programme = _application(cmd, ctx)
    ent.assess(application_id=cmd.application_id, programme=programme, score=cmd.score,
               components=dict(cmd.components), indicators=dict(cmd.indicators), direct_pass=list(cmd.direct_pass),
               yearly_indicators=_yearly(cmd.yearly_indicators), **_envelope(cmd))
    return [ent]


def open_notice(cmd: c.OpenNotice, ctx: Context) -> list[Aggregate]:
    ent, programme = _application(cmd, ctx)
    ent.open_notice(application_id=cmd.application_id, programme=programme, **_envelope(cmd))
    return [ent]


def object_(cmd: c.Object, ctx: Context) -> list[Aggregate]:
    ent, _ = _application(cmd, ctx)
    ent.object(application_id=cmd.application_id, objection_id=cmd.objection_id, grounds=cmd.grounds,
               **_envelope(cmd))
    return [ent]


def resolve_objection(cmd: c.ResolveObjection, ctx: Context) -> list[Aggregate]:
    ent, programme = _application(cmd, ctx)
    ent.resolve_objection(application_id=cmd.application_id, objection_id=cmd.objection_id, upheld=cmd.upheld,
                          programme=programme, **_envelope(cmd))
    return [ent]


def approve(cmd: c.Approve, ctx: Context) -> list[Aggregate]:
    ent, programme = _application(cmd, ctx)
    ent.approve(application_id=cmd.application_id, programme=programme, batch=cmd.batch, **_envelope(cmd))
    return [ent]


def reject(cmd: c.Reject, ctx: Context) -> list[Aggregate]:
    ent, programme = _application(cmd, ctx)
    ent.reject(application_id=cmd.application_id, programme=programme, reason=cmd.reason, **_envelope(cmd))
    return [ent]


def withdraw(cmd: c.Withdraw, ctx: Context) -> list[Aggregate]:
    ent, _ = _application(cmd, ctx)
    ent.withdraw(application_id=cmd.application_id, reason=cmd.reason, **_envelope(cmd))
    return [ent]


def review(cmd: c.Review, ctx: Context) -> list[Aggregate]:
    ent = ctx.enterprise(cmd.uscc)
    app = ent.application(cmd.application_id)
    # the version that judges the review: in force on its date, or the one its tier names (review_under)
    programme = ctx.reviewing(app.programme, app.tier, cmd.occurred_on, ent.region)
    ent.review(application_id=cmd.application_id, programme=programme, passed=cmd.passed, score=cmd.score,
               indicators=dict(cmd.indicators) if cmd.indicators is not None else None,
               yearly_indicators=_yearly(cmd.yearly_indicators), **_envelope(cmd))
    return [ent]


def revoke(cmd: c.Revoke, ctx: Context) -> list[Aggregate]:
    ent, programme = _application(cmd, ctx)
    ent.revoke(application_id=cmd.application_id, programme=programme, reason=cmd.reason,
               effective_on=cmd.effective_on or cmd.occurred_on, **_envelope(cmd))
    return [ent]


def reconfirm(cmd: c.Reconfirm, ctx: Context) -> list[Aggregate]:
    ent, programme = _application(cmd, ctx)
    ent.reconfirm(application_id=cmd.application_id, programme=programme, confirmed=cmd.confirmed, **_envelope(cmd))
    return [ent]


def annul(cmd: c.Annul, ctx: Context) -> list[Aggregate]:
    ent, programme = _application(cmd, ctx)
    ent.annul(application_id=cmd.application_id, programme=programme, reason=cmd.reason, **_envelope(cmd))
    return [ent]


# ------------------------------------------------------------------ rewards: the enterprise and the scheme's budget
def grant_reward(cmd: c.GrantReward, ctx: Context) -> list[Aggregate]:
    ctx.check_known(cmd.programme, scheme=cmd.scheme)
    ent = ctx.enterprise(cmd.uscc)
    programme = ctx.in_force(cmd.programme, cmd.occurred_on, ent.region)
    scheme = programme.scheme(cmd.scheme)
    key, budget_fen = programme.budget_of(scheme)  # a fund's budget pays every scheme of the fund
    budget = ctx.budget(programme.id, key, cmd.occurred_on.year, budget_fen, fund=scheme.fund is not None)
    env = _envelope(cmd)
    # Every check before any event: a refused command must leave every aggregate untouched.
    budget.check_spend(amount_fen=cmd.amount_fen, occurred_on=cmd.occurred_on)
    ent.grant_reward(reward_id=cmd.reward_id, programme=programme, scheme=scheme, amount_fen=cmd.amount_fen,
                     tranche=cmd.tranche, loan_fen=cmd.loan_fen, lpr_bp=cmd.lpr_bp, days=cmd.days,
                     loan_id=cmd.loan_id, product_id=cmd.product_id, **env)
    budget.spend(reward_id=cmd.reward_id, uscc=cmd.uscc, amount_fen=cmd.amount_fen,
                 paid_scheme=scheme.id if scheme.fund else None, **env)
    return [ent, budget]


def claw_back(cmd: c.ClawBack, ctx: Context) -> list[Aggregate]:
    ent = ctx.enterprise(cmd.uscc)
    reward = ent.rewards.get(cmd.reward_id)
    if reward is None:
        raise NotFound("identity", "reward.not_found", f"enterprise {cmd.uscc} has no reward {cmd.reward_id!r}",
                       field="reward_id")
    # The scheme as it stood when the reward was granted, and that year's budget.
    programme = ctx.in_force(reward.programme, reward.granted_on, ent.region)
    scheme = programme.scheme(reward.scheme)
    env = _envelope(cmd)
    ent.claw_back(reward_id=cmd.reward_id, scheme=scheme, amount_fen=cmd.amount_fen, reason=cmd.reason, **env)
    key, budget_fen = programme.budget_of(scheme)
    budget = ctx.budget(reward.programme, key, reward.granted_on.year, budget_fen, fund=scheme.fund is not None)
    budget.refund(reward_id=cmd.reward_id, uscc=cmd.uscc, amount_fen=cmd.amount_fen, **env)
    return [ent, budget]


HANDLERS: dict[type[c.Command], Handler] = {
    c.Register: register,
    c.AdmitToPool: admit_to_pool,
    c.RemoveFromPool: remove_from_pool,
    c.Apply: apply,
    c.Recommend: recommend,
    c.Assess: assess,
    c.OpenNotice: open_notice,
    c.Object: object_,
    c.ResolveObjection: resolve_objection,
    c.Approve: approve,
    c.Reject: reject,
    c.Withdraw: withdraw,
    c.FileYearlyData: file_yearly_data,
    c.Review: review,
    c.Revoke: revoke,
    c.ReportChange: report_change,
    c.Reconfirm: reconfirm,
    c.GrantReward: grant_reward,
    c.ClawBack: claw_back,
    c.Annul: annul,
    c.RecordLoan: record_loan,
    c.RecordRepayment: record_repayment,
    c.RecogniseProduct: recognise_product,
    c.TagChain: tag_chain,
    c.RecordCreditListing: record_credit_listing,
    c.RecordGroup: record_group,
}
