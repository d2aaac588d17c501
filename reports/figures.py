"""``cultivation report``: the statistics in the form the reports use (统计报告).

:func:`build_report` computes, from the read model (``infra.readmodel``) and the policy
book, for a region (with its sub-regions) on a business date:

1. ``counts``: designations valid on the date per programme, tier and level, in total and
   per sub-region (a province's cities, a city's counties, the country's provinces), with
   the tier's Chinese name from the rule version in force on the date;
2. ``expiring``: designations valid on the date that are no longer valid 90 days later
   (``valid_until <= as_of + 90 days``), renewed ones left out (their successor goes on);
   ``review_due``: designations inside their tier's review window on the date, not yet
   reviewed (passed or failed) for the period ending then, not revoked.  Both judge each
   designation as it stood on the date: a review recorded later does not hide it
   (``projections.reviews``);
3. ``rewards``: per scheme and budget year, the rewards paid inside the region up to the
   date (granted, clawed back, net) against the scheme's yearly budget (the budget, what
   the whole scheme has used of it, what is left).  A claw-back counts against the year
   the reward was paid from, as the budget refund does;
4. ``series``: the pool size per programme, tier and level at every month-end up to the
   date, and on the date, inside the region: each point counts the designations valid on
   it as they stood on it (their versions, ``projections.pools``), one pass over the
   versions with a difference array per series.

Beside the valid counts, each ``counts`` row has ``ever`` (the subjects, enterprises or
products, ever designated up to the date) and ``new`` (those newly designated in the date's
year, up to the date), in total and per sub-region (docs/domain.md, "Three counts";
:func:`domain.validity.first_designations`);

5. ``batches``: per programme, tier, level and batch (第N批): recommended, approved (up to the
   date, whatever happened after), the batch's approval dates ("5批798项": five lines);
6. ``targets``: each target of a rule version in force on the date (``[[targets]]`` of the
   policy files) whose region lies inside the report's, set by then: the count it asks for,
   the actual count on the target's date or the report's if earlier, the share reached.

Every section is as of the date: designations, names and regions as they stood on it,
nothing dated after it.

Renderers: a rich table (``table``), JSON (one object, money in integer fen), CSV (one
section per table, or ``--table`` for one) and a self-contained HTML page (UTF-8, Chinese
labels, inline CSS and SVG chart, no network references).
"""

from __future__ import annotations

import bisect
import calendar
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import msgspec

from domain.errors import LedgerError
from domain.policy import PolicyBook, Tier
from domain.validity import end_of_validity, first_designations, in_force_on, newly_designated
from domain.values import Level, Region, region_covers
from projections.pools import Designation, batch_lines
from projections.reviews import ReviewRow, state_on
from projections.rewards import BudgetRow, RewardRow

EXPIRY_DAYS = 90
SECTIONS = ("counts", "series", "expiring", "review_due", "rewards", "batches", "targets")


# ---------------------------------------------------------------------------- the report
class CountRow(msgspec.Struct, kw_only=True):
    programme: str
    programme_name: str
    tier: str
    tier_name: str
    level: str
    level_name: str
    total: int  # valid on the date
    by_region: dict[str, int]  # sub-region code -> count (empty for a county)
    ever: int = 0  # subjects ever designated up to the date
    new: int = 0  # subjects newly designated in the date's year (Report.year), up to the date
    ever_by_region: dict[str, int] = {}
    new_by_region: dict[str, int] = {}


class BatchRow(msgspec.Struct, kw_only=True):
    """One batch (第N批) of one programme's tier at one level."""

    programme: str
    programme_name: str
    tier: str
    tier_name: str
    level: str
    level_name: str
    batch: int
    batch_label: str  # 第五批
    recommended: int
    approved: int
    first_approved_on: str | None
    last_approved_on: str | None


class TargetRow(msgspec.Struct, kw_only=True):
    """Progress against one target of the policy files."""

    label: str
    programme: str  # the programme that sets the target
    counts_programme: str  # whose designations it counts
    tier: str
    tier_name: str
    level: str | None
    region: str
    kind: str  # cumulative | rolling | new_in_year
    target: int
    target_max: int | None
    by: str
    counted_on: str  # the target's date, or the report's if earlier
    actual: int
    share_bp: int  # actual / target in basis points (10000: reached)
    met: bool
    source: str
    assumption: str


