"""Journeys: drive enterprises through the lifecycle with real commands, so rule tests stay short.

Every helper sends JSON-shaped command dicts through a ``Script`` (see ``conftest.py``), exactly
as a backend service would, and returns what the ledger answered.  Nothing here bypasses the
service layer or the rules: a journey that breaks a rule fails loudly.

Authorities are derived from the enterprise's region and the levels the policy in force asks
for (``Programme.authority_for``: a 计划单列市 acts at provincial level), unless the caller names them.

    register(script, u, on="2020-01-10")
    d = designate(script, u, "specialized", on="2023-03-01")          # applied … approved
    d = designate(script, u, "little_giant", on="2023-07-01", until="noticed")
    designations = climb(script, u, ["specialized", "little_giant"], on="2022-07-01")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from domain.policy import Tier, last_data_year
from domain.values import NATIONAL_REGION, Level
from domain.workdays import notice_end

STAGES = ("applied", "recommended", "assessed", "noticed", "approved")
CITY, PROVINCE, MIIT, COUNTY = "211400", "210000", "000000", "211402"  # Huludao, Liaoning, MIIT, a district


def refusal(err) -> tuple[str, str, str | None]:  # type: ignore[no-untyped-def]
    """What a refusal says, in one tuple: (code, rule, field)."""
    return err.code, err.rule, err.field


def as_date(d: date | str) -> date:
    return d if isinstance(d, date) else date.fromisoformat(d)


def authority_for(region: str, level: str | Level) -> str:
    """The code of the authority of ``level`` governing ``region`` (MIIT is ``000000``)."""
    level = Level(level)
    if level is Level.national:
        return NATIONAL_REGION
    if level is Level.provincial:
        return region[:2] + "0000"
    if level is Level.municipal:
        return region[:4] + "00"
    return region


def actor(authority: str, person: str = "tester", role: str = "authority") -> dict[str, str]:
    return {"authority": authority, "person": person, "role": role}


def enterprise_actor(script: Any, uscc: str) -> dict[str, str]:
    """The enterprise acting for itself (applications, yearly data)."""
    return actor(script.ledger.enterprise(uscc).region, "enterprise", "enterprise")


def tier_in_force(script: Any, programme: str, tier: str, on: date | str, region: str | None = None) -> Tier:
    """The tier in force on ``on``; for an enterprise in ``region``, with its province's
    overrides (实施细则) laid over it, as the ledger judges it."""
    return script.ledger.policy.in_force(programme, as_date(on), region).tier(tier)


def passing_review(script: Any, programme: str, tier: str, on: date | str) -> dict[str, Any]:
    """The score and indicators a passed review on ``on`` needs, at exactly the thresholds, when
    the version that judges it (``PolicyBook.reviewing``) reviews on criteria; else nothing.
    The last data year is the one whose yearly data is due (``Programme.data_year_on``)."""
    judge = script.ledger.policy.reviewing(programme, tier, as_date(on))
    t = judge.tier(tier)
    if not t.reviewed_on_criteria:
        return {}
    body = passing_assessment(t, last_year=judge.data_year_on(as_date(on)), for_review=True)
    del body["components"]
    return body


def passing_assessment(tier: Tier, on: date | str | None = None, *, last_year: int | None = None,
                       for_review: bool = False) -> dict[str, Any]:
    """Score, components and indicators that meet exactly the thresholds of ``tier``.

    A criterion read over several data years (the 2026 standard) needs the date ``on`` of the
    assessment: its last data year (``domain.policy.last_data_year``) gets ``indicators``, the
    years before it ``yearly_indicators`` (each year at the threshold; a two-year sum split in
    halves; a growth at exactly its rate, rounded down year by year)."""
    a = tier.assessment
    indicators: dict[str, int] = {}
    yearly: dict[int, dict[str, int]] = {}
    read = [c for c in a.criteria if c.for_review or not for_review]
    multi = [c.any_of[0] for c in read if c.any_of[0].over != "last"]
    for criterion in read:
        bound = criterion.any_of[0]
        if bound.over == "last":
            indicators[bound.indicator] = bound.min if bound.min is not None else bound.max  # type: ignore[assignment]
    if multi:
        assert on is not None or last_year is not None, f"{tier.id}: criteria over several years need a date"
        last = last_year if last_year is not None else last_data_year(as_date(on))  # type: ignore[arg-type]
        for bound in multi:
            years = bound.data_years(last)
            limit = bound.min if bound.min is not None else bound.max
            assert limit is not None
            if bound.over == "growth":  # from the last year's value back, at exactly the rate
                value = indicators.get(bound.indicator, 1_000_000_000)
                for y in reversed(years):
                    yearly.setdefault(y, {})[bound.indicator] = value
                    value = value * 10000 // (10000 + limit)
                continue
            per_year = -(-limit // bound.years) if bound.over == "sum" else limit
            for y in years:
                yearly.setdefault(y, {})[bound.indicator] = per_year
        indicators.update(yearly.pop(last, {}))
    body: dict[str, Any] = {"score": max(a.min_score or 0, 60), "components": dict(a.min_components),
                            "indicators": indicators}
    if yearly:
        body["yearly_indicators"] = {str(y): v for y, v in sorted(yearly.items())}
    return body


def register(script: Any, uscc: str, *, on: date | str = "2020-01-10", name: str | None = None,
             region: str | None = None, listed: bool = False, by: str | None = None, **fields: Any) -> Any:
    """Register ``uscc``; by default the city of its region registers it."""
    region_code = region or uscc[2:8]
    fields.setdefault("actor", by or authority_for(region_code, Level.municipal))
    if region:
        fields["region"] = region
    return script.ok("register", uscc=uscc, name=name or f"企业{uscc[-6:]}", listed=listed,
                     occurred_on=str(as_date(on)), **fields)


@dataclass
class Designated:
    """What one journey did: the application, its dates and every outcome by stage."""

    uscc: str
    programme: str
    tier: str
    application_id: str
    applied_on: date
    recommended_on: date | None = None
    assessed_on: date | None = None
    notice_on: date | None = None
    approved_on: date | None = None
    decider: str = ""
    assessor: str = ""  # who assessed and held the notice: the decider unless the tier says (创新型: the city)
    noticer: str = ""
    outcomes: dict[str, Any] = field(default_factory=dict)

    def event_id(self, stage: str = "approved") -> Any:
        return self.outcomes[stage].events[0].event_id

    def state(self, script: Any) -> Any:
        """The application's current state in the aggregate."""
        return script.ledger.enterprise(self.uscc).applications[self.application_id]


