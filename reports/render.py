"""The report's renderers: a rich table, JSON (money in integer fen), CSV for spreadsheets
(one table per file, UTF-8 with a BOM, money in 元) and a self-contained HTML page with an
inline SVG chart (UTF-8, Chinese labels, no network references).  They draw a
:class:`reports.figures.Report`; they compute nothing.
"""

from __future__ import annotations

import bisect
import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from html import escape
from typing import Any

import msgspec

from domain.regions import region_display, region_name
from reports.figures import SECTIONS, Report, RewardLine, level_name

FORMATS = ("table", "json", "csv", "html")

# ---------------------------------------------------------------------------- formatting
def yuan_amount(fen: int) -> Decimal:
    """Integer fen as an exact amount in 元 with two decimals (no float on the way, whatever
    the size).

    >>> yuan_amount(123456789), yuan_amount(-5), yuan_amount(0), yuan_amount(10**30 + 1)
    (Decimal('1234567.89'), Decimal('-0.05'), Decimal('0.00'), Decimal('10000000000000000000000000000.01'))
    """
    return Decimal(f"{fen}E-2")  # built from its digits: exact, unlike arithmetic in a 28-digit context


def yuan(fen: int | None) -> str:
    """Integer fen as CNY with thousands separators, for people.

    >>> yuan(123456789), yuan(-5), yuan(None)
    ('1,234,567.89', '-0.05', '—')
    """
    if fen is None:
        return "—"
    return f"{yuan_amount(fen):,}"


def _region_title(report: Report) -> str:
    chain = f" · 产业链 {report.chain}" if report.chain else ""  # only the enterprises on the chain
    if report.region is None:
        return "全国" + chain
    return f"{region_display(report.region)}（{level_name(report.region_level)}，含下辖地区）{chain}"


def _name(code: str) -> str:
    """A region's GB/T 2260 name for a cell or a column head ("" for a code the table lacks)."""
    return region_name(code) or ""


def _sub_head(code: str) -> str:
    """A sub-region's column head in the table and the page: its name and code."""
    return f"{_name(code)} {code}".strip()


_SUB_LABEL = {"national": "省份", "provincial": "地市", "municipal": "区县"}


# The unit of the CSV's money columns, in a column of its own beside them.
CSV_MONEY_UNIT = "元"


def section_rows(report: Report, name: str) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of one section, plain values for CSV: ids, ISO dates, money in 元
    (exact :class:`~decimal.Decimal`, two decimals) after a ``unit`` column naming it."""
    if name == "counts":
        subs = report.sub_regions
        header = ["programme", "programme_name", "tier", "tier_name", "level", "level_name", "total", "ever",
                  f"new_{report.year}", *subs, *(f"ever:{s}" for s in subs), *(f"new_{report.year}:{s}" for s in subs)]
        rows = [[c.programme, c.programme_name, c.tier, c.tier_name, c.level, c.level_name, c.total, c.ever, c.new,
                 *[c.by_region.get(s, 0) for s in subs], *[c.ever_by_region.get(s, 0) for s in subs],
                 *[c.new_by_region.get(s, 0) for s in subs]] for c in report.counts]
        return header, rows
    if name == "batches":
        header = ["programme", "programme_name", "tier", "tier_name", "level", "batch", "batch_label", "recommended",
                  "approved", "first_approved_on", "last_approved_on"]
        rows = [[b.programme, b.programme_name, b.tier, b.tier_name, b.level, b.batch, b.batch_label, b.recommended,
                 b.approved, b.first_approved_on or "", b.last_approved_on or ""] for b in report.batches]
        return header, rows
    if name == "targets":
        header = ["label", "programme", "counts_programme", "tier", "tier_name", "level", "region", "kind", "target",
                  "target_max", "by", "counted_on", "actual", "share_bp", "met", "source", "assumption"]
        rows = [[t.label, t.programme, t.counts_programme, t.tier, t.tier_name, t.level or "", t.region, t.kind,
                 t.target, "" if t.target_max is None else t.target_max, t.by, t.counted_on, t.actual, t.share_bp,
                 t.met, t.source, t.assumption] for t in report.targets]
        return header, rows
    if name in ("expiring", "review_due"):
        items = report.expiring if name == "expiring" else report.review_due
        header = ["uscc", "name", "region", "region_name", "programme", "tier", "tier_name", "level",
                  "application_id", "product_name", "valid_from", "valid_until", "last_day", "days_left"]
        if name == "review_due":
            header.append("window_opens")
        rows = []
        for x in items:
            row = [x.uscc, x.name, x.region, _name(x.region), x.programme, x.tier, x.tier_name, x.level,
                   x.application_id, x.product_name or "", x.valid_from, x.valid_until, x.last_day, x.days_left]
            if name == "review_due":
                row.append(x.window_opens)
            rows.append(row)
        return header, rows
    if name == "rewards":
        header = ["programme", "programme_name", "scheme", "scheme_name", "year", "rewards", "unit", "granted_yuan",
                  "clawed_back_yuan", "net_yuan", "budget_yuan", "budget_used_yuan", "remaining_yuan"]

        def money(fen: int | None) -> Decimal | str:
            return "" if fen is None else yuan_amount(fen)  # no budget: no cap, an empty cell

        rows = [[r.programme, r.programme_name, r.scheme, r.scheme_name, r.year, r.rewards, CSV_MONEY_UNIT,
                 money(r.granted_fen), money(r.clawed_back_fen), money(r.net_fen), money(r.budget_fen),
                 money(r.budget_used_fen), money(r.remaining_fen)] for r in report.rewards]
        return header, rows
    if name == "series":
        header = ["month_end", *(f"{s.programme}/{s.tier}/{s.level}" for s in report.series)]
        rows = [[month, *(s.counts[i] for s in report.series)] for i, month in enumerate(report.months)]
        return header, rows
    raise ValueError(f"no section {name!r}")


def _cell(valid: int, ever: int, new: int) -> str:
    """A sub-region's cell of the HTML counts table: valid/ever/new."""
    return f"{valid}/{ever}/{new}"


