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

    def validity(self, approved_on: date) -> tuple[date, date]:
        """valid_from and (exclusive) valid_until of a designation approved on ``approved_on``."""
        start = approved_on if self.validity_start == "announcement" else date(approved_on.year + 1, 1, 1)
        return start, add_years(start, self.validity_years)


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


class Chain(Struct, kw_only=True):
    """An industrial chain (产业链) enterprises are tagged on (一链一策一批)."""

    id: Id
    name: str
    source: str


class Recognition(Struct, kw_only=True):
    """A recognition of a product (首台套认定) that a scheme's reward rests on, and the
    authorities that record it."""

    id: Id
    name: str
    recognised_by: list[RegionCode]
    levels: list[RecognitionLevel]
    source: str


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

    def __post_init__(self) -> None:
        unknown = sorted(set(self.sources) - set(self.__struct_fields__))
        if unknown:
            raise ValueError(f"programme {self.id}: sources name no parameter {unknown}")
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

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def tier(self, tier_id: str) -> Tier:
        for t in self.tiers:
            if t.id == tier_id:
                return t
        raise RuleViolation("policy", "policy.unknown_tier",
                            f"programme {self.key} has no tier {tier_id!r} (tiers: {[t.id for t in self.tiers]})",
                            field="tier")

    def due_data_year(self, on: date) -> int:
        """The last data year whose yearly data (年度数据更新) is due by ``on``: the year before
        ``on`` once this version's deadline has passed, the year before that until then.  A
        review on ``on`` needs it filed and is judged on it as its last data year.

        >>> p = Programme(id="p", name="P", version="1", effective_from=date(2022, 6, 1), level="national",
        ...     jurisdiction="000000", yearly_data_deadline="05-31")
        >>> p.due_data_year(date(2026, 5, 31)), p.due_data_year(date(2026, 6, 1))
        (2024, 2025)
        """
        month, day = (int(x) for x in self.yearly_data_deadline.split("-"))
        return on.year - 1 if on > date(on.year, month, day) else on.year - 2

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


def decode_programme(data: bytes | str) -> Programme:
    """Decode one TOML programme file; raises ``msgspec.ValidationError`` naming the field."""
    return msgspec.toml.decode(data, type=Programme)


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
        for p in programmes:  # a target counts another programme's tier: that programme must have it
            for t in p.targets:
                if t.programme not in self._versions or not any(
                        tier.id == t.tier for v in self._versions[t.programme] for tier in v.tiers):
                    raise ValueError(f"{p.key}: target {t.label!r} counts {t.programme}/{t.tier}, "
                                     f"which no rule version has")
        for p in programmes:  # a tier's reviews judged by another version: that version must have the tier
            for tier in p.tiers:
                if tier.review_under is None:
                    continue
                judge = next((v for v in self._versions[p.id] if v.version == tier.review_under), None)
                if judge is None or all(x.id != tier.id for x in judge.tiers):
                    raise ValueError(f"{p.key}: tier {tier.id} is reviewed under version {tier.review_under!r}, "
                                     f"which {'has no tier ' + tier.id if judge else 'programme ' + p.id + ' has not'}")

    def programme_ids(self) -> list[str]:
        return sorted(self._versions)

    def versions(self, programme_id: str) -> list[Programme]:
        return list(self._versions.get(programme_id, []))

    def in_force(self, programme_id: str, on: date) -> Programme:
        versions = self._versions.get(programme_id)
        if not versions:
            raise RuleViolation("policy", "policy.unknown_programme",
                                f"no programme {programme_id!r} (known: {self.programme_ids()})",
                                field="programme")
        i = bisect.bisect_right([v.effective_from for v in versions], on)
        if i == 0:
            raise RuleViolation("policy", "policy.not_in_force",
                                f"programme {programme_id!r} has no rule version in force on {on}",
                                field="programme")
        return versions[i - 1]

    def reviewing(self, programme_id: str, tier_id: str, on: date) -> Programme:
        """The rule version that judges a review (复核) of a ``tier_id`` designation on ``on``:
        the version in force then, unless its tier names another one (``Tier.review_under``:
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
        p = self.in_force(programme_id, on)
        tier = next((t for t in p.tiers if t.id == tier_id), None)
        if tier is None or tier.review_under is None or tier.review_under == p.version:
            return p  # (no such tier: the review refuses it, naming the version in force)
        return next(v for v in self._versions[programme_id] if v.version == tier.review_under)