_counter = iter(range(1, 10**9))


def designate(script: Any, uscc: str, tier: str, *, programme: str = "national", on: date | str | None = None,
              approve_on: date | str | None = None, until: str = "approved", application_id: str | None = None,
              product_id: str | None = None, product_name: str | None = None,
              declared_revenue_fen: int | None = None, recommenders: list[str] | None = None,
              decider: str | None = None, applicant: dict[str, str] | str | None = None,
              assessment: dict[str, Any] | None = None, document: str | None = None,
              assessor: str | None = None, noticer: str | None = None) -> Designated:
    """Take one application of ``uscc`` for ``tier`` from ``applied`` up to stage ``until``.

    Dates: with ``approve_on`` the steps are laid out backwards from it (the notice opens
    ``notice_days`` before); otherwise they run forwards from ``on`` (default 2023-03-01):
    recommendations on the following days, assessment ten days after applying, notice the
    day after, approval when the notice period ends (``domain.workdays.notice_end``: calendar
    or working days, as the tier says).  The assessment and the notice are by the authority
    at the tier's ``assessed_at`` / ``noticed_at`` level (the decider where those are its level).
    """
    assert until in STAGES, until
    stop = STAGES.index(until)
    region = script.ledger.enterprise(uscc).region
    if approve_on is not None:
        approve = as_date(approve_on)
        t = tier_in_force(script, programme, tier, approve, region)
        notice = approve - timedelta(days=t.notice_days)
        while notice_end(notice, t.notice_days, t.notice_day_kind) > approve:  # working days: further back
            notice -= timedelta(days=1)
        assessed = notice - timedelta(days=1)
        applied = as_date(on) if on is not None else assessed - timedelta(days=20)
    else:
        applied = as_date(on if on is not None else "2023-03-01")
        assessed = applied + timedelta(days=10)
        notice = assessed + timedelta(days=1)
        t = tier_in_force(script, programme, tier, notice, region)
        approve = notice_end(notice, t.notice_days, t.notice_day_kind)
    app_id = application_id or f"{programme}-{tier}-{next(_counter)}"
    t_applied = tier_in_force(script, programme, tier, applied, region)
    p_in_force = script.ledger.policy.in_force(programme, applied, region)  # a 计划单列市 decides at provincial level
    who = decider or p_in_force.authority_for(t.deciding_level.value, region)

    def acting(level: Level) -> str:
        return who if level == t.deciding_level else p_in_force.authority_for(level.value, region)

    assessor = assessor or acting(t.assessed_at)
    noticer = noticer or acting(t.noticed_at)
    d = Designated(uscc=uscc, programme=programme, tier=tier, application_id=app_id, applied_on=applied,
                   decider=who, assessor=assessor, noticer=noticer)
    if applicant is None:
        applicant = enterprise_actor(script, uscc)
    extra: dict[str, Any] = {}
    if product_id is not None:
        extra["product_id"] = product_id
    if product_name is not None:
        extra["product_name"] = product_name
    if declared_revenue_fen is not None:
        extra["declared_revenue_fen"] = declared_revenue_fen
    d.outcomes["applied"] = script.ok("apply", uscc=uscc, application_id=app_id, programme=programme, tier=tier,
                                      occurred_on=str(applied), actor=applicant, **extra)
    if stop < 1:
        return d
    levels = sorted(t_applied.recommend_levels, key=lambda lv: lv.rank)
    recs = recommenders if recommenders is not None else [p_in_force.authority_for(lv.value, region) for lv in levels]
    for i, rec in enumerate(recs):
        d.recommended_on = applied + timedelta(days=i + 1)
        d.outcomes[f"recommended:{rec}"] = script.ok("recommend", uscc=uscc, application_id=app_id,
                                                     occurred_on=str(d.recommended_on), actor=rec)
    if recs:
        d.outcomes["recommended"] = d.outcomes[f"recommended:{recs[-1]}"]
    if stop < 2:
        return d
    d.assessed_on = assessed
    body = assessment if assessment is not None else passing_assessment(tier_in_force(script, programme, tier,
                                                                                      assessed, region), assessed)
    d.outcomes["assessed"] = script.ok("assess", uscc=uscc, application_id=app_id, occurred_on=str(assessed),
                                       actor=assessor, **body)
    if stop < 3:
        return d
    d.notice_on = notice
    d.outcomes["noticed"] = script.ok("open_notice", uscc=uscc, application_id=app_id, occurred_on=str(notice),
                                      actor=noticer)
    if stop < 4:
        return d
    d.approved_on = approve
    d.outcomes["approved"] = script.ok("approve", uscc=uscc, application_id=app_id, occurred_on=str(approve),
                                       actor=who, document=document or f"{who}〔{approve.year}〕{next(_counter)}号")
    return d