def render_json(report: Report, table: str | None = None) -> str:
    obj = msgspec.to_builtins(report)
    obj["region_name"] = region_name(report.region) if report.region else "全国"
    obj["sub_region_names"] = {s: region_name(s) for s in report.sub_regions}
    for key in ("expiring", "review_due"):
        obj[key] = [{**x, "region_name": region_name(x["region"])} for x in obj[key]]
    if table:
        keep = {"counts": ("counts", "sub_regions", "year"), "expiring": ("expiring", "expiring_days"),
                "review_due": ("review_due",), "rewards": ("rewards", "reward_totals"),
                "series": ("months", "series"), "batches": ("batches",), "targets": ("targets",)}[table]
        keep = (*keep, "sub_region_names") if table == "counts" else keep
        obj = {k: v for k, v in obj.items() if k in ("as_of", "region", "region_name", "region_level", "position",
                                                     *keep)}
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


# Excel takes a CSV without a byte-order mark for the system's ANSI code page (GBK on a
# Chinese Windows) and shows UTF-8 as mojibake; with one, it reads UTF-8.
BOM = "\ufeff"


def csv_file_name(table: str) -> str:
    """The file of one table when every table is written into a folder.

    >>> csv_file_name("counts")
    'counts.csv'
    """
    return f"{table}.csv"


