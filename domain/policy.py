"""Policy as data: programmes, tiers, assessment thresholds and reward schemes.

A programme file (TOML) is decoded by msgspec into these frozen structs; one file is
one *rule version* with an ``effective_from`` date.  :class:`PolicyBook` answers which
version is in force on a business date, so every decision, and every replay, is
judged by the rules of its own day.

Decoding is pure (bytes in, structs out); reading files is ``infra.policy_files``.

>>> book = PolicyBook([Programme(id="p", name="P", version="2022", effective_from=date(2022, 6, 1),
...     level="provincial", jurisdiction="210000",
...     tiers=[Tier(id="t", name="T", deciding_level="provincial")])])
>>> book.in_force("p", date(2023, 1, 1)).version
'2022'
>>> book.in_force("p", date(2021, 1, 1))
Traceback (most recent call last):
...
domain.errors.RuleViolation: policy.not_in_force [programme]: programme 'p' has no rule version in force on 2021-01-01 (rule: Policy: the programme, tier and scheme must exist in the rule version in force)
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import date
from typing import Annotated, Literal

import msgspec

from domain.errors import RuleViolation
from domain.values import NATIONAL_REGION, Fen, Level, Region, RegionCode, add_years, region_covers

Id = Annotated[str, msgspec.Meta(pattern=r"\A[a-z][a-z0-9_]*\Z", max_length=64)]
Days = Annotated[int, msgspec.Meta(ge=0, le=3650)]
Years = Annotated[int, msgspec.Meta(ge=0, le=50)]
BasisPoints = Annotated[int, msgspec.Meta(ge=0, le=10000)]
MonthDay = Annotated[str, msgspec.Meta(pattern=r"\A(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])\Z")]

REVOCATION_REASONS: dict[str, str] = {
    "major_accident": "重大安全/质量/环境污染事故（含网络和数据安全）",
    "tax_or_credit": "偷漏税或严重失信",
    "false_material": "提供虚假材料/数据造假",
    "other": "其他",
}
RevocationReason = Literal["major_accident", "tax_or_credit", "false_material", "other"]

# The changes an enterprise reports (变更报告), one home: the command's ``kind`` and the
# programme's ``reconfirm_after`` take their values from here.
CHANGE_KINDS: dict[str, str] = {
    "rename": "更名",
    "merger": "合并",
    "split": "分立",
    "reorganisation": "重组",
    "relocation": "迁移",
    "overseas_branch": "设立境外分支机构",
    "listing": "上市/挂牌",
    "delisting": "退市/摘牌",
}
ChangeKind = Literal["rename", "merger", "split", "reorganisation", "relocation", "overseas_branch", "listing",
                     "delisting"]

# What bars an application at recommendation (a tier's ``bars``), with its display label.
BARS: dict[str, str] = {
    "abnormal_operations": "列入经营异常名录",
    "serious_dishonesty": "列入严重失信主体名单",
    "same_group": "与已认定\"小巨人\"企业同一集团或受同一控制且主导产品相似",
    "not_sme": "不符合《中小企业划型标准规定》",
}
BarKind = Literal["abnormal_operations", "serious_dishonesty", "same_group", "not_sme"]

# The credit lists an authority records an enterprise on (列入) and off (移出); being on one on
# the recommendation date is the bar of the same name.
CREDIT_LISTS: dict[str, str] = {
    "abnormal_operations": "经营异常名录",
    "serious_dishonesty": "严重失信主体名单",
}
CreditList = Literal["abnormal_operations", "serious_dishonesty"]

# The boards a listing (上市/挂牌) is reported on: 主板, 科创板, 创业板, 北交所, 新三板, 境外.
LISTING_BOARDS: dict[str, str] = {
    "main": "主板",
    "star": "科创板",
    "chinext": "创业板",
    "bse": "北交所",
    "neeq": "新三板",
    "overseas": "境外",
}
ListingBoard = Literal["main", "star", "chinext", "bse", "neeq", "overseas"]
# The reach of a product's recognition (首台套: 国际首台套, 国内首台套, 省内首台套).
RECOGNITION_LEVELS: dict[str, str] = {"international": "国际", "national": "国内", "provincial": "省内"}
RecognitionLevel = Literal["international", "national", "provincial"]

# How a bound reads an indicator over the years before the decision (see :class:`Bound`).
Over = Literal["last", "each", "sum", "average", "growth"]
# Yearly indicators: data year -> indicator -> value.
Yearly = dict[int, dict[str, int]]


def last_data_year(on: date) -> int:
    """The last data year (上年度) an assessment made on ``on`` reads: the year before it.

    >>> last_data_year(date(2026, 7, 21)), last_data_year(date(2026, 1, 5))
    (2025, 2025)
    """
    return on.year - 1


def merge_yearly(filed: Yearly, given: Yearly | None, indicators: dict[str, int], last_year: int,
                 years: list[int]) -> Yearly:
    """The yearly data a decision is judged on, for the data ``years`` its criteria read:
    the enterprise's filed yearly data, overridden indicator by indicator by the command's
    ``given`` yearly figures, and the last year's by the command's own ``indicators`` (the
    figures of 上年度).  Years with no data are left out.

    >>> merge_yearly({2024: {"rd": 1, "rev": 9}, 2025: {"rd": 2}}, {2024: {"rd": 5}}, {"rd": 7}, 2025,
    ...     [2024, 2025])
    {2024: {'rd': 5, 'rev': 9}, 2025: {'rd': 7}}
    >>> merge_yearly({2020: {"rd": 1}}, None, {}, 2025, [2024, 2025])
    {}
    """
    out: Yearly = {}
    for y in years:
        merged = {**filed.get(y, {}), **(given or {}).get(y, {}), **(indicators if y == last_year else {})}
        if merged:
            out[y] = merged
    return out


class Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every policy struct: frozen, and a misspelt key is an error, not a default."""


class Citation(Struct, kw_only=True):
    """Where one rule comes from: ``source`` names the document (文号) and article; ``assumption``
    says what could not be checked against its text (empty: checked)."""

    source: str = ""
    assumption: str = ""


