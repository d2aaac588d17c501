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

Every section is as of the date: designations, names and regions as they stood on it,
nothing dated after it.

Renderers: a rich table (``table``), JSON (one object, money in integer fen), CSV (one
section per table, or ``--table`` for one) and a self-contained HTML page (UTF-8, Chinese
labels, inline CSS and SVG chart, no network references).
"""

from __future__ import annotations

import argparse
import bisect
import calendar
import csv
import io
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from html import escape
from typing import Any

import msgspec

from domain.errors import LedgerError
from domain.policy import PolicyBook, Tier
from domain.values import Level, Region, region_covers
from projections.pools import Designation
from projections.reviews import ReviewRow, state_on
from projections.rewards import BudgetRow, RewardRow

EXPIRY_DAYS = 90
SECTIONS = ("counts", "series", "expiring", "review_due", "rewards")
FORMATS = ("table", "json", "csv", "html")


# ---------------------------------------------------------------------------- the report
class CountRow(msgspec.Struct, kw_only=True):
    programme: str
    programme_name: str
    tier: str
    tier_name: str
    level: str
    level_name: str
    total: int
    by_region: dict[str, int]  # sub-region code -> count (empty for a county)


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
    budget_fen: int | None  # the scheme's yearly budget (None: no budget)
    budget_used_fen: int  # net paid by the whole scheme in that year (every region)
    remaining_fen: int | None


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


# ---------------------------------------------------------------------------- policy look-ups
def _tier_policy(book: PolicyBook, programme: str, tier: str, on: date) -> Tier | None:
    """The tier in the rule version in force on ``on``; else in the latest version that has it."""
    try:
        return book.in_force(programme, on).tier(tier)
    except LedgerError:
        pass
    for version in reversed(book.versions(programme)):
        for t in version.tiers:
            if t.id == tier:
                return t
    return None


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


def _level_name(level: str) -> str:
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
    return min(x for x in (d.valid_until, d.revoked_on, d.ended_on) if x is not None)


# ---------------------------------------------------------------------------- building
def build_report(rm: Any, book: PolicyBook, *, as_of: str, region: str | None = None) -> Report:
    """The report for ``region`` (None: the whole country) on business date ``as_of``, from
    read model ``rm`` (caught up first when it follows the store)."""
    if rm.follows_store:
        rm.catch_up()
    position = rm.position()
    on = date.fromisoformat(as_of)
    # Every designation as it stood on the date (its version in force then, in the region it
    # had then), and for the chart every version begun by the date.
    versions = [v for v in rm.versions("designation", upto=as_of, region=region)
                if v.row.status == "approved" and v.row.valid_from and v.row.valid_until]
    approved: list[Designation] = [v.row for v in versions if v.until is None or as_of < v.until]
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
    windows: dict[tuple[str, str], int | None] = {}
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
                          tier_name=tier_names[key], level=d.level, level_name=_level_name(d.level),
                          application_id=d.application_id, product_name=d.product_name, valid_from=d.valid_from,
                          valid_until=until, last_day=(u - timedelta(days=1)).isoformat(), days_left=(u - on).days,
                          window_opens=window_opens)

        if until <= horizon and not st.renewed:
            expiring.append(listed())
        if (d.programme, d.tier) not in windows:
            t = _tier_policy(book, d.programme, d.tier, on)
            windows[(d.programme, d.tier)] = t.review_window_days if t else None
        window = windows[(d.programme, d.tier)]
        if window and not st.reviewed:
            opens = (date.fromisoformat(until) - timedelta(days=window)).isoformat()
            if opens <= as_of:
                review_due.append(listed(opens))
    sort_key = (lambda x: (x.valid_until, x.region, x.uscc, x.tier, x.application_id))
    expiring.sort(key=sort_key)
    review_due.sort(key=sort_key)
    sub_regions = sorted({s for counts in by_region.values() for s in counts})
    counts = [CountRow(programme=k[0], programme_name=_programme_name(book, k[0], on), tier=k[1],
                       tier_name=tier_names[k], level=k[2], level_name=_level_name(k[2]), total=totals.get(k, 0),
                       by_region=dict(sorted(by_region[k].items())) if k in by_region else {})
              for k in keys]

    # 3. rewards against budgets
    lines: dict[tuple[str, str, int], list[int]] = {}  # -> [rewards, granted, clawed back]
    used: dict[tuple[str, str, int], int] = defaultdict(int)
    reward_rows: list[RewardRow] = rm.rows("reward")
    for r in reward_rows:
        if r.granted_on > as_of:
            continue
        back = r.clawed_back_on(as_of)
        key3 = (r.programme, r.scheme, r.year)
        used[key3] += r.amount_fen - back
        if region and not region_covers(region, r.region):
            continue
        line = lines.setdefault(key3, [0, 0, 0])
        line[0] += 1
        line[1] += r.amount_fen
        line[2] += back
    budgets: dict[tuple[str, str, int], BudgetRow] = {(b.programme, b.scheme, b.year): b
                                                      for b in rm.rows("budget")}
    rewards = []
    for (programme, scheme, year), (n, granted, back) in sorted(lines.items()):
        b = budgets.get((programme, scheme, year))
        budget = b.budget_fen if b else None
        spent = used[(programme, scheme, year)]
        rewards.append(RewardLine(
            programme=programme, programme_name=_programme_name(book, programme, on), scheme=scheme,
            scheme_name=_scheme_name(book, programme, scheme, date(year, 12, 31)),
            year=year, rewards=n, granted_fen=granted, clawed_back_fen=back, net_fen=granted - back,
            budget_fen=budget, budget_used_fen=spent, remaining_fen=None if budget is None else budget - spent))
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
                                 label=f"{tier_names[k]}（{_level_name(k[2])}）", counts=counts_k))
    return Report(as_of=as_of, region=region, region_level=Region(region).level if region else "national",
                  sub_regions=sub_regions, position=position, counts=counts, expiring_days=EXPIRY_DAYS,
                  expiring=expiring, review_due=review_due, rewards=rewards, reward_totals=reward_totals,
                  months=months, series=series)


# ---------------------------------------------------------------------------- formatting
def yuan(fen: int | None) -> str:
    """Integer fen as CNY with thousands separators.

    >>> yuan(123456789), yuan(-5), yuan(None)
    ('1,234,567.89', '-0.05', '—')
    """
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def _region_title(report: Report) -> str:
    if report.region is None:
        return "全国"
    return f"{report.region}（{_level_name(report.region_level)}，含下辖地区）"


_SUB_LABEL = {"national": "省份", "provincial": "地市", "municipal": "区县"}


def section_rows(report: Report, name: str) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of one section, plain values for CSV: ids, ISO dates, money in fen."""
    if name == "counts":
        header = ["programme", "programme_name", "tier", "tier_name", "level", "level_name", "total",
                  *report.sub_regions]
        rows = [[c.programme, c.programme_name, c.tier, c.tier_name, c.level, c.level_name, c.total,
                 *[c.by_region.get(s, 0) for s in report.sub_regions]] for c in report.counts]
        return header, rows
    if name in ("expiring", "review_due"):
        items = report.expiring if name == "expiring" else report.review_due
        header = ["uscc", "name", "region", "programme", "tier", "tier_name", "level", "application_id",
                  "product_name", "valid_from", "valid_until", "last_day", "days_left"]
        if name == "review_due":
            header.append("window_opens")
        rows = []
        for x in items:
            row = [x.uscc, x.name, x.region, x.programme, x.tier, x.tier_name, x.level, x.application_id,
                   x.product_name or "", x.valid_from, x.valid_until, x.last_day, x.days_left]
            if name == "review_due":
                row.append(x.window_opens)
            rows.append(row)
        return header, rows
    if name == "rewards":
        header = ["programme", "programme_name", "scheme", "scheme_name", "year", "rewards", "granted_fen",
                  "clawed_back_fen", "net_fen", "budget_fen", "budget_used_fen", "remaining_fen"]
        rows = [[r.programme, r.programme_name, r.scheme, r.scheme_name, r.year, r.rewards, r.granted_fen,
                 r.clawed_back_fen, r.net_fen, "" if r.budget_fen is None else r.budget_fen, r.budget_used_fen,
                 "" if r.remaining_fen is None else r.remaining_fen] for r in report.rewards]
        return header, rows
    if name == "series":
        header = ["month_end", *(f"{s.programme}/{s.tier}/{s.level}" for s in report.series)]
        rows = [[month, *(s.counts[i] for s in report.series)] for i, month in enumerate(report.months)]
        return header, rows
    raise ValueError(f"no section {name!r}")