class Listed(msgspec.Struct, kw_only=True):
    """A designation on one of the lists, as it stood on the report's date."""

    uscc: str
    name: str
    region: str
    programme: str
    tier: str
    tier_name: str
    level: str
    level_name: str
    application_id: str
    product_name: str | None
    valid_from: str
    valid_until: str  # exclusive, as everywhere in the ledger
    last_day: str  # the last day of validity (valid_until - 1 day), as documents print it
    days_left: int  # days from the report's date to valid_until
    window_opens: str | None = None  # review window (review_due only)


class RewardLine(msgspec.Struct, kw_only=True):
    programme: str
    programme_name: str
    scheme: str
    scheme_name: str
    year: int
    rewards: int  # rewards paid inside the region
    granted_fen: int
    clawed_back_fen: int
    net_fen: int
    budget_fen: int | None  # the scheme's yearly budget, or its fund's (None: no budget)
    budget_used_fen: int  # net paid by the whole scheme, or every scheme of its fund, in that year (every region)
    remaining_fen: int | None
    fund: str | None = None  # the fund (专项资金) whose one budget pays the scheme


class RewardTotals(msgspec.Struct, kw_only=True):
    rewards: int
    granted_fen: int
    clawed_back_fen: int
    net_fen: int


class Series(msgspec.Struct, kw_only=True):
    programme: str
    tier: str
    level: str
    label: str  # tier name and level, as the chart's legend shows it
    counts: list[int]  # one per month-end of Report.months


class Report(msgspec.Struct, kw_only=True):
    as_of: str
    region: str | None  # None: the whole country
    region_level: str
    chain: str | None = None  # only enterprises tagged on this industrial chain on as_of
    sub_regions: list[str]
    position: int  # ledger position the read model stood at: "as recorded up to"
    as_recorded: str | None = None  # the ledger time asked for with --as-recorded (position: the last recorded by then)
    counts: list[CountRow]
    expiring_days: int
    expiring: list[Listed]
    review_due: list[Listed]
    rewards: list[RewardLine]
    reward_totals: RewardTotals
    months: list[str]  # month-end dates of the series
    series: list[Series]
    year: int = 0  # the year whose new designations CountRow.new counts (the date's)
    batches: list[BatchRow] = []
    targets: list[TargetRow] = []


# ---------------------------------------------------------------------------- policy look-ups
def _tier_policy(book: PolicyBook, programme: str, tier: str, on: date, region: str | None = None) -> Tier | None:
    """The tier in the rule version in force on ``on`` (for an enterprise in ``region``, with
    its province's overrides); else in the latest version that has it; else, for a tier the
    programme no longer has, the programme's that has it now
    (:meth:`~domain.policy.PolicyBook.tier_for_label`)."""
    try:
        return book.in_force(programme, on, region).tier(tier)
    except LedgerError:
        return book.tier_for_label(programme, tier, on)


def _programme_name(book: PolicyBook, programme: str, on: date) -> str:
    try:
        return book.in_force(programme, on).name
    except LedgerError:
        versions = book.versions(programme)
        return versions[-1].name if versions else programme


def _scheme_name(book: PolicyBook, programme: str, scheme: str, on: date) -> str:
    try:
        return book.in_force(programme, on).scheme(scheme).name
    except LedgerError:
        for version in reversed(book.versions(programme)):
            for s in version.schemes:
                if s.id == scheme:
                    return s.name
    return scheme


def level_name(level: str) -> str:
    try:
        return Level(level).label
    except ValueError:
        return level


def _sub_region(region: str | None, code: str) -> str | None:
    """The sub-region of ``region`` that ``code`` lies in (None below a county)."""
    level = Region(region).level if region else "national"
    if level == "national":
        return code[:2] + "0000"
    if level == "provincial":
        return code[:4] + "00"
    if level == "municipal":
        return code
    return None


def _month_ends(first_year: int, until: str) -> list[str]:
    """The month-ends from January of ``first_year`` before ``until``, then ``until`` itself:
    the chart ends on the report's date (nothing dated after it counts)."""
    ends = [date(y, m, calendar.monthrange(y, m)[1]).isoformat()
            for y in range(first_year, int(until[:4]) + 1) for m in range(1, 13)]
    return [m for m in ends if m < until] + [until]


def _end_of_validity(d: Designation) -> str:
    """The first day ``d`` is no longer valid (valid_until, or an earlier revocation or end)."""
    assert d.valid_until is not None
    return end_of_validity(d.valid_until, d.revoked_on, d.ended_on)