def render_csv(report: Report, table: str) -> str:
    """One table as a spreadsheet opens it: a byte-order mark, a header row, its rows; money
    in 元 with two decimals beside a ``unit`` column.  Text cells that a spreadsheet would run
    as a formula are neutralised (:func:`csv_cell`); numbers are written as numbers."""
    header, rows = section_rows(report, table)
    out = io.StringIO()
    out.write(BOM)
    w = csv.writer(out, lineterminator="\n")
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
            show(heading, ["项目", "梯度", "级别", "有效", "累计认定", f"{report.year}年新认定", *map(_sub_head, subs)],
                 [[c.programme_name, c.tier_name, c.level_name, c.total, c.ever, c.new,
                   *[c.by_region.get(s, 0) for s in subs]]
                  for c in report.counts], right=range(3, 6 + len(subs)))
        elif name == "batches":
            show(heading, ["项目", "梯度", "级别", "批次", "推荐", "认定", "认定日期"],
                 [[b.programme_name, b.tier_name, b.level_name, b.batch_label, b.recommended, b.approved,
                   _dates(b.first_approved_on, b.last_approved_on)] for b in report.batches], right=[4, 5])
        elif name == "targets":
            show(heading, ["目标", "梯度", "地区", "口径", "目标数", "截止", "统计日", "实际", "完成"],
                 [[t.label, t.tier_name, _sub_head(t.region), KIND_LABEL[t.kind], _target(t.target, t.target_max), t.by,
                   t.counted_on, t.actual, _share(t.share_bp)] for t in report.targets], right=[4, 7, 8])
        elif name == "series":
            years = sorted({m[:4] for m in report.months})
            ends = [report.months.index(f"{y}-12-31") for y in years]
            show(heading + "：各年末", ["梯度（级别）", *years],
                 [[s.label, *[s.counts[i] for i in ends]] for s in report.series], right=range(1, 1 + len(years)))
        elif name in ("expiring", "review_due"):
            items = report.expiring if name == "expiring" else report.review_due
            cols = ["统一社会信用代码", "企业名称", "地区代码", "地区", "梯度", "级别", "有效期起", "有效期至",
                    "剩余天数"]
            if name == "review_due":
                cols.append("复核窗口起")
            show(heading, cols,
                 [[x.uscc, x.name + (f"：{x.product_name}" if x.product_name else ""), x.region, _name(x.region),
                   x.tier_name, x.level_name, x.valid_from, x.last_day, x.days_left,
                   *([x.window_opens] if name == "review_due" else [])] for x in items], right=[8])
        elif name == "rewards":
            t = report.reward_totals
            show(heading, ["项目", "奖补项目", "年度", "笔数", "拨付", "追回", "净额", "年度预算", "预算已用",
                           "预算余额"],
                 [[r.programme_name, _scheme_label(r), r.year, r.rewards, yuan(r.granted_fen),
                   yuan(r.clawed_back_fen), yuan(r.net_fen), yuan(r.budget_fen), yuan(r.budget_used_fen),
                   yuan(r.remaining_fen)] for r in report.rewards]
                 + [["合计", "", "", t.rewards, yuan(t.granted_fen), yuan(t.clawed_back_fen), yuan(t.net_fen), "",
                     "", ""]], right=range(2, 10))


KIND_LABEL = {"cumulative": "累计认定", "rolling": "有效（滚动）", "new_in_year": "当年新认定"}


def _dates(first: str | None, last: str | None) -> str:
    if first is None:
        return ""
    return first if first == last or last is None else f"{first} – {last}"


def _target(count: int, most: int | None) -> str:
    return f"{count}–{most}" if most is not None else str(count)


def _share(share_bp: int) -> str:
    """Basis points as a percentage.

    >>> _share(7980), _share(10000), _share(12345)
    ('79.8%', '100.0%', '123.4%')
    """
    return f"{share_bp // 100}.{share_bp % 100 // 10}%"


def _scheme_label(r: RewardLine) -> str:
    """A scheme's name, and the fund (专项资金) whose one budget its budget columns are."""
    return f"{r.scheme_name}（{r.fund}）" if r.fund else r.scheme_name


def _heading(report: Report, name: str) -> str:
    """The numbered Chinese heading of a section (the same in every renderer)."""
    sub = _SUB_LABEL.get(report.region_level, "地区")
    return {"counts": f"一、认定数量：有效、累计、{report.year}年新认定（按梯度、级别、{sub}）",
            "batches": f"六、分批次推荐与认定（{len(report.batches)}）",
            "targets": f"七、目标完成情况（{len(report.targets)}）",
            "series": "二、培育库规模变化（各月末有效认定数量）",
            "expiring": f"三、{report.expiring_days}日内到期的认定（{len(report.expiring)}）",
            "review_due": f"四、待复核的认定（{len(report.review_due)}）",
            "rewards": "五、奖补资金拨付与年度预算（单位：元）"}[name]


# ---------------------------------------------------------------------------- HTML
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C564B"]
DASHES = ["", "9 4", "3 3", "12 4 3 4", "6 3", "1 3", "14 3 3 3 3 3", "5 2 1 2"]
MARKERS = ["circle", "square", "triangle", "diamond", "down", "ring", "box", "cross"]

# The page embeds no font (it is self-contained and small): it names, for Chinese text, the
# fonts of the systems it is read on, first the one CI installs and checks it with in headless
# Chromium (Debian's fonts-noto-cjk; Source Han Sans is the same design), then macOS's,
# Windows's and an older Linux's, then the generic family; for codes, a monospace stack.
CJK_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei")
MONO_FONTS = ("DejaVu Sans Mono", "Liberation Mono", "Consolas")


def font_stack(families: Sequence[str], generic: str) -> str:
    """A CSS ``font-family`` value: the families quoted, the generic family last.

    >>> font_stack(("Noto Sans CJK SC", "PingFang SC"), "sans-serif")
    '"Noto Sans CJK SC","PingFang SC",sans-serif'
    """
    return ",".join([*(f'"{f}"' for f in families), generic])