def climb(script: Any, uscc: str, tiers: list[str], *, programme: str = "national", on: date | str = "2022-07-01",
          gap_days: int = 30) -> list[Designated]:
    """Designate ``tiers`` one after another, each applied ``gap_days`` after the previous one is
    in force (its approval, or its valid_from where a province's 实施细则 starts it on 1 January)."""
    out = []
    start = as_date(on)
    for tier in tiers:
        d = designate(script, uscc, tier, programme=programme, on=start)
        out.append(d)
        assert d.approved_on is not None
        start = max(d.approved_on, d.state(script).valid_from) + timedelta(days=gap_days)
    return out


def file_yearly_data(script: Any, uscc: str, data_year: int, on: date | str, *, programme: str = "national",
                     indicators: dict[str, int] | None = None) -> Any:
    """The enterprise files its yearly data (年度数据更新) for ``data_year``."""
    return script.ok("file_yearly_data", uscc=uscc, programme=programme, data_year=data_year,
                     occurred_on=str(as_date(on)), actor=enterprise_actor(script, uscc),
                     indicators=indicators or {"revenue_fen": 2_000_000_000})


def stored_events(script: Any, uscc: str) -> list[Any]:
    """Every stored event of the enterprise ``uscc``, oldest first (as an auditor reads them)."""
    from domain.enterprise import enterprise_id

    return list(script.ledger.repository.event_store.get(enterprise_id(uscc)))


def event_types(script: Any, uscc: str) -> list[str]:
    return [type(e).__name__ for e in stored_events(script, uscc)]