# ---------------------------------------------------------------------------- building
def build_report(rm: Any, book: PolicyBook, *, as_of: str, region: str | None = None,
                 chain: str | None = None) -> Report:
    """The report for ``region`` (None: the whole country) on business date ``as_of``, from
    read model ``rm`` (caught up first when it follows the store).  With ``chain``, every
    section counts only the enterprises tagged on that industrial chain on ``as_of``."""
    if rm.follows_store:
        rm.catch_up()
    position = rm.position()
    on = date.fromisoformat(as_of)
    tagged = rm.on_chain(chain, as_of) if chain else None
    # Every designation as it stood on the date (its version in force then, in the region it
    # had then), and for the chart every version begun by the date.
    every = [v for v in rm.versions("designation", upto=as_of, region=region)
             if tagged is None or v.row.enterprise_id in tagged]
    versions = [v for v in every if v.row.status == "approved" and v.row.valid_from and v.row.valid_until]
    approved: list[Designation] = [v.row for v in versions if in_force_on(v.row.since, v.until, as_of)]
    ents = {d.enterprise_id for d in approved}
    reviews: dict[tuple[str, str], list[ReviewRow]] = defaultdict(list)
    for r in rm.rows("review"):
        if r.enterprise_id in ents:
            reviews[(r.enterprise_id, r.application_id)].append(r)

    # Which series (programme, tier, level) the report shows, in ladder order.
    def order(key: tuple[str, str, str]) -> tuple[Any, ...]:
        programme, tier, level = key
        try:
            tiers = [t.id for t in book.in_force(programme, on).tiers]
        except LedgerError:
            versions = book.versions(programme)
            tiers = [t.id for t in versions[-1].tiers] if versions else []
        rank = tiers.index(tier) if tier in tiers else len(tiers)
        lvl = Level(level).rank if level in Level.__members__ else -1
        return (programme != "national", programme, rank, -lvl, tier)

    keys = sorted({(v.row.programme, v.row.tier, v.row.level) for v in versions}, key=order)
    tier_names = {}
    for key in keys:
        t = _tier_policy(book, key[0], key[1], on)
        tier_names[key] = t.name if t else key[1]

    # 1. counts, and 2. the lists, in one pass
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    by_region: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    expiring: list[Listed] = []
    review_due: list[Listed] = []
    horizon = (on + timedelta(days=EXPIRY_DAYS)).isoformat()
    windows: dict[tuple[str, str, str], int | None] = {}
    for d in approved:
        if not d.valid_on(as_of):
            continue
        key = (d.programme, d.tier, d.level)
        totals[key] += 1
        sub = _sub_region(region, d.region)
        if sub is not None:
            by_region[key][sub] += 1
        st = state_on(d, reviews.get((d.enterprise_id, d.application_id), ()), as_of)
        until = st.valid_until or d.valid_until
        assert until is not None

        def listed(window_opens: str | None = None) -> Listed:
            assert d.valid_from is not None
            u = date.fromisoformat(until)
            return Listed(uscc=d.uscc, name=d.name, region=d.region, programme=d.programme, tier=d.tier,
                          tier_name=tier_names[key], level=d.level, level_name=level_name(d.level),
                          application_id=d.application_id, product_name=d.product_name, valid_from=d.valid_from,
                          valid_until=until, last_day=(u - timedelta(days=1)).isoformat(), days_left=(u - on).days,
                          window_opens=window_opens)

        if until <= horizon and not st.renewed:
            expiring.append(listed())
        wkey = (d.programme, d.tier, d.region)  # a province's 实施细则 may set its own window
        if wkey not in windows:
            t = _tier_policy(book, d.programme, d.tier, on, d.region)
            windows[wkey] = t.review_window_days if t else None
        window = windows[wkey]
        if window and not st.reviewed:
            opens = (date.fromisoformat(until) - timedelta(days=window)).isoformat()
            if opens <= as_of:
                review_due.append(listed(opens))
    def sort_key(x: Listed) -> tuple[str, ...]:
        return x.valid_until, x.region, x.uscc, x.tier, x.application_id

    expiring.sort(key=sort_key)
    review_due.sort(key=sort_key)
    # ever designated up to the date, and newly designated in its year: each subject's first approval
    by_key: dict[tuple[str, str, str], list[Designation]] = defaultdict(list)
    for d in approved:
        by_key[(d.programme, d.tier, d.level)].append(d)
    ever: dict[tuple[str, str, str], dict[str | None, int]] = {}
    new: dict[tuple[str, str, str], dict[str | None, int]] = {}
    for key, rows in by_key.items():
        e_counts: dict[str | None, int] = defaultdict(int)
        n_counts: dict[str | None, int] = defaultdict(int)
        for d in first_designations(rows, as_of).values():
            assert d.approved_on is not None
            sub = _sub_region(region, d.region)
            e_counts[None] += 1
            if sub is not None:
                e_counts[sub] += 1
            if newly_designated(on.year, d.approved_on):
                n_counts[None] += 1
                if sub is not None:
                    n_counts[sub] += 1
        ever[key], new[key] = e_counts, n_counts

    def split(c: dict[str | None, int] | None) -> tuple[int, dict[str, int]]:
        c = c or {}
        return c.get(None, 0), {s: n for s, n in sorted((s, n) for s, n in c.items() if s is not None)}

    sub_regions = sorted({s for counts in by_region.values() for s in counts}
                         | {s for c in ever.values() for s in c if s is not None})
    counts = []
    for k in keys:
        ever_total, ever_subs = split(ever.get(k))
        new_total, new_subs = split(new.get(k))
        counts.append(CountRow(programme=k[0], programme_name=_programme_name(book, k[0], on), tier=k[1],
                               tier_name=tier_names[k], level=k[2], level_name=level_name(k[2]),
                               total=totals.get(k, 0),
                               by_region=dict(sorted(by_region[k].items())) if k in by_region else {},
                               ever=ever_total, new=new_total, ever_by_region=ever_subs, new_by_region=new_subs))

    # 3. rewards against budgets (a fund's budget is used by every scheme of the fund)
    lines: dict[tuple[str, str, int], list[int]] = {}  # -> [rewards, granted, clawed back]
    used: dict[tuple[str, str, int], int] = defaultdict(int)  # by budget key: (programme, scheme or fund, year)
    reward_rows: list[RewardRow] = rm.rows("reward")
    funds: dict[tuple[str, str, int], str | None] = {}

    def fund_of(programme: str, scheme: str, year: int) -> str | None:
        if (programme, scheme, year) not in funds:
            try:
                funds[(programme, scheme, year)] = book.in_force(programme, date(year, 12, 31)).scheme(scheme).fund
            except LedgerError:
                funds[(programme, scheme, year)] = None
        return funds[(programme, scheme, year)]

    for r in reward_rows:
        if r.granted_on > as_of:
            continue
        back = r.clawed_back_on(as_of)
        key3 = (r.programme, r.scheme, r.year)
        used[(r.programme, fund_of(*key3) or r.scheme, r.year)] += r.amount_fen - back
        if region and not region_covers(region, r.region):
            continue
        if tagged is not None and r.enterprise_id not in tagged:
            continue
        line = lines.setdefault(key3, [0, 0, 0])
        line[0] += 1
        line[1] += r.amount_fen
        line[2] += back
    budgets: dict[tuple[str, str, int], BudgetRow] = {(b.programme, b.scheme, b.year): b
                                                      for b in rm.rows("budget")}
    rewards = []
    for (programme, scheme, year), (n, granted, back) in sorted(lines.items()):
        fund = fund_of(programme, scheme, year)
        b = budgets.get((programme, fund or scheme, year))
        budget = b.budget_fen if b else None
        spent = used[(programme, fund or scheme, year)]
        rewards.append(RewardLine(
            programme=programme, programme_name=_programme_name(book, programme, on), scheme=scheme,
            scheme_name=_scheme_name(book, programme, scheme, date(year, 12, 31)),
            year=year, rewards=n, granted_fen=granted, clawed_back_fen=back, net_fen=granted - back,
            budget_fen=budget, budget_used_fen=spent, remaining_fen=None if budget is None else budget - spent,
            fund=fund))
    reward_totals = RewardTotals(rewards=sum(x.rewards for x in rewards),
                                 granted_fen=sum(x.granted_fen for x in rewards),
                                 clawed_back_fen=sum(x.clawed_back_fen for x in rewards),
                                 net_fen=sum(x.net_fen for x in rewards))

    # 4. pool sizes at month-ends: one pass, a difference array per series
    months: list[str] = []
    series: list[Series] = []
    if versions:
        first = min(int(v.row.valid_from[:4]) for v in versions if v.row.valid_from)
        months = _month_ends(min(first, on.year), as_of)
        index = {k: i for i, k in enumerate(keys)}
        diff = [[0] * (len(months) + 1) for _ in keys]
        for v in versions:  # a point counts a designation valid on it, as it stood on it
            d = v.row
            assert d.valid_from is not None
            lo = bisect.bisect_left(months, max(d.valid_from, d.since))
            end = _end_of_validity(d)
            hi = bisect.bisect_left(months, end if v.until is None else min(end, v.until))
            if lo < hi:
                row = diff[index[(d.programme, d.tier, d.level)]]
                row[lo] += 1
                row[hi] -= 1
        for k, row in zip(keys, diff):
            running, counts_k = 0, []
            for delta in row[:-1]:
                running += delta
                counts_k.append(running)
            series.append(Series(programme=k[0], tier=k[1], level=k[2],
                                 label=f"{tier_names[k]}（{level_name(k[2])}）", counts=counts_k))
    # 5. batches, and 6. targets
    batches = [BatchRow(programme=b.programme, programme_name=_programme_name(book, b.programme, on), tier=b.tier,
                        tier_name=_tier_name(book, b.programme, b.tier, on), level=b.level,
                        level_name=level_name(b.level), batch=b.batch, batch_label=batch_label(b.batch),
                        recommended=b.recommended, approved=b.approved, first_approved_on=b.first_approved_on,
                        last_approved_on=b.last_approved_on)
               for b in sorted(batch_lines([v.row for v in every if in_force_on(v.row.since, v.until, as_of)], as_of),
                               key=lambda b: (order((b.programme, b.tier, b.level)), b.batch))]
    return Report(as_of=as_of, region=region, region_level=Region(region).level if region else "national",
                  chain=chain, sub_regions=sub_regions, position=position, counts=counts, expiring_days=EXPIRY_DAYS,
                  expiring=expiring, review_due=review_due, rewards=rewards, reward_totals=reward_totals,
                  months=months, series=series, year=on.year, batches=batches,
                  targets=target_progress(rm, book, as_of=as_of, region=region))