_CSS = """
body{font-family:""" + font_stack(CJK_FONTS, "sans-serif") + """;margin:0;color:#1a1a1a;background:#fff;
line-height:1.5}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:1.6rem;margin:0 0 .3rem}h2{font-size:1.2rem;margin:2rem 0 .6rem;border-bottom:2px solid #0072B2;
padding-bottom:.2rem}.meta{color:#444;margin:0 0 1rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.4rem 0}
p.caption{color:#444;font-size:.85rem;margin:.4rem 0 .2rem}.scroll{overflow-x:auto}
th,td{border:1px solid #c8c8c8;padding:4px 8px;vertical-align:top;white-space:nowrap}
td.wrap{white-space:normal}
th{background:#eef3f8;text-align:left;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.total td{font-weight:600;background:#f6f6f6}
td.code{font-family:""" + font_stack(MONO_FONTS, "monospace") + """;font-size:.82rem;white-space:nowrap}
.note{color:#555;font-size:.85rem}
figure{margin:.5rem 0}svg text{font-family:inherit}
details{margin:.5rem 0}summary{cursor:pointer;color:#0b4f8a}
"""


def _html_table(columns: Sequence[tuple[str, bool]], rows: Sequence[Sequence[Any]], caption: str = "",
                total: Sequence[Any] | None = None, code_cols: Iterable[int] = (),
                wrap_cols: Iterable[int] = (), ident: str = "") -> str:
    """``columns``: (label, numeric); numeric cells are right-aligned, cells stay on one line
    but in ``wrap_cols``.  A table wider than the page (a province's or the country's
    sub-region columns) scrolls in its own box; its caption, a paragraph above it that the
    table names as its description (``ident-note``), wraps at the page's width."""
    codes, wraps = set(code_cols), set(wrap_cols)
    out = []
    if caption:
        out.append(f'<p class="caption" id="{ident}-note">{escape(caption)}</p>')
    out.append(f'<div class="scroll"><table{f" aria-describedby={chr(34)}{ident}-note{chr(34)}" if caption else ""}>')
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
    out.append("</tbody></table></div>")
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