class Bound(Struct, kw_only=True):
    """One indicator bound: ``min <= value`` and/or ``value <= max``, where the value is read
    ``over`` the ``years`` data years that end with the last data year before the decision:

    - ``last`` (the default, one year): the last year's value; the decision's own
      ``indicators`` stand for the last year (上年度);
    - ``each``: every one of the years' values must lie within the bound;
    - ``sum`` / ``average``: the total, or the total // years, of the years' values;
    - ``growth``: the average yearly growth rate in basis points over ``years`` years, which
      needs ``years + 1`` years of data: mean of (v[y] - v[y-1]) * 10000 // v[y-1]
      (assumption: the measures' 平均增长率 read as the arithmetic mean of the yearly rates).

    >>> b = Bound(indicator="rd_expense_fen", min=100, over="each", years=2)
    >>> b.check({}, {2024: {"rd_expense_fen": 150}, 2025: {"rd_expense_fen": 120}}, 2025) is None
    True
    >>> b.check({"rd_expense_fen": 90}, {2024: {"rd_expense_fen": 150}}, 2025)
    'rd_expense_fen >= 100 in each of 2024–2025: 2025 is 90'
    >>> b.check({}, {2025: {"rd_expense_fen": 150}}, 2025)
    'rd_expense_fen >= 100 in each of 2024–2025: no data for 2024'
    >>> g = Bound(indicator="revenue_fen", min=500, over="growth", years=2)
    >>> g.check({}, {2023: {"revenue_fen": 100}, 2024: {"revenue_fen": 104}, 2025: {"revenue_fen": 110}}, 2025)
    'average yearly growth of revenue_fen over 2023–2025 >= 500 bp: 488'
    """

    indicator: Id
    min: int | None = None
    max: int | None = None
    over: Over = "last"
    years: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1

    def __post_init__(self) -> None:
        if self.min is None and self.max is None:
            raise ValueError("a bound needs min or max")
        if self.over == "last" and self.years != 1:
            raise ValueError(f"a bound over the last year has years = 1, not {self.years}")

    def data_years(self, last_year: int) -> list[int]:
        """The data years the bound reads, oldest first (growth reads one year more)."""
        span = self.years + (1 if self.over == "growth" else 0)
        return list(range(last_year - span + 1, last_year + 1))

    def _within(self, value: int) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def check(self, indicators: dict[str, int], yearly: Yearly | None = None,
              last_year: int | None = None) -> str | None:
        """None when the bound holds; otherwise why not (naming the missing year or the value)."""
        if self.over == "last":
            value = indicators.get(self.indicator)
            if value is None and yearly and last_year is not None:
                value = yearly.get(last_year, {}).get(self.indicator)
            if value is None:
                return f"{self.describe()}: no {self.indicator}"
            return None if self._within(value) else f"{self.describe()}: {value}"
        if last_year is None:
            return f"{self.describe()}: no data years"
        years = self.data_years(last_year)
        values: list[int] = []
        for y in years:
            v = (yearly or {}).get(y, {}).get(self.indicator)
            if v is None and y == last_year:
                v = indicators.get(self.indicator)
            if v is None:
                return f"{self.describe(years)}: no data for {y}"
            values.append(v)
        if self.over == "each":
            bad = [(y, v) for y, v in zip(years, values) if not self._within(v)]
            return None if not bad else f"{self.describe(years)}: " + ", ".join(f"{y} is {v}" for y, v in bad)
        if self.over in ("sum", "average"):
            total = sum(values) if self.over == "sum" else sum(values) // len(values)
            return None if self._within(total) else f"{self.describe(years)}: {total}"
        rates = []
        for prev, cur in zip(values, values[1:]):
            if prev <= 0:
                return f"{self.describe(years)}: no growth rate from {prev}"
            rates.append((cur - prev) * 10000 // prev)
        growth = sum(rates) // len(rates)
        return None if self._within(growth) else f"{self.describe(years)}: {growth}"

    def holds(self, indicators: dict[str, int], yearly: Yearly | None = None, last_year: int | None = None) -> bool:
        return self.check(indicators, yearly, last_year) is None

    def describe(self, years: list[int] | None = None) -> str:
        parts = []
        unit = " bp" if self.over == "growth" else ""
        if self.min is not None:
            parts.append(f">= {self.min}{unit}")
        if self.max is not None:
            parts.append(f"<= {self.max}{unit}")
        cond = " and ".join(parts)
        span = f"{years[0]}–{years[-1]}" if years else f"the last {self.years} years"
        if self.over == "last":
            return f"{self.indicator} {cond}"
        if self.over == "each":
            return f"{self.indicator} {cond} in each of {span}"
        if self.over == "growth":
            return f"average yearly growth of {self.indicator} over {span} {cond}"
        return f"{self.over} of {self.indicator} over {span} {cond}"


class Criterion(Struct, kw_only=True):
    """A criterion holds when any one of its bounds holds (e.g. revenue or new equity).
    ``for_review``: whether a review (复核) is judged on it too (growth is not, under 2026)."""

    label: str = ""
    any_of: list[Bound]
    for_review: bool = True
    source: str = ""
    assumption: str = ""

    def check(self, indicators: dict[str, int], yearly: Yearly | None = None,
              last_year: int | None = None) -> str | None:
        """None when any bound holds; otherwise the label and why each bound fails."""
        reasons = []
        for b in self.any_of:
            why = b.check(indicators, yearly, last_year)
            if why is None:
                return None
            reasons.append(why)
        return f"{self.label}: {'; '.join(reasons)}" if self.label else " or ".join(reasons)


class Assessment(Struct, kw_only=True):
    """Thresholds an ``assessed`` event is checked against.

    Passing = every criterion holds, and (score >= min_score with every component at
    its minimum, or one of the direct-pass conditions is claimed).
    """

    min_score: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    min_components: dict[str, int] = {}
    criteria: list[Criterion] = []
    direct_pass: list[Id] = []

    def data_years(self, last_year: int, for_review: bool = False) -> list[int]:
        """The data years the criteria read (those of a review: its criteria only), oldest first.

        >>> Assessment(criteria=[Criterion(any_of=[Bound(indicator="r", min=1, over="growth", years=2)],
        ...     for_review=False), Criterion(any_of=[Bound(indicator="d", max=1)])]).data_years(2025)
        [2023, 2024, 2025]
        >>> Assessment().data_years(2025, for_review=True)
        [2025]
        """
        years = {last_year}
        for c in self.criteria:
            if not (for_review and not c.for_review):
                years.update(y for b in c.any_of for y in b.data_years(last_year))
        return sorted(years)

    def judge(self, score: int | None, components: dict[str, int], indicators: dict[str, int],
              direct_pass: list[str], *, yearly: Yearly | None = None, last_year: int | None = None,
              for_review: bool = False) -> list[str]:
        """The reasons the assessment fails; empty when it passes.

        ``yearly`` and ``last_year``: the data years a multi-year bound reads (see :class:`Bound`).
        ``for_review``: a review is judged on the criteria marked ``for_review`` and the score;
        direct-pass conditions open an application only.
        """
        failures = []
        for c in self.criteria:
            if for_review and not c.for_review:
                continue
            why = c.check(indicators, yearly, last_year)
            if why is not None:
                failures.append(why)
        if for_review:
            direct_pass = []
        unknown = [d for d in direct_pass if d not in self.direct_pass]
        if unknown:
            failures.append(f"direct-pass conditions {unknown} are not in the policy ({self.direct_pass})")
        if not (direct_pass and not unknown) and self.min_score is not None:
            if score is None or score < self.min_score:
                failures.append(f"score {score} < {self.min_score}")
            for name, minimum in self.min_components.items():
                if components.get(name, -1) < minimum:
                    failures.append(f"component {name} {components.get(name)} < {minimum}")
        return failures


class Requirement(Struct, kw_only=True):
    """A designation that must (prerequisite) or must not (exclusion) be valid."""

    tier: Id
    level: Level | None = None
    programme: Id | None = None
    when_revenue_below_fen: Fen | None = None  # the prerequisite applies only below this revenue


class Tier(Struct, kw_only=True):
    """One tier of a programme's ladder, as one rule version says it.

    Who acts: ``recommend_levels`` recommend (推荐), ``assessing_level`` assesses (审核/评审),
    ``notice_level`` holds the public notice (公示) and resolves objections, and
    ``deciding_level`` approves (认定/公告), reviews and revokes; the two in between default
    to the deciding level.  ``notice_days`` count calendar or working days (``notice_day_kind``).
    ``review_under`` names the rule version of the same programme that judges the reviews of
    this tier's designations (None: the version in force on the review date);
    ``reviewed_on_criteria``: a review is judged on the assessment's criteria marked
    ``for_review`` and its score.  ``excludes_boards``: listings that bar the tier;
    ``bars``: what else bars a recommendation (domain.policy.BARS).  ``source``, ``assumption``
    and ``sources`` (one :class:`Citation` per parameter, by field name) say where it comes from.
    """

    id: Id
    name: str
    subject: Literal["enterprise", "product"] = "enterprise"
    deciding_level: Level
    recommend_levels: list[Level] = []
    assessing_level: Level | None = None
    notice_level: Level | None = None
    notice_day_kind: Literal["calendar", "working"] = "calendar"
    review_under: str | None = None
    reviewed_on_criteria: bool = False
    excludes_boards: list[ListingBoard] = []
    bars: list[BarKind] = []
    source: str = ""
    assumption: str = ""
    sources: dict[str, Citation] = {}
    validity_years: Annotated[int, msgspec.Meta(ge=1, le=20)] = 3
    validity_start: Literal["announcement", "next_january"] = "announcement"
    notice_days: Days = 5
    review_window_days: Days = 180
    renewal: Literal["extend", "replace"] = "extend"
    requires: list[Requirement] = []
    excludes: list[Requirement] = []
    excludes_listed: bool = False
    assessment: Assessment = Assessment()
    cooling_off_years: dict[RevocationReason, Years] = {}
    recommend_bar_years: Years = 3
    recommend_bar_reasons: tuple[RevocationReason, ...] = ("major_accident", "tax_or_credit", "false_material")

    def __post_init__(self) -> None:
        unknown = sorted(set(self.sources) - set(self.__struct_fields__))
        if unknown:
            raise ValueError(f"tier {self.id}: sources name no parameter {unknown}")

    @property
    def assessed_at(self) -> Level:
        """The level that assesses (审核/评审) applications for this tier."""
        return self.assessing_level or self.deciding_level

    @property
    def noticed_at(self) -> Level:
        """The level that holds the notice (公示) and resolves objections."""
        return self.notice_level or self.deciding_level

    def excludes_listing(self, board: str | None) -> bool:
        """Whether a listing on ``board`` bars this tier (one home for the generator's twin
        and the aggregate).  ``board`` None: a listing whose board is not known, which bars a
        tier that excludes any board (assumption: the ledger cannot tell it is 新三板 or 北交所).
        ``excludes_listed`` (older rule versions) bars every listing.

        >>> t = Tier(id="k", name="K", deciding_level="national", excludes_boards=["main", "star"])
        >>> t.excludes_listing("main"), t.excludes_listing("neeq"), t.excludes_listing(None)
        (True, False, True)
        >>> Tier(id="t", name="T", deciding_level="national").excludes_listing(None)
        False
        """
        if self.excludes_listed:
            return True
        if board is None:
            return bool(self.excludes_boards)
        return board in self.excludes_boards

    def validity(self, approved_on: date) -> tuple[date, date]:
        """valid_from and (exclusive) valid_until of a designation approved on ``approved_on``."""
        start = approved_on if self.validity_start == "announcement" else date(approved_on.year + 1, 1, 1)
        return start, add_years(start, self.validity_years)


_DEFAULT_TIER = Tier(id="default", name="", deciding_level=Level.provincial)


class RegionCap(Struct, kw_only=True):
    regions: list[RegionCode]  # prefixes by region level: 440100 covers Guangzhou
    cap_fen: Fen


class Tranche(Struct, kw_only=True):
    share_bp: BasisPoints  # share of the scheme's cap
    after_review: bool = False




class Fund(Struct, kw_only=True):
    """A fund (专项资金) whose one yearly budget pays several schemes (each names it as ``fund``)."""

    id: Id
    name: str
    granted_by: RegionCode
    yearly_budget_fen: Fen | None = None
    source: str
    assumption: str = ""  # what of it could not be checked against a text


class Chain(Struct, kw_only=True):
    """An industrial chain (产业链) enterprises are tagged on (一链一策一批)."""

    id: Id
    name: str
    source: str
    assumption: str = ""  # what of it could not be checked against a text


class Recognition(Struct, kw_only=True):
    """A recognition of a product (首台套认定) that a scheme's reward rests on, and the
    authorities that record it."""

    id: Id
    name: str
    recognised_by: list[RegionCode]
    levels: list[RecognitionLevel]
    source: str
    assumption: str = ""  # what of it could not be checked against a text


class Scheme(Struct, kw_only=True):
    """A reward scheme (奖补).

    Eligibility tied to facts: ``listing_boards`` (a listing reward needs a listing on one of
    them, reported before the reward), ``recognition`` and ``recognition_level`` (the reward
    names a product recognised so, before the reward, and pays once per product).  A
    ``guarantee_fee_subsidy`` (担保费补助) pays on a recorded loan repaid on time: at most
    ``min(fee paid, principal × subsidised_rate_bp × days guaranteed / 365)``, at most
    ``cap_fen`` per loan and ``enterprise_yearly_cap_fen`` per enterprise and year.
    """

    id: Id
    name: str
    kind: Literal["one_time", "tranches", "interest_subsidy", "per_item", "guarantee_fee_subsidy"] = "one_time"
    granted_by: RegionCode
    regions: list[RegionCode] = []  # enterprises inside any of these; empty: the granting region
    requires: list[Requirement] = []  # a designation valid on the reward date (any one)
    cap_fen: Fen
    region_caps: list[RegionCap] = []
    yearly_budget_fen: Fen | None = None
    once_per_enterprise: bool = True
    pays_for_renewal: bool = True
    tranches: list[Tranche] = []
    loan_cap_fen: Fen | None = None
    subsidy_ratio_bp: BasisPoints | None = None
    fund: Id | None = None  # the fund whose yearly budget pays it (then no yearly_budget_fen of its own)
    listing_boards: list[ListingBoard] = []
    recognition: Id | None = None
    recognition_level: RecognitionLevel | None = None
    subsidised_rate_bp: BasisPoints | None = None  # guarantee_fee_subsidy: of the principal, per year
    enterprise_yearly_cap_fen: Fen | None = None  # guarantee_fee_subsidy: per enterprise and year
    source: str = ""  # where the scheme's figures come from
    assumption: str = ""  # what of them could not be checked against a text

    def __post_init__(self) -> None:
        if self.kind == "tranches" and not self.tranches:
            raise ValueError("a 'tranches' scheme needs tranches")
        if self.tranches and sum(t.share_bp for t in self.tranches) != 10000:
            raise ValueError("tranche shares must add up to 10000 basis points")
        if self.kind == "interest_subsidy" and (self.loan_cap_fen is None or self.subsidy_ratio_bp is None):
            raise ValueError("an 'interest_subsidy' scheme needs loan_cap_fen and subsidy_ratio_bp")
        if self.kind == "guarantee_fee_subsidy" and self.subsidised_rate_bp is None:
            raise ValueError("a 'guarantee_fee_subsidy' scheme needs subsidised_rate_bp")
        if (self.recognition is None) != (self.recognition_level is None):
            raise ValueError("recognition and recognition_level go together")
        if self.fund is not None and self.yearly_budget_fen is not None:
            raise ValueError(f"scheme {self.id}: paid from fund {self.fund}, it has no yearly_budget_fen of its own")

    @property
    def once_per_product(self) -> bool:
        """A scheme resting on a product's recognition pays once per product."""
        return self.recognition is not None

    def guarantee_fee_formula(self, *, principal_fen: int, fee_fen: int, days: int) -> int:
        """The most a guarantee-fee subsidy pays on one loan, before the caps:
        min(fee paid, principal × subsidised rate × days / 365), in whole fen.

        >>> s = Scheme(id="g", name="G", kind="guarantee_fee_subsidy", granted_by="210200", cap_fen=0,
        ...     subsidised_rate_bp=100)
        >>> s.guarantee_fee_formula(principal_fen=1_000_000_000, fee_fen=15_000_000, days=365)  # 1 % of 10 M
        10000000
        >>> s.guarantee_fee_formula(principal_fen=1_000_000_000, fee_fen=4_000_000, days=365)   # the fee paid
        4000000
        """
        assert self.subsidised_rate_bp is not None
        return min(fee_fen, principal_fen * self.subsidised_rate_bp * days // (10000 * 365))

    def cap_for(self, region: str) -> int:
        for rc in self.region_caps:
            if any(region_covers(r, region) for r in rc.regions):
                return rc.cap_fen
        return self.cap_fen


class ProvincialLevelCity(Struct, kw_only=True):
    """A city that acts as a provincial-level authority in a programme (计划单列市).

    Inside it the city takes the province's part (it decides the provincially decided
    tiers and recommends to the nation), its districts and counties take the city's part
    (they recommend where the programme wants a municipal recommendation), and the parent
    province acts for none of its enterprises.
    """

    code: RegionCode
    name: str
    source: str
    assumption: str = ""  # what of it could not be checked against a text

    def __post_init__(self) -> None:
        if self.code == "000000" or self.code[2:] == "0000" or self.code[4:] != "00":
            raise ValueError(f"code: {self.code!r} is not a city (xxxx00) code")


class Target(Struct, kw_only=True):
    """A target of a plan (目标), as policy data: how many designations of ``programme``'s
    ``tier`` (at ``level``) inside ``region`` there should be ``by`` a date.

    ``kind`` says what is counted (docs/domain.md, "Three counts"): ``cumulative``, the
    subjects ever designated up to ``by``; ``rolling``, the designations valid on ``by``;
    ``new_in_year``, the subjects newly designated in the year of ``by``.  ``count`` is the
    target (the least, when ``max`` gives a range: "80–100").  ``source`` names the document
    that sets it; ``assumption`` what could not be checked against its text; ``since`` the day
    the plan sets it from (a report shows it from then).

    >>> t = Target(label="隐形冠军", programme="qingdao", tier="hidden_champion", region="370200", count=100,
    ...     by=date(2020, 12, 31), kind="cumulative", source="report")
    >>> t.share(80), t.met(100), Target(**{**msgspec.structs.asdict(t), "max": 120}).describe()
    (0.8, True, '100–120')
    """

    label: str  # as the plan says it (Chinese)
    programme: Id  # whose designations count (a city's plan may count the national programme's)
    tier: Id
    level: Level | None = None
    region: RegionCode
    kind: Literal["cumulative", "rolling", "new_in_year"]
    count: Annotated[int, msgspec.Meta(ge=1)]
    max: Annotated[int, msgspec.Meta(ge=1)] | None = None
    by: date
    since: date | None = None  # from when the plan sets it (a report shows it from then)
    source: str
    assumption: str = ""

    def __post_init__(self) -> None:
        if self.since is not None and self.since > self.by:
            raise ValueError(f"target {self.label!r}: since {self.since} is after by {self.by}")
        if not self.source.strip():
            raise ValueError(f"target {self.label!r}: source names the document that sets it")
        if self.max is not None and self.max < self.count:
            raise ValueError(f"target {self.label!r}: max {self.max} < count {self.count}")

    def share(self, actual: int) -> float:
        """How far ``actual`` is toward the target (1.0: reached)."""
        return actual / self.count

    def met(self, actual: int) -> bool:
        return actual >= self.count

    def describe(self) -> str:
        return f"{self.count}–{self.max}" if self.max is not None else str(self.count)


class CitedRule(msgspec.Struct, frozen=True, kw_only=True):
    """One rule of a rule version and where it comes from (:meth:`Programme.citations`).

    ``rule`` names it (``tier specialized.notice_days``, ``scheme hz_listing``, …), ``value``
    shows what the file says; ``source`` and ``assumption`` are the rule's own citation, or,
    when it has none, those of what it belongs to (``inherited`` names that: a programme
    parameter inherits the programme's document and assumption, a tier parameter the tier's,
    a criterion the tier's ``sources.assessment`` citation, else the tier's).  A tier, a
    scheme, a fund, a chain, a recognition, a target and a 计划单列市 inherit nothing: each
    names its own document or says what could not be checked.
    """

    programme: str
    version: str
    rule: str
    value: str
    source: str = ""
    assumption: str = ""
    inherited: str | None = None

    @property
    def key(self) -> str:
        return f"{self.programme}@{self.version}"

    @property
    def cited(self) -> bool:
        """Whether the rule names a source or says what is assumed."""
        return bool(self.source.strip() or self.assumption.strip())


def _shown(value: object) -> str:
    """A policy value as one short line (levels by value, requirements as tier@level)."""
    if isinstance(value, Requirement):
        text = value.tier + (f"@{_shown(value.level)}" if value.level else "")
        text += f" of {value.programme}" if value.programme else ""
        if value.when_revenue_below_fen is not None:
            text += f" when revenue < {_cny(value.when_revenue_below_fen)}"
        return text
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_shown(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(_shown(v) for v in value) or "none"
    if value is None:
        return "none"
    return str(getattr(value, "value", value))


def _cny(fen: int) -> str:
    return f"{fen // 100:,} CNY" if fen % 100 == 0 else f"{fen / 100:,.2f} CNY"


# The tier parameters :meth:`Programme.citations` lists: the windows always, the others when
# they differ from the default or carry a citation of their own.
TIER_WINDOWS = ("validity_years", "validity_start", "notice_days", "review_window_days", "renewal",
                "cooling_off_years")
TIER_PARAMETERS = ("subject", "recommend_levels", "assessing_level", "notice_level", "review_under",
                   "reviewed_on_criteria", "requires", "excludes", "excludes_boards", "excludes_listed", "bars",
                   "recommend_bar_years", "recommend_bar_reasons")
PROGRAMME_PARAMETERS = ("yearly_data_deadline", "change_report_months", "late_yearly_data_forfeits_review",
                        "late_change_forfeits_review", "reconfirm_after")
# What a province's (or a 计划单列市's) 实施细则 may set for a tier it decides, and for the
# programme as a whole: how long the notice runs, when validity starts and how long it lasts,
# how a passed review renews, the review window; the yearly data deadline and what a late
# filing or change report costs.  Not who decides, recommends or assesses, not the ladder,
# not the criteria: those are the programme's own.
OVERRIDABLE_TIER: tuple[str, ...] = ("notice_days", "notice_day_kind", "validity_years", "validity_start",
                                     "review_window_days", "renewal")
OVERRIDABLE_PROGRAMME: tuple[str, ...] = ("yearly_data_deadline", "late_yearly_data_forfeits_review",
                                          "change_report_months", "late_change_forfeits_review")


class Override(Struct, kw_only=True):
    """One ``[[overrides]]`` entry of a provincial programme file: the parameters its
    实施细则 sets for its jurisdiction in another (the national) programme.

    ``programme`` names the overridden programme, ``version`` (optional) the one rule
    version of it the 细则 implements (a 细则 of the 2022 measures does not carry over to
    the 2026 ones), ``tier`` the tier whose parameters it sets (none: programme-level
    parameters), ``from`` the first business date it applies on (none: as long as the
    overriding file's rule version is in force).  Each override names its ``source`` or
    says ``assumption``; :data:`OVERRIDABLE_TIER` and :data:`OVERRIDABLE_PROGRAMME` are all
    it may set (any other key is an unknown field).

    >>> o = Override(programme="national", tier="specialized", validity_start="next_january", source="doc")
    >>> o.params(), o.applies_on(date(2020, 1, 1))
    ({'validity_start': 'next_january'}, True)
    >>> Override(programme="national", tier="specialized", source="doc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: override of national/specialized sets no parameter (it may set notice_days, ...)
    """

    programme: Id
    version: str | None = None
    tier: Id | None = None
    from_: date | None = msgspec.field(default=None, name="from")
    source: str = ""
    assumption: str = ""
    # tier parameters (OVERRIDABLE_TIER)
    notice_days: Days | None = None
    notice_day_kind: Literal["calendar", "working"] | None = None
    validity_years: Annotated[int, msgspec.Meta(ge=1, le=20)] | None = None
    validity_start: Literal["announcement", "next_january"] | None = None
    review_window_days: Days | None = None
    renewal: Literal["extend", "replace"] | None = None
    # programme parameters (OVERRIDABLE_PROGRAMME)
    yearly_data_deadline: MonthDay | None = None
    late_yearly_data_forfeits_review: bool | None = None
    change_report_months: Annotated[int, msgspec.Meta(ge=1, le=24)] | None = None
    late_change_forfeits_review: bool | None = None

    def __post_init__(self) -> None:
        what = f"{self.programme}/{self.tier}" if self.tier else self.programme
        if not (self.source.strip() or self.assumption.strip()):
            raise ValueError(f"override of {what}: name its source (document and article) or say assumption")
        allowed = OVERRIDABLE_TIER if self.tier else OVERRIDABLE_PROGRAMME
        other = OVERRIDABLE_PROGRAMME if self.tier else OVERRIDABLE_TIER
        misplaced = [f for f in other if getattr(self, f) is not None]
        if misplaced:
            where = "a tier override" if self.tier else "a programme override (no tier)"
            raise ValueError(f"override of {what}: {', '.join(misplaced)} cannot be set by {where} "
                             f"(it may set {', '.join(allowed)})")
        if not self.params():
            raise ValueError(f"override of {what} sets no parameter (it may set {', '.join(allowed)})")

    def params(self) -> dict[str, object]:
        """The parameters it sets, by field name."""
        return {f: getattr(self, f) for f in OVERRIDABLE_TIER + OVERRIDABLE_PROGRAMME if getattr(self, f) is not None}

    def applies_on(self, on: date) -> bool:
        return self.from_ is None or self.from_ <= on


def overlay(programme: Programme, overrides: list[tuple[str, Override]]) -> Programme:
    """``programme`` with ``overrides`` laid over it, in order (the most specific last), each
    given with the key of the rule version that holds it (``liaoning@2019``).  The result's
    :attr:`Programme.key` names them: ``national@2022+liaoning@2019``.  This is the one
    function that decides a programme's effective parameters for a region
    (:meth:`PolicyBook.in_force` finds the overrides in force there).

    >>> nat = Programme(id="national", name="N", version="2022", effective_from=date(2022, 6, 1),
    ...     level="national", jurisdiction="000000",
    ...     tiers=[Tier(id="specialized", name="S", deciding_level="provincial", notice_days=7)])
    >>> ln = Override(programme="national", tier="specialized", validity_start="next_january", notice_days=5,
    ...     source="doc")
    >>> p = overlay(nat, [("liaoning@2019", ln)])
    >>> p.key, p.version, p.tier("specialized").notice_days, p.tier("specialized").validity(date(2023, 11, 24))
    ('national@2022+liaoning@2019', '2022', 5, (datetime.date(2024, 1, 1), datetime.date(2027, 1, 1)))
    >>> overlay(nat, []) is nat, nat.tier("specialized").notice_days
    (True, 7)
    """
    if not overrides:
        return programme
    tier_params: dict[str, dict[str, object]] = {}
    programme_params: dict[str, object] = {}
    owners: list[str] = []
    for owner, o in overrides:
        if o.tier is None:
            programme_params.update(o.params())
        else:
            tier_params.setdefault(o.tier, {}).update(o.params())
        if owner not in owners:
            owners.append(owner)
    tiers = [msgspec.structs.replace(t, **tier_params[t.id]) if t.id in tier_params else t
             for t in programme.tiers]
    return msgspec.structs.replace(programme, tiers=tiers, overlaid=[*programme.overlaid, *owners],
                                   **programme_params)


class Programme(Struct, kw_only=True):
    """One rule version of one programme (a policy file).

    Which authority acts at which level is the programme's: by default the GB/T 2260 code
    says (xx0000 a province, xxxx00 a city), except in its ``provincial_level_cities``:

    >>> p = Programme(id="p", name="P", version="1", effective_from=date(2022, 6, 1), level="national",
    ...     jurisdiction="000000", provincial_level_cities=[ProvincialLevelCity(code="210200", name="大连市",
    ...     source="assumption")])
    >>> p.authority_level("210200"), p.authority_level("210213"), p.authority_level("211400")
    ('provincial', 'municipal', 'municipal')
    >>> p.authority_for("provincial", "210213"), p.authority_for("municipal", "210213")
    ('210200', '210213')
    >>> p.authority_for("provincial", "211402"), p.authority_for("municipal", "211402")
    ('210000', '211400')
    >>> p.covers("210000", "210213"), p.covers("210200", "210213"), p.covers("210000", "211402")
    (False, True, True)
    """

    id: Id
    name: str
    version: str
    effective_from: date
    document: str = ""
    level: Level
    jurisdiction: RegionCode
    yearly_data_deadline: MonthDay = "04-30"
    late_yearly_data_forfeits_review: bool = False
    change_report_months: Annotated[int, msgspec.Meta(ge=1, le=24)] = 3
    late_change_forfeits_review: bool = False
    reconfirm_after: list[ChangeKind] = []  # changes after which the deciding authority confirms or ends
    assumption: str = ""
    sources: dict[str, Citation] = {}  # one citation per programme parameter, by field name
    provincial_level_cities: list[ProvincialLevelCity] = []
    tiers: list[Tier] = []
    schemes: list[Scheme] = []
    targets: list[Target] = []
    funds: list[Fund] = []
    chains: list[Chain] = []
    recognitions: list[Recognition] = []
    # a provincial 实施细则: what this programme sets, inside its jurisdiction, in another (see Override)
    overrides: list[Override] = []
    # set by :func:`overlay`, never in a file: the rule versions whose overrides this effective programme holds
    overlaid: list[str] = []

    def __post_init__(self) -> None:
        unknown = sorted(set(self.sources) - set(self.__struct_fields__))
        if unknown:
            raise ValueError(f"programme {self.id}: sources name no parameter {unknown}")
        for i, o in enumerate(self.overrides):
            if o.programme == self.id:
                raise ValueError(f"overrides[{i}].programme: programme {self.id} cannot override itself")
        ids = [t.id for t in self.tiers]
        if len(set(ids)) != len(ids):
            raise ValueError(f"tier ids repeat: {ids}")
        sids = [s.id for s in self.schemes]
        if len(set(sids)) != len(sids):
            raise ValueError(f"scheme ids repeat: {sids}")
        cities = [c.code for c in self.provincial_level_cities]
        if len(set(cities)) != len(cities):
            raise ValueError(f"provincial_level_cities repeat: {cities}")
        for t in self.targets:
            if t.programme == self.id and t.tier not in ids:
                raise ValueError(f"target {t.label!r}: programme {self.id} has no tier {t.tier!r} (tiers: {ids})")
        for what, keys in (("fund", [f.id for f in self.funds]), ("chain", [c.id for c in self.chains]),
                          ("recognition", [r.id for r in self.recognitions])):
            if len(set(keys)) != len(keys):
                raise ValueError(f"{what} ids repeat: {keys}")
        funds = {f.id: f for f in self.funds}
        if set(funds) & set(sids):  # a fund's budget and a scheme's share one key space
            raise ValueError(f"fund ids {sorted(set(funds) & set(sids))} are scheme ids too")
        recognitions = {r.id: r for r in self.recognitions}
        for s in self.schemes:
            if s.fund is not None:
                if s.fund not in funds:
                    raise ValueError(f"scheme {s.id}: no fund {s.fund!r} (funds: {sorted(funds)})")
                if funds[s.fund].granted_by != s.granted_by:
                    raise ValueError(f"scheme {s.id} is granted by {s.granted_by}, its fund {s.fund} by "
                                     f"{funds[s.fund].granted_by}")
            if s.recognition is not None:
                r = recognitions.get(s.recognition)
                if r is None:
                    raise ValueError(f"scheme {s.id}: no recognition {s.recognition!r} (recognitions: "
                                     f"{sorted(recognitions)})")
                if s.recognition_level not in r.levels:
                    raise ValueError(f"scheme {s.id}: recognition {r.id} has no level {s.recognition_level!r}")

    def provincial_level_city(self, region: str) -> str | None:
        """The provincial-level city (计划单列市) of this programme that ``region`` lies in, if any."""
        if region == NATIONAL_REGION or region[2:] == "0000":
            return None
        city = region[:4] + "00"
        return city if any(c.code == city for c in self.provincial_level_cities) else None

    def authority_level(self, authority: str) -> str:
        """The level at which ``authority`` acts in this programme (see the class docstring)."""
        level = Region(authority).level
        city = self.provincial_level_city(authority)
        if city is None:
            return level
        return Level.provincial.value if authority == city else Level.municipal.value

    def authority_for(self, level: str, region: str) -> str:
        """The code of the authority that acts at ``level`` for an enterprise in ``region``."""
        city = self.provincial_level_city(region)
        if city is not None and level == Level.provincial.value:
            return city
        if city is not None and level == Level.municipal.value:
            return region
        return {Level.national.value: NATIONAL_REGION, Level.provincial.value: region[:2] + "0000",
                Level.municipal.value: region[:4] + "00"}.get(level, region)

    def covers(self, authority: str, region: str) -> bool:
        """Whether ``authority`` acts for an enterprise in ``region`` in this programme: its
        region covers the enterprise's, and it is not the parent province of a 计划单列市."""
        if not region_covers(authority, region):
            return False
        return not (Region(authority).level == Level.provincial.value
                    and self.provincial_level_city(region) is not None)

    # Rule 5 (yearly data) and rule 7 (change reports): what a review, a change report and
    # the generator's twin ask of a rule version, in one place.
    def yearly_deadline(self, data_year: int) -> date:
        """The day the yearly data (年度数据更新) for ``data_year`` is due in this version."""
        month, day = (int(x) for x in self.yearly_data_deadline.split("-"))
        return date(data_year + 1, month, day)

    def data_year_on(self, on: date) -> int:
        """The latest data year whose yearly data is due before ``on`` (what a review on ``on``
        rests on).

        >>> p = Programme(id="p", name="P", version="1", effective_from=date(2022, 6, 1), level="national",
        ...     jurisdiction="000000")
        >>> p.data_year_on(date(2024, 4, 30)), p.data_year_on(date(2024, 5, 1))
        (2022, 2023)
        """
        return on.year - 1 if on > self.yearly_deadline(on.year - 1) else on.year - 2

    def late_years_forfeiting(self, late_years: Iterable[int], start: date, on: date) -> list[int]:
        """Rule 5 (63号: 未及时更新企业信息的, 取消复核资格): those of ``late_years`` (yearly data
        filed after its deadline) whose update fell due inside the validity period that began
        on ``start``, before a review on ``on``; none where this version does not forfeit.

        >>> p = Programme(id="p", name="P", version="1", effective_from=date(2022, 6, 1), level="national",
        ...     jurisdiction="000000", late_yearly_data_forfeits_review=True)
        >>> p.late_years_forfeiting([2021, 2022, 2024], date(2022, 9, 1), date(2025, 7, 1))
        [2022, 2024]
        >>> msgspec.structs.replace(p, late_yearly_data_forfeits_review=False).late_years_forfeiting(
        ...     [2022], date(2022, 9, 1), date(2025, 7, 1))
        []
        """
        if not self.late_yearly_data_forfeits_review:
            return []
        return sorted(y for y in late_years if start <= self.yearly_deadline(y) < on)

    def is_major_change(self, kind: str) -> bool:
        """Rule 7: a change this version treats as major (重大变化, due within
        ``change_report_months``): a kind of ``reconfirm_after``, or a relocation."""
        return kind == "relocation" or kind in self.reconfirm_after

    def change_forfeits_review(self, kind: str, late: bool, recorded: bool | None = None) -> bool:
        """Rule 7 (63号: 未在3个月内报告重大变化情况的, 取消复核资格): whether a change of ``kind``,
        reported late (``late``) in a designation's validity, costs its review in this version.
        ``recorded``: what the version in force on the report said (its event's
        ``forfeits_review``); a review counts the report only where its own version forfeits too.

        >>> p = Programme(id="p", name="P", version="1", effective_from=date(2022, 6, 1), level="national",
        ...     jurisdiction="000000", late_change_forfeits_review=True, reconfirm_after=["rename"])
        >>> [p.change_forfeits_review(k, True) for k in ("rename", "relocation", "listing")]
        [True, True, False]
        >>> p.change_forfeits_review("rename", False), p.change_forfeits_review("rename", True, recorded=False)
        (False, False)
        """
        if not self.late_change_forfeits_review:
            return False
        return (late and self.is_major_change(kind)) if recorded is None else recorded

    def reconfirms(self, *, kind: str, level: str, old_region: str, new_region: str | None) -> bool:
        """Rule 7: whether a designation of this programme at ``level`` goes under
        re-confirmation (继续符合条件的有效期不变, or it ends) after a change of ``kind``: a kind of
        ``reconfirm_after``, or a relocation of a non-national designation that changes its
        provincial-level authority (another province, into or out of a 计划单列市).

        >>> p = Programme(id="p", name="P", version="1", effective_from=date(2022, 6, 1), level="national",
        ...     jurisdiction="000000", reconfirm_after=["rename"], provincial_level_cities=[
        ...     ProvincialLevelCity(code="210200", name="大连市", source="assumption")])
        >>> p.reconfirms(kind="rename", level="national", old_region="211402", new_region=None)
        True
        >>> [p.reconfirms(kind="relocation", level=lv, old_region="211402", new_region=r)
        ...  for lv, r in (("provincial", "210213"), ("provincial", "210102"), ("national", "370102"))]
        [True, False, False]
        """
        if kind in self.reconfirm_after:
            return True
        if kind != "relocation" or not new_region or level == Level.national.value:
            return False
        return self.authority_for(Level.provincial.value, old_region) != self.authority_for(
            Level.provincial.value, new_region)

    @property
    def key(self) -> str:
        """What judged a decision, as its event records it: ``national@2022``, or with the
        overrides laid over it ``national@2022+liaoning@2019`` (:func:`parse_key` reads it)."""
        return "+".join([f"{self.id}@{self.version}", *self.overlaid])

    def tier(self, tier_id: str) -> Tier:
        for t in self.tiers:
            if t.id == tier_id:
                return t
        raise RuleViolation("policy", "policy.unknown_tier",
                            f"programme {self.key} has no tier {tier_id!r} (tiers: {[t.id for t in self.tiers]})",
                            field="tier")

    def budget_of(self, scheme: Scheme) -> tuple[str, int | None]:
        """The key of the yearly budget ``scheme`` pays from (its fund's, or its own) and
        that budget in fen (None: unlimited).  Every scheme of a fund counts against it.

        >>> p = Programme(id="dalian", name="D", version="1", effective_from=date(2021, 1, 1), level="provincial",
        ...     jurisdiction="210200", funds=[Fund(id="special", name="F", granted_by="210200",
        ...     yearly_budget_fen=100, source="assumption")], schemes=[Scheme(id="a", name="A", granted_by="210200",
        ...     cap_fen=10, fund="special"), Scheme(id="b", name="B", granted_by="210200", cap_fen=10)])
        >>> p.budget_of(p.scheme("a")), p.budget_of(p.scheme("b"))
        (('special', 100), ('b', None))
        """
        if scheme.fund is None:
            return scheme.id, scheme.yearly_budget_fen
        fund = next(f for f in self.funds if f.id == scheme.fund)
        return fund.id, fund.yearly_budget_fen

    def chain(self, chain_id: str) -> Chain:
        for ch in self.chains:
            if ch.id == chain_id:
                return ch
        raise RuleViolation("policy", "policy.unknown_chain",
                            f"programme {self.key} has no chain {chain_id!r} (chains: {[c.id for c in self.chains]})",
                            field="chain")

    def recognition(self, recognition_id: str) -> Recognition:
        for r in self.recognitions:
            if r.id == recognition_id:
                return r
        raise RuleViolation("policy", "policy.unknown_recognition",
                            f"programme {self.key} has no recognition {recognition_id!r} "
                            f"(recognitions: {[r.id for r in self.recognitions]})", field="recognition")

    def scheme(self, scheme_id: str) -> Scheme:
        for s in self.schemes:
            if s.id == scheme_id:
                return s
        raise RuleViolation("policy", "policy.unknown_scheme",
                            f"programme {self.key} has no scheme {scheme_id!r} "
                            f"(schemes: {[s.id for s in self.schemes]})", field="scheme")

    def citations(self) -> list[CitedRule]:
        """Every rule of this version with its citation, in the order of the file: the
        programme (its document and effective date) and its parameters, the 计划单列市,
        each tier with its windows, parameters, assessment and criteria, then the funds,
        chains, recognitions, schemes and targets.  See :class:`CitedRule` for what a rule
        without a citation of its own inherits.

        >>> p = Programme(id="p", name="P", version="1", effective_from=date(2022, 6, 1), level="provincial",
        ...     jurisdiction="210000", document="X〔2022〕1号", tiers=[Tier(id="t", name="T",
        ...     deciding_level="provincial", source="X〔2022〕1号 第五条",
        ...     sources={"notice_days": Citation(assumption="7 days: no length found")})])
        >>> for r in p.citations()[5:9]:
        ...     print(r.rule, "|", r.value, "|", r.source or "-", "|", r.assumption or "-", "|", r.inherited)
        tier t | T, decided at provincial | X〔2022〕1号 第五条 | - | None
        tier t.validity_years | 3 | X〔2022〕1号 第五条 | - | tier t
        tier t.validity_start | announcement | X〔2022〕1号 第五条 | - | tier t
        tier t.notice_days | 5 calendar days | - | 7 days: no length found | None
        """
        rows: list[CitedRule] = []

        def add(rule: str, value: str, own: Citation, parent: tuple[str, Citation] | None = None) -> None:
            if not (own.source.strip() or own.assumption.strip()) and parent is not None:
                rows.append(CitedRule(programme=self.id, version=self.version, rule=rule, value=value,
                                      source=parent[1].source, assumption=parent[1].assumption, inherited=parent[0]))
            else:
                rows.append(CitedRule(programme=self.id, version=self.version, rule=rule, value=value,
                                      source=own.source, assumption=own.assumption))

        programme = Citation(source=self.document, assumption=self.assumption)
        add("programme", f"{self.name}, in force from {self.effective_from}", programme)
        for field in PROGRAMME_PARAMETERS:
            value = getattr(self, field)
            if field == "reconfirm_after" and not value and field not in self.sources:
                continue
            add(f"programme.{field}", _shown(value), self.sources.get(field, Citation()), ("programme", programme))
        for c in self.provincial_level_cities:
            add(f"provincial_level_city {c.code}", c.name, Citation(source=c.source, assumption=c.assumption))
        default_tier = {f: getattr(_DEFAULT_TIER, f) for f in TIER_PARAMETERS}
        for t in self.tiers:
            own = Citation(source=t.source, assumption=t.assumption)
            name = f"tier {t.id}"
            add(name, f"{t.name}, decided at {_shown(t.deciding_level)}", own)
            parent = (name, own)
            for field in TIER_WINDOWS + TIER_PARAMETERS:
                value = getattr(t, field)
                if field in TIER_PARAMETERS and value == default_tier[field] and field not in t.sources:
                    continue
                shown = f"{value} {t.notice_day_kind} days" if field == "notice_days" else _shown(value)
                add(f"{name}.{field}", shown, t.sources.get(field, Citation()), parent)
            a = t.assessment
            if a.min_score is not None or a.direct_pass or "assessment" in t.sources:
                parts = [f"score >= {a.min_score}"] if a.min_score is not None else []
                parts += [f"{k} >= {v}" for k, v in a.min_components.items()]
                if a.direct_pass:
                    parts.append("or a direct pass: " + ", ".join(a.direct_pass))
                add(f"{name}.assessment", "; ".join(parts) or "criteria only", t.sources.get("assessment", Citation()),
                    parent)
            criteria_parent = (f"{name}.assessment", t.sources["assessment"]) if "assessment" in t.sources else parent
            for i, crit in enumerate(a.criteria, 1):
                label = crit.label or " or ".join(b.describe() for b in crit.any_of)
                add(f"{name} criterion {i}", label + ("" if crit.for_review else " (not for review)"),
                    Citation(source=crit.source, assumption=crit.assumption), criteria_parent)
        for f in self.funds:
            budget = "unlimited" if f.yearly_budget_fen is None else f"{_cny(f.yearly_budget_fen)} a year"
            add(f"fund {f.id}", f"{f.name}, {budget}", Citation(source=f.source, assumption=f.assumption))
        for ch in self.chains:
            add(f"chain {ch.id}", ch.name, Citation(source=ch.source, assumption=ch.assumption))
        for r in self.recognitions:
            add(f"recognition {r.id}", f"{r.name} ({_shown(r.levels)})", Citation(source=r.source,
                                                                                 assumption=r.assumption))
        for s in self.schemes:
            value = f"{s.name}: {s.kind}, cap {_cny(s.cap_fen)}"
            if s.yearly_budget_fen is not None:
                value += f", {_cny(s.yearly_budget_fen)} a year"
            add(f"scheme {s.id}", value, Citation(source=s.source, assumption=s.assumption))
        for tg in self.targets:
            add(f"target {tg.label}", f"{tg.describe()} {tg.programme}/{tg.tier} in {tg.region} by {tg.by} ({tg.kind})",
                Citation(source=tg.source, assumption=tg.assumption))
        for o in self.overrides:  # a provincial 实施细则 laid over another programme's tier
            where = f"{o.programme}@{o.version}" if o.version else o.programme
            value = ", ".join(f"{k}={_shown(v)}" for k, v in o.params().items())
            if o.from_ is not None:
                value += f" from {o.from_}"
            add(f"override {where}/{o.tier or '(programme)'}", value,
                Citation(source=o.source, assumption=o.assumption))
        return rows


def decode_programme(data: bytes | str) -> Programme:
    """Decode one TOML programme file; raises ``msgspec.ValidationError`` naming the field."""
    p = msgspec.toml.decode(data, type=Programme)
    if p.overlaid:
        raise msgspec.ValidationError("`overlaid` is set by the policy book, never in a file - at `$.overlaid`")
    return p


def parse_key(key: str) -> list[tuple[str, str]]:
    """The rule versions an event's ``policy`` key names, the judged programme's first.

    >>> parse_key("national@2022+liaoning@2019"), parse_key("qingdao@2016")
    ([('national', '2022'), ('liaoning', '2019')], [('qingdao', '2016')])
    """
    out = []
    for part in key.split("+"):
        pid, _, version = part.partition("@")
        out.append((pid, version))
    return out


class PolicyBook:
    """Every rule version of every programme, answering which one is in force on a date."""

    def __init__(self, programmes: list[Programme]):
        self._versions: dict[str, list[Programme]] = {}
        for p in sorted(programmes, key=lambda p: (p.id, p.effective_from)):
            versions = self._versions.setdefault(p.id, [])
            if versions and versions[-1].effective_from == p.effective_from:
                raise ValueError(f"programme {p.id!r}: versions {versions[-1].version} and {p.version} "
                                 f"take effect on the same day {p.effective_from}")
            versions.append(p)
        # when each version takes effect, by programme (in_force bisects them for every command)
        self._starts: dict[str, list[date]] = {pid: [v.effective_from for v in vs] for pid, vs in self._versions.items()}
        for p in programmes:  # a target counts another programme's tier: that programme must have it
            for t in p.targets:
                if t.programme not in self._versions or not any(
                        tier.id == t.tier for v in self._versions[t.programme] for tier in v.tiers):
                    raise ValueError(f"{p.key}: target {t.label!r} counts {t.programme}/{t.tier}, "
                                     f"which no rule version has")
        # overrides (实施细则), by the programme they override: (the rule version holding it, the override)
        self._overrides: dict[str, list[tuple[Programme, Override]]] = {}
        self._overlaid: dict[tuple[str, str, tuple[int, ...]], tuple[Programme, Programme]] = {}
        for p in programmes:
            for i, o in enumerate(p.overrides):
                self._check_override(p, i, o)
                self._overrides.setdefault(o.programme, []).append((p, o))
        for p in programmes:  # a tier's reviews judged by another version: that version must have the tier
            for tier in p.tiers:
                if tier.review_under is None:
                    continue
                judge = next((v for v in self._versions[p.id] if v.version == tier.review_under), None)
                if judge is None or all(x.id != tier.id for x in judge.tiers):
                    raise ValueError(f"{p.key}: tier {tier.id} is reviewed under version {tier.review_under!r}, "
                                     f"which {'has no tier ' + tier.id if judge else 'programme ' + p.id + ' has not'}")

    def _check_override(self, p: Programme, i: int, o: Override) -> None:
        """An override is refused at load unless the programme and tier it names exist, the
        tier is decided at provincial level, and ``p``'s jurisdiction acts at provincial level
        in the overridden programme (a province, or one of its 计划单列市)."""
        where = f"{p.key}: overrides[{i}]"
        targets = self._versions.get(o.programme)
        if not targets:
            raise ValueError(f"{where}.programme: no programme {o.programme!r} (known: {self.programme_ids()})")
        if o.version is not None:
            targets = [v for v in targets if v.version == o.version]
            if not targets:
                raise ValueError(f"{where}.version: programme {o.programme!r} has no rule version {o.version!r} "
                                 f"(versions: {[v.version for v in self._versions[o.programme]]})")
        if not any(v.authority_level(p.jurisdiction) == Level.provincial.value for v in targets):
            raise ValueError(f"{where}: jurisdiction {p.jurisdiction} of {p.id} is not a province or 计划单列市 "
                             f"in {o.programme}; only a provincial-level authority's 实施细则 overrides it")
        if o.tier is not None:
            tiers = [t for v in targets for t in v.tiers if t.id == o.tier]
            if not tiers:
                raise ValueError(f"{where}.tier: programme {o.programme!r} has no tier {o.tier!r} "
                                 f"(tiers: {sorted({t.id for v in targets for t in v.tiers})})")
            if any(t.deciding_level != Level.provincial for t in tiers):
                raise ValueError(f"{where}.tier: {o.programme}/{o.tier} is not decided at provincial level; "
                                 f"a province sets the parameters only of the tiers it decides")

    def overrides_of(self, programme_id: str) -> list[tuple[Programme, Override]]:
        """Every override of ``programme_id`` in any rule version, with the version holding it."""
        return list(self._overrides.get(programme_id, []))

    def programme_ids(self) -> list[str]:
        return sorted(self._versions)

    def versions(self, programme_id: str) -> list[Programme]:
        return list(self._versions.get(programme_id, []))

    def in_force(self, programme_id: str, on: date, region: str | None = None) -> Programme:
        """The rule version of ``programme_id`` in force on ``on``; for an enterprise in
        ``region``, with the overrides in force there laid over it (:meth:`overlaid`)."""
        base = self._base_in_force(programme_id, on)
        return base if region is None else self.overlaid(base, on, region)

    def overlaid(self, programme: Programme, on: date, region: str) -> Programme:
        """``programme`` (a rule version, whichever judges) as it applies on ``on`` to an
        enterprise in ``region``: the overrides of the programmes whose jurisdiction acts at
        provincial level for the region in it (``Programme.covers``: a 计划单列市's own, not its
        province's), whose rule version in force on ``on`` holds them, that apply to this
        version and from their ``from`` date; the most specific jurisdiction last."""
        candidates = self._overrides.get(programme.id)
        if not candidates or programme.overlaid:
            return programme
        chosen: list[tuple[int, int, Programme, Override]] = []
        for n, (owner, o) in enumerate(candidates):
            if (o.version is not None and o.version != programme.version) or not o.applies_on(on):
                continue
            prefix = owner.jurisdiction[:2] if owner.jurisdiction[2:] == "0000" else owner.jurisdiction[:4]
            if not region.startswith(prefix) or not programme.covers(owner.jurisdiction, region):
                continue
            try:
                if self._base_in_force(owner.id, on) is not owner:
                    continue
            except RuleViolation:
                continue
            depth = 0 if owner.jurisdiction[2:] == "0000" else 1
            chosen.append((depth, n, owner, o))
        if not chosen:
            return programme
        chosen.sort(key=lambda c: (c[0], c[1]))
        key = (programme.id, programme.version, tuple(n for _, n, _, _ in chosen))
        hit = self._overlaid.get(key)
        if hit is not None and hit[0] is programme:
            return hit[1]
        result = overlay(programme, [(owner.key, o) for _, _, owner, o in chosen])
        # kept for the book's own versions (the same object again and again); a programme made
        # elsewhere (a copy, a reviewing version built on the fly) is laid over each time
        if any(v is programme for v in self._versions.get(programme.id, ())):
            self._overlaid[key] = (programme, result)
        return result

    def _base_in_force(self, programme_id: str, on: date) -> Programme:
        versions = self._versions.get(programme_id)
        if not versions:
            raise RuleViolation("policy", "policy.unknown_programme",
                                f"no programme {programme_id!r} (known: {self.programme_ids()})",
                                field="programme")
        i = bisect.bisect_right(self._starts[programme_id], on)
        if i == 0:
            raise RuleViolation("policy", "policy.not_in_force",
                                f"programme {programme_id!r} has no rule version in force on {on}",
                                field="programme")
        return versions[i - 1]

    def tier_for_label(self, programme_id: str, tier_id: str, on: date) -> Tier | None:
        """The tier that names and describes ``programme_id``/``tier_id`` for a report on ``on``:
        the version in force then, else the latest version of the programme that has the tier,
        else (a tier the programme no longer has: 制造业单项冠军 moved from ``national`` to
        ``champion``) the version in force on ``on``, or the latest, of another programme that has
        a tier of that id.  None when no version of any programme has it.  Designations stored
        under the old programme keep loading and counting; only their label comes from here.

        >>> t = lambda i, n: Tier(id=i, name=n, deciding_level="national")
        >>> book = PolicyBook([Programme(id="a", name="A", version="1", effective_from=date(2016, 1, 1),
        ...     level="national", jurisdiction="000000", tiers=[t("x", "X")]),
        ...     Programme(id="b", name="B", version="1", effective_from=date(2016, 1, 1), level="national",
        ...     jurisdiction="000000", tiers=[t("moved", "Moved")])])
        >>> book.tier_for_label("a", "x", date(2020, 1, 1)).name, book.tier_for_label("a", "moved", date(2020, 1, 1)).name
        ('X', 'Moved')
        >>> book.tier_for_label("a", "gone", date(2020, 1, 1)) is None
        True
        """
        for pid in [programme_id] + [p for p in self.programme_ids() if p != programme_id]:
            versions = self._versions.get(pid, [])
            i = bisect.bisect_right(self._starts.get(pid, []), on)
            for v in ([versions[i - 1]] if i else []) + list(reversed(versions)):
                for t in v.tiers:
                    if t.id == tier_id:
                        return t
        return None
    def reviewing(self, programme_id: str, tier_id: str, on: date, region: str | None = None) -> Programme:
        """The rule version that judges a review (复核) of a ``tier_id`` designation on ``on`` (for
        an enterprise in ``region``: with the overrides in force there laid over it, as
        :meth:`in_force`): the version in force then, unless its tier names another one (``Tier.review_under``:
        工信厅企业函〔2026〕117号 has the 2026 reviews of little giants follow the 2022 standard).

        >>> v22 = Programme(id="p", name="P", version="2022", effective_from=date(2022, 6, 1), level="national",
        ...     jurisdiction="000000", tiers=[Tier(id="t", name="T", deciding_level="national")])
        >>> v26 = Programme(id="p", name="P", version="2026", effective_from=date(2026, 4, 1), level="national",
        ...     jurisdiction="000000", tiers=[Tier(id="t", name="T", deciding_level="national", review_under="2022"),
        ...     Tier(id="u", name="U", deciding_level="national")])
        >>> book = PolicyBook([v22, v26])
        >>> book.reviewing("p", "t", date(2026, 5, 1)).key, book.reviewing("p", "u", date(2026, 5, 1)).key
        ('p@2022', 'p@2026')
        >>> book.reviewing("p", "t", date(2025, 5, 1)).key
        'p@2022'
        """
        p = self.in_force(programme_id, on, region)
        tier = next((t for t in p.tiers if t.id == tier_id), None)
        if tier is None or tier.review_under is None or tier.review_under == p.version:
            return p  # (no such tier: the review refuses it, naming the version in force)
        judge = next(v for v in self._versions[programme_id] if v.version == tier.review_under)
        return judge if region is None else self.overlaid(judge, on, region)