def _tier_name(book: PolicyBook, programme: str, tier: str, on: date) -> str:
    t = _tier_policy(book, programme, tier, on)
    return t.name if t else tier


_NUMERALS = "零一二三四五六七八九"


def batch_label(n: int | None) -> str:
    """A batch number as documents write it.

    >>> batch_label(5), batch_label(10), batch_label(12), batch_label(20), batch_label(35), batch_label(None)
    ('第五批', '第十批', '第十二批', '第二十批', '第三十五批', '')
    """
    if n is None:
        return ""
    if n < 10:
        text = _NUMERALS[n]
    elif n < 100:
        tens, ones = divmod(n, 10)
        text = (_NUMERALS[tens] if tens > 1 else "") + "十" + (_NUMERALS[ones] if ones else "")
    else:
        text = str(n)
    return f"第{text}批"


def target_progress(rm: Any, book: PolicyBook, *, as_of: str, region: str | None = None) -> list[TargetRow]:
    """Progress on ``as_of`` against every target of the rule versions in force then, set by
    then (``since``), whose region lies inside ``region``: the actual count, by the target's
    kind, on its date or on ``as_of`` if that is earlier, in the target's own region."""
    on = date.fromisoformat(as_of)
    out = []
    for pid in book.programme_ids():
        try:
            version = book.in_force(pid, on)
        except LedgerError:
            continue
        for t in version.targets:
            if (t.since is not None and t.since > on) or (region and not region_covers(region, t.region)):
                continue
            counted_on = min(on, t.by).isoformat()
            level = t.level.value if t.level else None
            if t.kind == "rolling":
                actual = len(rm.pool(tier=t.tier, as_of=counted_on, level=level, region=t.region,
                                     programme=t.programme))
            else:
                actual = len(rm.designated(tier=t.tier, as_of=counted_on, level=level, region=t.region,
                                           programme=t.programme, count="ever" if t.kind == "cumulative" else "new",
                                           year=t.by.year if t.kind == "new_in_year" else None))
            out.append(TargetRow(label=t.label, programme=pid, counts_programme=t.programme, tier=t.tier,
                                 tier_name=_tier_name(book, t.programme, t.tier, on), level=level, region=t.region,
                                 kind=t.kind, target=t.count, target_max=t.max, by=t.by.isoformat(),
                                 counted_on=counted_on, actual=actual, share_bp=actual * 10000 // t.count,
                                 met=t.met(actual), source=t.source, assumption=t.assumption))
    return out