CHART_DESCRIPTION = ("横轴为月末日期，纵轴为有效认定数量；每条折线为一个梯度与级别，"
                     "以线型、标记形状和图例文字区分，年末处有标记。")


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
           f'<desc id="chart-desc">{escape(CHART_DESCRIPTION)}</desc>',
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
        # the label right of the line, or left of it where it would run off the chart (the date is
        # mostly the last month-end: the right edge); "统计日 YYYY-MM-DD" at 12px is about 110px wide
        label = (f'x="{xx + 4:.1f}"' if xx + 4 + 120 <= width else f'x="{xx - 4:.1f}" text-anchor="end"')
        out.append(f'<g class="as-of"><line x1="{xx:.1f}" y1="{top - 6}" x2="{xx:.1f}" y2="{axis_bottom}" '
                   f'stroke="#555" stroke-dasharray="4 3"/><text {label} y="{top - 10}" font-size="12" '
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
             f"<title>优质中小企业梯度培育统计报告 · {escape(region_display(report.region))} · {report.as_of}</title>",
             f"<style>{_CSS}</style></head><body><main>",
             "<h1>优质中小企业梯度培育统计报告</h1>",
             f'<p class="meta">地区：{escape(where)}　统计日：{report.as_of}　数据：台账位置 #{report.position} '
             f"及以前记录的全部事件</p>"]
    # 1. counts
    subs = report.sub_regions
    parts.append(f"<section><h2>{escape(_heading(report, 'counts'))}</h2>")
    parts.append(_html_table(
        [("项目", False), ("梯度", False), ("级别", False), ("有效", True), ("累计认定", True),
         (f"{report.year}年新认定", True), *[(_sub_head(s), True) for s in subs]],
        [[c.programme_name, c.tier_name, c.level_name, c.total, c.ever, c.new,
          *[_cell(c.by_region.get(s, 0), c.ever_by_region.get(s, 0), c.new_by_region.get(s, 0)) for s in subs]]
         for c in report.counts],
        caption=f"有效：{report.as_of} 有效（有效期内且未撤销）的认定数；累计认定：截至统计日曾获认定的企业（产品）数，"
                f"其后到期、撤销者仍计入；{report.year}年新认定：首次认定在{report.year}年（截至统计日）的企业（产品）数。"
                "梯度名称取自统计日施行的政策版本。"
                + (f"右侧各列为下辖{sub_label}（名称及代码），每格为“有效/累计/新认定”。" if subs else ""),
        ident="counts"))
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
        cols = [("统一社会信用代码", False), ("企业名称", False), ("地区代码", False), ("地区", False), ("梯度", False),
                ("级别", False),
                ("有效期起", False), ("有效期至", False), ("剩余天数", True)]
        if name == "review_due":
            cols.append(("复核窗口起", False))
        caption = (f"统计日有效、且有效期至 {report.as_of} 后 {report.expiring_days} 日内届满的认定；已复核续期的不列。"
                   if name == "expiring" else
                   "统计日处于该梯度复核窗口内（政策规定的有效期届满前天数）、本有效期尚未复核、未被撤销的认定。")
        parts.append(f"<section><h2>{escape(heading)}</h2>")
        parts.append(_html_table(cols, [[x.uscc, x.name + (f"：{x.product_name}" if x.product_name else ""),
                                         x.region, _name(x.region), x.tier_name, x.level_name, x.valid_from,
                                         x.last_day, x.days_left,
                                         *([x.window_opens] if name == "review_due" else [])] for x in items],
                                 caption=caption, code_cols=[0, 2], wrap_cols=[1], ident=name))
        parts.append("</section>")
    # 3. rewards
    t = report.reward_totals
    parts.append(f"<section><h2>{escape(_heading(report, 'rewards'))}</h2>")
    parts.append(_html_table(
        [("项目", False), ("奖补项目", False), ("年度", False), ("笔数", True), ("拨付", True), ("追回", True),
         ("净额", True), ("年度预算", True), ("预算已用", True), ("预算余额", True)],
        [[r.programme_name, _scheme_label(r), r.year, r.rewards, yuan(r.granted_fen), yuan(r.clawed_back_fen),
          yuan(r.net_fen), yuan(r.budget_fen), yuan(r.budget_used_fen), yuan(r.remaining_fen)]
         for r in report.rewards],
        caption="拨付、追回、净额：本地区企业在统计日及以前获得的奖补（追回计入原拨付年度）；年度预算、预算已用、"
                "预算余额：该奖补项目当年全部地区的口径。“—”表示无年度预算上限。",
        wrap_cols=[1], ident="rewards", total=["合计", "", "", t.rewards, yuan(t.granted_fen),
                                               yuan(t.clawed_back_fen), yuan(t.net_fen), "", "", ""]))
    parts.append("</section>")
    # 4. batches and targets
    parts.append(f"<section><h2>{escape(_heading(report, 'batches'))}</h2>")
    parts.append(_html_table(
        [("项目", False), ("梯度", False), ("级别", False), ("批次", False), ("推荐", True), ("认定", True),
         ("认定日期", False)],
        [[b.programme_name, b.tier_name, b.level_name, b.batch_label, b.recommended, b.approved,
          _dates(b.first_approved_on, b.last_approved_on)] for b in report.batches],
        caption="推荐：推荐时注明该批次的申报数；认定：该批次公告的认定数（截至统计日，其后到期、撤销者仍计入）。",
        wrap_cols=[1], ident="batches"))
    parts.append("</section>")
    parts.append(f"<section><h2>{escape(_heading(report, 'targets'))}</h2>")
    parts.append(_html_table(
        [("目标", False), ("梯度", False), ("地区", False), ("口径", False), ("目标数", True), ("截止", False),
         ("统计日", False), ("实际", True), ("完成", True), ("依据", False)],
        [[t.label, t.tier_name, t.region, KIND_LABEL[t.kind], _target(t.target, t.target_max), t.by, t.counted_on,
          t.actual, _share(t.share_bp), t.source + (f"（假设：{t.assumption}）" if t.assumption else "")]
         for t in report.targets],
        caption="统计日施行的政策版本所列、统计日已提出的目标；实际数按目标口径（累计认定、有效或当年新认定）统计于"
                "目标截止日，统计日早于截止日时统计于统计日。",
        code_cols=[2], wrap_cols=[0, 9], ident="targets"))
    parts.append("</section>")
    parts.append('<footer class="note"><p>有效期按“起始日 ≤ 统计日 &lt; 届满日”计算，“有效期至”为最后一个有效日。'
                 "金额以分记账，此处折算为元。本页为自包含文件，不引用任何外部资源。</p></footer>")
    parts.append("</main></body></html>\n")
    return "".join(parts)