def render_json(report: Report, table: str | None = None) -> str:
    obj = msgspec.to_builtins(report)
    if table:
        keep = {"counts": ("counts", "sub_regions"), "expiring": ("expiring", "expiring_days"),
                "review_due": ("review_due",), "rewards": ("rewards", "reward_totals"),
                "series": ("months", "series")}[table]
        obj = {k: v for k, v in obj.items() if k in ("as_of", "region", "region_level", "position", *keep)}
    return msgspec.json.encode(obj).decode() + "\n"


# What a spreadsheet takes for the start of a formula (OWASP's list, CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet will show as text: one starting like a formula gets a
    leading apostrophe (``=HYPERLINK(…)`` becomes ``'=HYPERLINK(…)``).  Numbers are left
    as numbers, negative ones included: they are written by the ledger, not typed.

    >>> csv_cell("=1+1"), csv_cell("-x"), csv_cell("@SUM(A1)"), csv_cell(-5), csv_cell("葫芦岛")
    ("'=1+1", "'-x", "'@SUM(A1)", -5, '葫芦岛')
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def render_csv(report: Report, table: str | None = None) -> str:
    """Every section as ``# name``, a header row and its rows, a blank line between them;
    with ``table`` only that section's header and rows.  Money in integer fen.  Text cells
    that a spreadsheet would run as a formula are neutralised (:func:`csv_cell`)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    for i, name in enumerate([table] if table else SECTIONS):
        header, rows = section_rows(report, name)
        if not table:
            if i:
                w.writerow([])
            w.writerow([f"# {name}"])
        w.writerow([csv_cell(h) for h in header])
        w.writerows([csv_cell(v) for v in row] for row in rows)
    return out.getvalue()


def render_table(report: Report, console: Any, table: str | None = None) -> None:
    """Rich tables for people: Chinese labels, money in 元."""
    from rich.table import Table

    def show(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], right: Iterable[int] = ()) -> None:
        console.print()
        console.print(title)  # above the table, not its title: a narrow table would wrap it
        t = Table()
        right = set(right)
        for i, col in enumerate(columns):
            t.add_column(col, justify="right" if i in right else "left")
        for r in rows:
            t.add_row(*["" if v is None else str(v) for v in r])
        console.print(t)

    where = _region_title(report)
    wanted = [table] if table else list(SECTIONS)
    console.print(f"优质中小企业梯度培育统计报告 · {where} · 统计日 {report.as_of} · 台账位置 #{report.position}")
    for name in wanted:
        heading = _heading(report, name)
        if name == "counts":
            subs = report.sub_regions
            show(heading, ["项目", "梯度", "级别", "合计", *subs],
                 [[c.programme_name, c.tier_name, c.level_name, c.total, *[c.by_region.get(s, 0) for s in subs]]
                  for c in report.counts], right=range(3, 4 + len(subs)))
        elif name == "series":
            years = sorted({m[:4] for m in report.months})
            ends = [report.months.index(f"{y}-12-31") for y in years]
            show(heading + "：各年末", ["梯度（级别）", *years],
                 [[s.label, *[s.counts[i] for i in ends]] for s in report.series], right=range(1, 1 + len(years)))
        elif name in ("expiring", "review_due"):
            items = report.expiring if name == "expiring" else report.review_due
            cols = ["统一社会信用代码", "企业名称", "地区", "梯度", "级别", "有效期起", "有效期至", "剩余天数"]
            if name == "review_due":
                cols.append("复核窗口起")
            show(heading, cols,
                 [[x.uscc, x.name + (f"：{x.product_name}" if x.product_name else ""), x.region, x.tier_name,
                   x.level_name, x.valid_from, x.last_day, x.days_left,
                   *([x.window_opens] if name == "review_due" else [])] for x in items], right=[7])
        elif name == "rewards":
            t = report.reward_totals
            show(heading, ["项目", "奖补项目", "年度", "笔数", "拨付", "追回", "净额", "年度预算", "预算已用",
                           "预算余额"],
                 [[r.programme_name, r.scheme_name, r.year, r.rewards, yuan(r.granted_fen),
                   yuan(r.clawed_back_fen), yuan(r.net_fen), yuan(r.budget_fen), yuan(r.budget_used_fen),
                   yuan(r.remaining_fen)] for r in report.rewards]
                 + [["合计", "", "", t.rewards, yuan(t.granted_fen), yuan(t.clawed_back_fen), yuan(t.net_fen), "",
                     "", ""]], right=range(2, 10))


def _heading(report: Report, name: str) -> str:
    """The numbered Chinese heading of a section (the same in every renderer)."""
    sub = _SUB_LABEL.get(report.region_level, "地区")
    return {"counts": f"一、有效认定数量（按梯度、级别、{sub}）",
            "series": "二、培育库规模变化（各月末有效认定数量）",
            "expiring": f"三、{report.expiring_days}日内到期的认定（{len(report.expiring)}）",
            "review_due": f"四、待复核的认定（{len(report.review_due)}）",
            "rewards": "五、奖补资金拨付与年度预算（单位：元）"}[name]


# ---------------------------------------------------------------------------- HTML
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C564B"]
DASHES = ["", "9 4", "3 3", "12 4 3 4", "6 3", "1 3", "14 3 3 3 3 3", "5 2 1 2"]
MARKERS = ["circle", "square", "triangle", "diamond", "down", "ring", "box", "cross"]

_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",
"WenQuanYi Micro Hei",sans-serif;margin:0;color:#1a1a1a;background:#fff;line-height:1.5}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:1.6rem;margin:0 0 .3rem}h2{font-size:1.2rem;margin:2rem 0 .6rem;border-bottom:2px solid #0072B2;
padding-bottom:.2rem}.meta{color:#444;margin:0 0 1rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.4rem 0}
caption{text-align:left;color:#444;font-size:.85rem;padding:.2rem 0}
th,td{border:1px solid #c8c8c8;padding:4px 8px;vertical-align:top;white-space:nowrap}
td.wrap{white-space:normal}
th{background:#eef3f8;text-align:left;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.total td{font-weight:600;background:#f6f6f6}
td.code{font-family:"DejaVu Sans Mono",Consolas,monospace;font-size:.82rem;white-space:nowrap}
.note{color:#555;font-size:.85rem}
figure{margin:.5rem 0}svg text{font-family:inherit}
details{margin:.5rem 0}summary{cursor:pointer;color:#0b4f8a}
"""


def _html_table(columns: Sequence[tuple[str, bool]], rows: Sequence[Sequence[Any]], caption: str = "",
                total: Sequence[Any] | None = None, code_cols: Iterable[int] = (),
                wrap_cols: Iterable[int] = ()) -> str:
    """``columns``: (label, numeric); numeric cells are right-aligned, cells stay on one line
    but in ``wrap_cols``."""
    codes, wraps = set(code_cols), set(wrap_cols)
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f'<th scope="col"{" class=n" if num else ""}>{escape(label)}</th>'
                                       for label, num in columns) + "</tr></thead><tbody>")
    if not rows:
        out.append(f'<tr><td colspan="{len(columns)}">无</td></tr>')
    for r in rows:
        cells = []
        for i, ((_, num), v) in enumerate(zip(columns, r)):
            cls = "n" if num else "code" if i in codes else "wrap" if i in wraps else ""
            cells.append(f"<td{f' class={cls}' if cls else ''}>{escape('' if v is None else str(v))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    if total is not None:
        out.append('<tr class="total">' + "".join(
            f"<td{' class=n' if num else ''}>{escape(str(v))}</td>" for (_, num), v in zip(columns, total)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _nice_max(v: int) -> tuple[int, int]:
    """An axis maximum >= v and a tick step giving about five ticks."""
    v = max(v, 1)
    raw = v / 5
    mag = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    step = next(s * mag for s in (1, 2, 5, 10) if s * mag >= raw)
    step = max(int(step), 1)
    return ((v + step - 1) // step) * step, step


def _marker(kind: str, x: float, y: float, colour: str, title: str) -> str:
    t = f"<title>{escape(title)}</title>"
    if kind == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}">{t}</circle>'
    if kind == "ring":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#fff" stroke="{colour}" stroke-width="2">{t}</circle>'
    if kind == "square":
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{colour}">{t}</rect>'
    if kind == "box":
        return (f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="#fff" stroke="{colour}" '
                f'stroke-width="2">{t}</rect>')
    pts = {"triangle": [(0, -5), (5, 4), (-5, 4)], "down": [(0, 5), (5, -4), (-5, -4)],
           "diamond": [(0, -5), (5, 0), (0, 5), (-5, 0)],
           "cross": [(-2, -5), (2, -5), (2, -2), (5, -2), (5, 2), (2, 2), (2, 5), (-2, 5), (-2, 2), (-5, 2),
                     (-5, -2), (-2, -2)]}[kind]
    return (f'<polygon points="{" ".join(f"{x + dx:.1f},{y + dy:.1f}" for dx, dy in pts)}" fill="{colour}">'
            f'{t}</polygon>')


def render_svg(report: Report) -> str:
    """The line chart of pool sizes: one ``<polyline>`` per series (with its ``<title>``),
    axes and ticks as ``<line>``/``<text>``, a marker at every year-end, the report's date
    as a dashed line, and a legend that tells series apart by text, dash and marker."""
    months, series = report.months, report.series
    if not months or not series:
        return '<p class="note">无数据。</p>'
    width, left, right, top, plot_h = 1120, 64, 24, 28, 360
    plot_w = width - left - right
    legend_cols = 2
    legend_rows = (len(series) + legend_cols - 1) // legend_cols
    axis_bottom = top + plot_h
    legend_top = axis_bottom + 62
    height = legend_top + legend_rows * 26 + 12
    ymax, ystep = _nice_max(max(max(s.counts) for s in series))
    n = len(months)

    def x(i: float) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / ymax)

    first, last = months[0][:4], months[-1][:4]
    title = f"培育库规模：各梯度有效认定数量（{first}—{last}年各月末，{_region_title(report)}）"
    out = [f'<svg width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title chart-desc">',
           f'<title id="chart-title">{escape(title)}</title>',
           f'<desc id="chart-desc">{escape("横轴为月末日期，纵轴为有效认定数量；每条折线为一个梯度与级别，以线型、标记形状和图例文字区分，年末处有标记。")}</desc>',
           '<rect x="0" y="0" width="100%" height="100%" fill="#fff"/>']
    # grid and y axis
    out.append('<g class="y-axis" font-size="12" fill="#333">')
    for v in range(0, ymax + 1, ystep):
        yy = y(v)
        out.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + plot_w}" y2="{yy:.1f}" stroke="#e3e3e3"/>')
        out.append(f'<line x1="{left - 5}" y1="{yy:.1f}" x2="{left}" y2="{yy:.1f}" stroke="#333"/>')
        out.append(f'<text x="{left - 8}" y="{yy + 4:.1f}" text-anchor="end">{v}</text>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{axis_bottom}" stroke="#333"/>')
    out.append(f'<text x="{left - 48}" y="{top + plot_h / 2:.1f}" text-anchor="middle" font-size="13" '
               f'transform="rotate(-90 {left - 48} {top + plot_h / 2:.1f})">有效认定数量（家/项）</text>')
    out.append("</g>")
    # x axis: a tick per quarter, labelled years at each January
    out.append('<g class="x-axis" font-size="12" fill="#333">')
    out.append(f'<line x1="{left}" y1="{axis_bottom}" x2="{left + plot_w}" y2="{axis_bottom}" stroke="#333"/>')
    for i, m in enumerate(months):
        month = int(m[5:7])
        if month % 3:
            continue
        xx = x(i)
        major = month == 12
        out.append(f'<line x1="{xx:.1f}" y1="{axis_bottom}" x2="{xx:.1f}" y2="{axis_bottom + (7 if major else 4)}" '
                   f'stroke="#333"/>')
        if major:
            out.append(f'<line x1="{xx:.1f}" y1="{top}" x2="{xx:.1f}" y2="{axis_bottom}" stroke="#f0f0f0"/>')
    years = sorted({m[:4] for m in months})
    for yr in years:
        mine = [i for i, m in enumerate(months) if m.startswith(yr)]
        i0, i1 = mine[0], mine[-1]
        out.append(f'<text x="{(x(i0) + x(i1)) / 2:.1f}" y="{axis_bottom + 22}" text-anchor="middle">{yr}年</text>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{axis_bottom + 44}" text-anchor="middle" font-size="13">'
               f'月末（刻度：季度末；长刻度：年末）</text>')
    out.append("</g>")
    # the report's date
    if months[0] <= report.as_of <= months[-1]:
        i = bisect.bisect_left(months, report.as_of)
        prev = months[i - 1] if i else months[0][:8] + "01"
        span = (date.fromisoformat(months[i]) - date.fromisoformat(prev)).days or 1
        frac = (date.fromisoformat(report.as_of) - date.fromisoformat(prev)).days / span
        xx = x(i - 1 + frac) if i else x(0)
        out.append(f'<g class="as-of"><line x1="{xx:.1f}" y1="{top - 6}" x2="{xx:.1f}" y2="{axis_bottom}" '
                   f'stroke="#555" stroke-dasharray="4 3"/><text x="{xx + 4:.1f}" y="{top - 10}" font-size="12" '
                   f'fill="#333">统计日 {report.as_of}</text></g>')
    # the series
    last_i = n - 1
    for k, s in enumerate(series):
        colour, dash, marker = PALETTE[k % len(PALETTE)], DASHES[k % len(DASHES)], MARKERS[k % len(MARKERS)]
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.counts))
        at = bisect.bisect_right(months, report.as_of) - 1
        now = s.counts[at] if at >= 0 else 0
        out.append(f'<g class="series" data-series="{escape(s.programme)}/{escape(s.tier)}/{escape(s.level)}">')
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2.2" '
                   f'stroke-linejoin="round"{f" stroke-dasharray={chr(34)}{dash}{chr(34)}" if dash else ""}>'
                   f'<title>{escape(s.label)}：{escape(report.as_of)} 为 {now}，最高 {max(s.counts)}</title>'
                   f'</polyline>')
        for i, m in enumerate(months):
            if m.endswith("-12-31") or i == last_i:
                out.append(_marker(marker, x(i), y(s.counts[i]), colour, f"{s.label} {m}：{s.counts[i]}"))
        out.append("</g>")
    # the legend
    out.append(f'<g class="legend" font-size="13" fill="#1a1a1a">'
               f'<text x="{left}" y="{legend_top - 12}" font-weight="600">图例（{report.as_of} 数量）</text>')
    col_w = plot_w / legend_cols
    for k, s in enumerate(series):
        colour, dash, marker = PALETTE[k % len(PALETTE)], DASHES[k % len(DASHES)], MARKERS[k % len(MARKERS)]
        lx = left + (k % legend_cols) * col_w
        ly = legend_top + (k // legend_cols) * 26 + 8
        at = bisect.bisect_right(months, report.as_of) - 1
        now = s.counts[at] if at >= 0 else 0
        out.append(f'<line x1="{lx:.1f}" y1="{ly:.1f}" x2="{lx + 44:.1f}" y2="{ly:.1f}" stroke="{colour}" '
                   f'stroke-width="2.2"{f" stroke-dasharray={chr(34)}{dash}{chr(34)}" if dash else ""}/>')
        out.append(_marker(marker, lx + 22, ly, colour, s.label))
        out.append(f'<text x="{lx + 54:.1f}" y="{ly + 4.5:.1f}">{escape(s.label)}：{now}</text>')
    out.append("</g></svg>")
    return "".join(out)


def render_html(report: Report) -> str:
    where = _region_title(report)
    sub_label = _SUB_LABEL.get(report.region_level, "地区")
    parts = ['<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>优质中小企业梯度培育统计报告 · {escape(report.region or '全国')} · {report.as_of}</title>",
             f"<style>{_CSS}</style></head><body><main>",
             "<h1>优质中小企业梯度培育统计报告</h1>",
             f'<p class="meta">地区：{escape(where)}　统计日：{report.as_of}　数据：台账位置 #{report.position} '
             f"及以前记录的全部事件</p>"]
    # 1. counts
    subs = report.sub_regions
    parts.append(f"<section><h2>{escape(_heading(report, 'counts'))}</h2>")
    parts.append(_html_table(
        [("项目", False), ("梯度", False), ("级别", False), ("合计", True), *[(s, True) for s in subs]],
        [[c.programme_name, c.tier_name, c.level_name, c.total, *[c.by_region.get(s, 0) for s in subs]]
         for c in report.counts],
        caption=f"{report.as_of} 有效（有效期内且未撤销）的认定数；梯度名称取自统计日施行的政策版本。"
                + (f"右侧各列为下辖{sub_label}代码。" if subs else "")))
    parts.append("</section>")
    # chart
    parts.append(f"<section><h2>{escape(_heading(report, 'series'))}</h2><figure>")
    parts.append(render_svg(report))
    parts.append('<figcaption class="note">每条折线为一个梯度与级别；线型、年末标记形状与图例文字一一对应，'
                 "不依赖颜色区分。虚线竖线为统计日。</figcaption></figure>")
    if report.series:
        years = sorted({m[:4] for m in report.months})
        ends = [max(i for i, m in enumerate(report.months) if m.startswith(y)) for y in years]
        heads = [f"{y}年末" if report.months[i].endswith("-12-31") else report.months[i] for y, i in zip(years, ends)]
        parts.append("<details><summary>图表数据（各年末及统计日有效数量）</summary>")
        parts.append(_html_table([("梯度（级别）", False), *[(h, True) for h in heads]],
                                 [[s.label, *[s.counts[i] for i in ends]] for s in report.series]))
        parts.append("</details>")
    parts.append("</section>")
    # 2. lists
    for name, items in (("expiring", report.expiring), ("review_due", report.review_due)):
        heading = _heading(report, name)
        cols = [("统一社会信用代码", False), ("企业名称", False), ("地区", False), ("梯度", False), ("级别", False),
                ("有效期起", False), ("有效期至", False), ("剩余天数", True)]
        if name == "review_due":
            cols.append(("复核窗口起", False))
        caption = (f"统计日有效、且有效期至 {report.as_of} 后 {report.expiring_days} 日内届满的认定；已复核续期的不列。"
                   if name == "expiring" else
                   "统计日处于该梯度复核窗口内（政策规定的有效期届满前天数）、本有效期尚未复核、未被撤销的认定。")
        parts.append(f"<section><h2>{escape(heading)}</h2>")
        parts.append(_html_table(cols, [[x.uscc, x.name + (f"：{x.product_name}" if x.product_name else ""),
                                         x.region, x.tier_name, x.level_name, x.valid_from, x.last_day, x.days_left,
                                         *([x.window_opens] if name == "review_due" else [])] for x in items],
                                 caption=caption, code_cols=[0, 2], wrap_cols=[1]))
        parts.append("</section>")
    # 3. rewards
    t = report.reward_totals
    parts.append(f"<section><h2>{escape(_heading(report, 'rewards'))}</h2>")
    parts.append(_html_table(
        [("项目", False), ("奖补项目", False), ("年度", False), ("笔数", True), ("拨付", True), ("追回", True),
         ("净额", True), ("年度预算", True), ("预算已用", True), ("预算余额", True)],
        [[r.programme_name, r.scheme_name, r.year, r.rewards, yuan(r.granted_fen), yuan(r.clawed_back_fen),
          yuan(r.net_fen), yuan(r.budget_fen), yuan(r.budget_used_fen), yuan(r.remaining_fen)]
         for r in report.rewards],
        caption="拨付、追回、净额：本地区企业在统计日及以前获得的奖补（追回计入原拨付年度）；年度预算、预算已用、"
                "预算余额：该奖补项目当年全部地区的口径。“—”表示无年度预算上限。",
        wrap_cols=[1], total=["合计", "", "", t.rewards, yuan(t.granted_fen), yuan(t.clawed_back_fen),
                              yuan(t.net_fen), "", "", ""]))
    parts.append("</section>")
    parts.append('<footer class="note"><p>有效期按“起始日 ≤ 统计日 &lt; 届满日”计算，“有效期至”为最后一个有效日。'
                 "金额以分记账，此处折算为元。本页为自包含文件，不引用任何外部资源。</p></footer>")
    parts.append("</main></body></html>\n")
    return "".join(parts)


# ---------------------------------------------------------------------------- CLI
def add_report_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``cultivation report`` on the CLI's subparsers."""
    p = sub.add_parser(
        "report", parents=[common], help="the statistics report: counts, expiring, review due, rewards, chart",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The statistics in the form the reports use, for a region and its sub-regions on a business "
                    "date:\n"
                    "  counts      valid designations per programme, tier and level, in total and per sub-region\n"
                    "              (a province's cities, a city's counties, the country's provinces)\n"
                    f"  expiring    designations no longer valid {EXPIRY_DAYS} days after the date (renewed ones left "
                    "out)\n"
                    "  review_due  inside the tier's review window, not yet reviewed for the period, not revoked\n"
                    "  rewards     per scheme and budget year: granted, clawed back, net (inside the region) against\n"
                    "              the yearly budget, what the whole scheme used of it, and what is left\n"
                    "  series      valid designations per tier at every month-end up to the date (and on it), each as\n"
                    "              it stood on that day\n\n"
                    "Every section is as of the date: each designation, name and region as it stood then; with\n"
                    "--as-recorded, as the ledger had recorded it by that ledger time. Tables, CSV and HTML show the\n"
                    "last valid day (有效期至); JSON keeps the exclusive valid_until and adds last_day.\n\n"
                    "Formats: table (default; money in 元), json (one object with every section; money in integer\n"
                    "fen; --json is the same), csv (every section as a line '# NAME', a header row and its rows,\n"
                    "sections separated by a blank line; with --table NAME only that table: header and rows;\n"
                    "money in integer fen), html (a self-contained UTF-8 page: tables and an inline SVG chart,\n"
                    "no external resources).")
    p.add_argument("--region", metavar="CODE", help="GB/T 2260 code: a province, city or county (default: the country)")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="business date (default: today)")
    p.add_argument("--as-recorded", metavar="TIME",
                   help="the report as the ledger stood at this ledger time (ISO 8601; a date means its end, UTC)")
    p.add_argument("--format", choices=FORMATS, default=None, help="output format (default: table)")
    p.add_argument("--table", choices=SECTIONS, help="only this table (table, json and csv formats)")
    p.add_argument("--out", metavar="FILE", help="write to FILE (UTF-8) instead of standard output; an existing file "
                                                 "only with --force, never through a symbolic link, never one of "
                                                 "the ledger's own files")
    p.add_argument("--force", action="store_true", help="replace the --out file if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from infra.files import check_output, output_file
    from infra.store import ledger_files, store_url
    from services import commands as c
    from services.cli import EXIT_OK, _console, _date, _ledger, _region, read_model

    as_of = _date(args.as_of or date.today().isoformat(), "--as-of")
    _region(args.region)
    fmt = args.format or ("json" if args.json else "table")
    if args.json and fmt != "json":
        raise c.InputError("--format", f"--json asks for json, --format for {fmt}")
    if args.table and fmt == "html":
        raise c.InputError("--table", "the html page holds every table; --table applies to table, json and csv")
    region = None if args.region in (None, "000000") else args.region
    protect = ledger_files(store_url(args.db))
    if args.out:  # refused before any work, and checked again when the file is put in place
        check_output(args.out, force=args.force, protect=protect)
    ledger = _ledger(args, create=False)
    rm, as_recorded = read_model(args, ledger)
    try:
        report = build_report(rm, ledger.policy, as_of=as_of, region=region)
    finally:
        rm.close()
    if as_recorded:
        report = msgspec.structs.replace(report, as_recorded=as_recorded["time"])
    if fmt == "table":
        if args.out:
            from rich.console import Console

            with output_file(args.out, force=args.force, protect=protect) as fh:
                render_table(report, Console(file=fh, width=200, highlight=False, soft_wrap=False, markup=False,
                                             emoji=False, color_system=None), args.table)
        else:
            render_table(report, _console(), args.table)
        return EXIT_OK
    text = {"json": lambda: render_json(report, args.table), "csv": lambda: render_csv(report, args.table),
            "html": lambda: render_html(report)}[fmt]()
    if args.out:
        with output_file(args.out, force=args.force, protect=protect, newline="") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return EXIT_OK
