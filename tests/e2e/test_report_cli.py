"""``cultivation report`` as a process: the JSON, CSV and HTML outputs of the real command
parse and agree with ``reports.figures`` on the demo data; a browser renders the page; bad
flags are exit 2 (the figures themselves: tests/integration/test_report.py).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import msgspec
import pytest

from domain.regions import region_name
from infra.readmodel import ReadModel
from reports.figures import SECTIONS, build_report
from reports.render import CJK_FONTS, MONO_FONTS, font_stack, render_html, yuan, yuan_amount
from scenarios.demo import DEMO_AS_OF
from services.ledger import Ledger
from tests.support.demo import HULUDAO


# ---------------------------------------------------------------------------- the real command
def run(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CULTIVATION_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", "report", *args], capture_output=True, text=True,
                          env=env, timeout=120, encoding="utf-8")


def test_json_through_the_cli(demo_db: Path, demo: tuple[Ledger, ReadModel]) -> None:
    r = run(demo_db, "--region", "211400", "--as-of", DEMO_AS_OF, "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {"counts", "series", "months", "expiring", "review_due", "rewards", "reward_totals"} <= set(out)
    assert {(x["programme"], x["tier"], x["level"]): x["total"] for x in out["counts"]} == HULUDAO
    assert all(isinstance(x["granted_fen"], int) for x in out["rewards"])  # money stays in fen
    ledger, rm = demo
    same = run(demo_db, "--region", "211400", "--as-of", DEMO_AS_OF, "--json")
    assert json.loads(same.stdout) == out
    # the JSON is the report's figures, with the GB/T 2260 names beside its region codes
    assert (out.pop("region_name"), out.pop("sub_region_names")["211402"]) == ("葫芦岛市", "连山区")
    for x in out["expiring"] + out["review_due"]:
        assert x.pop("region_name") == region_name(x["region"])
    assert out == msgspec.to_builtins(build_report(rm, ledger.policy, as_of=DEMO_AS_OF, region="211400"))


def _spreadsheet(raw: bytes) -> list[dict[str, str]]:
    """A CSV file's bytes read as Excel does: a UTF-8 byte-order mark first (without it a
    Chinese Windows reads GBK), then one table: a header row and its rows."""
    assert raw.startswith(codecs.BOM_UTF8), raw[:20]
    header, *rows = csv.reader(io.StringIO(raw[len(codecs.BOM_UTF8):].decode("utf-8"), newline=""))
    assert header and not header[0].startswith("#"), "one table: no section lines"
    assert all(row and len(row) == len(header) for row in rows), "no blank lines, no second table"
    return [dict(zip(header, row)) for row in rows]


def test_csv_through_the_cli(demo_db: Path, demo: tuple[Ledger, ReadModel], tmp_path: Path) -> None:
    """--table T: that table alone, to standard output or --out FILE, BOM first."""
    r = subprocess.run([sys.executable, "-m", "entrypoints.cli", "report", "--region", "211400", "--as-of", DEMO_AS_OF,
                        "--format", "csv", "--table", "counts"], capture_output=True,
                       env={**os.environ, "CULTIVATION_DB": str(demo_db)}, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = _spreadsheet(r.stdout)
    assert {(d["programme"], d["tier"], d["level"]): int(d["total"]) for d in rows} == HULUDAO
    assert all(int(d["ever"]) >= int(d["total"]) for d in rows)  # ever designated up to the date: never fewer
    out = tmp_path / "counts.csv"
    r2 = run(demo_db, "--region", "211400", "--as-of", DEMO_AS_OF, "--format", "csv", "--table", "counts",
             "--out", str(out))
    assert r2.returncode == 0 and r2.stdout == "", r2.stderr
    assert out.read_bytes() == r.stdout  # the same bytes to a file as to standard output
    # money in 元 with two decimals beside a unit column, exactly the report's fen; JSON stays in fen
    r = run(demo_db, "--region", "211400", "--as-of", DEMO_AS_OF, "--format", "csv", "--table", "rewards",
            "--out", str(tmp_path / "rewards.csv"))
    assert r.returncode == 0, r.stderr
    rows = _spreadsheet((tmp_path / "rewards.csv").read_bytes())
    ledger, rm = demo
    report = build_report(rm, ledger.policy, as_of=DEMO_AS_OF, region="211400")
    assert len(rows) == len(report.rewards) >= 2
    money = ("granted", "clawed_back", "net", "budget", "budget_used", "remaining")
    for row, line in zip(rows, report.rewards):
        assert row["unit"] == "元" and not any(f"{m}_fen" in row for m in money), row
        for m in money:
            fen = getattr(line, f"{m}_fen")
            cell = row[f"{m}_yuan"]
            if fen is None:
                assert cell == "", (m, row)  # no yearly budget: no cap
            else:
                assert re.fullmatch(r"-?\d+\.\d\d", cell) and Decimal(cell) * 100 == fen, (m, cell, fen)
    assert yuan_amount(150_000_000) == Decimal("1500000.00")
    assert any(row["granted_yuan"] == "1500000.00" for row in rows)  # Liaoning's 2021 rewards in Huludao
    r = run(demo_db, "--region", "211400", "--as-of", DEMO_AS_OF, "--format", "json", "--table", "rewards")
    assert [x["granted_fen"] for x in json.loads(r.stdout)["rewards"]] == [x.granted_fen for x in report.rewards]


def test_csv_of_every_table_goes_into_a_folder(demo_db: Path, tmp_path: Path) -> None:
    """Without --table, --out FOLDER gets one NAME.csv per table; standard output (or an
    --out that is a file) is refused naming --table and its values, writing nothing."""
    for args in ((), ("--out", str(tmp_path / "report.csv"))):
        r = run(demo_db, "--region", "211400", "--as-of", DEMO_AS_OF, "--format", "csv", *args)
        assert r.returncode == 2 and r.stdout == "", r.stderr
        line = r.stderr.strip()
        assert "\n" not in line and "Traceback" not in line, line
        assert ("--out" if args else "--table") in line and "--table" in line, line
        assert all(name in line for name in SECTIONS), line
    assert list(tmp_path.iterdir()) == []
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "link").symlink_to(elsewhere)
    r = run(demo_db, "--region", "211400", "--as-of", DEMO_AS_OF, "--format", "csv", "--out", str(tmp_path / "link"))
    assert r.returncode == 2 and "symbolic link" in r.stderr and list(elsewhere.iterdir()) == [], r.stderr
    folder = tmp_path / "report"
    r = run(demo_db, "--region", "211400", "--as-of", DEMO_AS_OF, "--format", "csv", "--out", str(folder))
    assert r.returncode == 0 and r.stdout == "", r.stderr
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{name}.csv" for name in SECTIONS)
    for name in SECTIONS:
        alone = run(demo_db, "--region", "211400", "--as-of", DEMO_AS_OF, "--format", "csv", "--table", name)
        raw = (folder / f"{name}.csv").read_bytes()
        assert raw.decode("utf-8") == alone.stdout, name  # each file is that table alone
        _spreadsheet(raw)
    rows = _spreadsheet((folder / "counts.csv").read_bytes())
    assert {(d["programme"], d["tier"], d["level"]): int(d["total"]) for d in rows} == HULUDAO
    # again: refused without --force (nothing replaced), replaced with it
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    (folder / "counts.csv").write_bytes(b"mine")
    r = run(demo_db, "--region", "211400", "--as-of", DEMO_AS_OF, "--format", "csv", "--out", str(folder))
    assert r.returncode == 2 and "exists" in r.stderr and "--force" in r.stderr, r.stderr
    assert (folder / "counts.csv").read_bytes() == b"mine"
    r = run(demo_db, "--region", "211400", "--as-of", DEMO_AS_OF, "--format", "csv", "--out", str(folder), "--force")
    assert r.returncode == 0, r.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


class _Page(HTMLParser):
    """Collects what the checks need: tags, the SVG's contents, titles, attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.svgs = 0
        self.lines: list[dict[str, str | None]] = []  # <path>/<polyline> inside an <svg>
        self.line_titles: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "svg":
            self.svgs += 1
        if tag in ("path", "polyline") and "svg" in self.stack:
            self.lines.append(dict(attrs))
        if tag not in ("meta", "br", "hr", "img", "input", "link"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop() == tag:
                break

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.stack and self.stack[-1] == "title" and len(self.stack) > 1 and self.stack[-2] in ("path", "polyline"):
            self.line_titles.append(data)


def test_html_through_the_cli(demo_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    r = run(demo_db, "--region", "211400", "--as-of", DEMO_AS_OF, "--format", "html", "--out", str(out))
    assert r.returncode == 0, r.stderr
    text = out.read_bytes().decode("utf-8")  # UTF-8 throughout
    assert "http://" not in text and "https://" not in text, "the page references nothing outside itself"
    page = _Page()
    page.feed(text)
    page.close()
    tags = [t for t, _ in page.tags]
    assert dict(page.tags)["html"].get("lang") == "zh-CN"
    assert any(t == "meta" and (a.get("charset") or "").lower() == "utf-8" for t, a in page.tags)
    for tag, attrs in page.tags:  # no external CSS, JS, fonts or images
        assert tag not in ("script", "link", "img", "iframe", "object"), tag
        assert "src" not in attrs and "href" not in attrs, (tag, attrs)
    assert "@import" not in text and "url(" not in text
    assert tags.count("table") >= 5 and page.svgs == 1
    series = 6  # one per tier and level of the Huludao row
    assert len(page.lines) == series, "one line per series"
    assert len(page.line_titles) == series and any('小巨人"企业（国家级）' in t for t in page.line_titles)
    body = "".join(page.text)
    for label in ("有效认定数量", "90日内到期", "待复核", "奖补资金", "年度预算", "图例", "统计日 2023-06-29"):
        assert label in body, label
    assert yuan(150_000_000) in body  # Liaoning's 2021 rewards in Huludao, in 元 with separators
    # each table's note is a paragraph it names (it wraps at the page's width; a wide table scrolls in its box)
    ids = {a["id"] for _, a in page.tags if a.get("id")}
    described = [a["aria-describedby"] for t, a in page.tags if t == "table" and a.get("aria-describedby")]
    assert len(described) == 6 and set(described) <= ids, described
    # the date's label stays inside the chart: the date is its last month-end, at the right edge
    width = float(next(a["width"] or 0 for t, a in page.tags if t == "svg"))
    at = next(i for i, (t, a) in enumerate(page.tags) if t == "g" and a.get("class") == "as-of")
    line, label = page.tags[at + 1][1], page.tags[at + 2][1]
    assert float(line["x1"] or 0) > width - 120, "the date is at the right edge: the case that ran off the chart"
    assert label.get("text-anchor") == "end" and float(label["x"] or 0) < float(line["x1"] or 0), label


def _in_ci() -> bool:
    """CI=true (or 1, yes): set by CI systems, and by .ci/run where the CI does not."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing(reason: str) -> None:
    """A browser or a font the look needs is missing: skipped on a developer's machine, a
    failure in CI, where .ci/run installs them."""
    if _in_ci():
        pytest.fail(f"{reason}; CI={os.environ['CI']}: .ci/run installs it (as root or through sudo)")
    pytest.skip(reason)


def _key(family: str) -> str:
    """A font family as PostScript names spell it: ``Noto Sans CJK SC`` is ``notosanscjksc``."""
    return re.sub(r"[^a-z0-9]", "", family.lower())


def _drawn_with(pdf: bytes) -> set[str]:
    """The families Chromium drew a PDF's text with: the PostScript /FontName of each font it
    embeds, without the subset tag and the style (``/BAAAAA+NotoSansCJKsc-Regular``)."""
    names = re.findall(rb"/FontName\s*/(?:[A-Z]{6}\+)?([^\s/<>\[\]()]+)", pdf)
    return {_key(n.decode("latin-1").replace("#20", "").split("-")[0]) for n in names}


def test_the_html_renders_in_a_browser(demo: tuple[Ledger, ReadModel]) -> None:
    """Headless Chromium draws the page (a screenshot) and prints it: the PDF names the fonts
    the text was drawn with, each one the page names (its Chinese in Noto Sans CJK SC where
    CI installed it), none a fallback the page does not know of."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        _missing("no chromium on this machine: the page is checked by the HTML parser only")
    assert browser is not None
    ledger, rm = demo
    page = render_html(build_report(rm, ledger.policy, as_of=DEMO_AS_OF, region="211400"))
    assert font_stack(CJK_FONTS, "sans-serif") in page and font_stack(MONO_FONTS, "monospace") in page
    with tempfile.TemporaryDirectory() as folder:
        html_file, png, pdf = Path(folder) / "report.html", Path(folder) / "report.png", Path(folder) / "report.pdf"
        html_file.write_text(page, encoding="utf-8")
        profile = Path(folder) / "profile"
        r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                            "--no-first-run", "--disable-component-update", "--disable-sync",
                            "--no-pdf-header-footer", "--print-to-pdf-no-header",  # no date, no URL: the page alone
                            f"--user-data-dir={profile}", f"--screenshot={png}", f"--print-to-pdf={pdf}",
                            "--window-size=1280,2000", html_file.as_uri()], capture_output=True, timeout=120)
        assert png.exists() and png.stat().st_size > 10_000, r.stderr[-2000:]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert pdf.exists(), r.stderr[-2000:]
        drawn = _drawn_with(pdf.read_bytes())
    cjk, named = {_key(f) for f in CJK_FONTS}, {_key(f) for f in CJK_FONTS + MONO_FONTS}
    if not drawn & cjk:
        fc_list = shutil.which("fc-list")
        installed = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True,
                                   timeout=60).stdout.split() if fc_list else []
        if not installed:
            _missing(f"no Chinese font on this machine (fc-list :lang=zh: none; Debian: fonts-noto-cjk): the page's "
                     f"Chinese would be drawn as boxes (drawn with {sorted(drawn)})")
        pytest.fail(f"the Chinese was drawn with {sorted(drawn)}, none of the page's {CJK_FONTS}")
    assert drawn <= named, f"drawn with fonts the page does not name: {sorted(drawn - named)}"
    if _in_ci():
        assert _key("Noto Sans CJK SC") in drawn, (drawn, "CI installs fonts-noto-cjk and checks the page with it")


@pytest.mark.parametrize(("args", "field"), [
    (("--region", "2114"), "--region"),
    (("--as-of", "2023/06/29"), "--as-of"),
    (("--format", "html", "--table", "counts"), "--table"),
])
def test_bad_input_is_exit_2(demo_db: Path, args: tuple[str, ...], field: str) -> None:
    r = run(demo_db, *args)
    assert r.returncode == 2 and field in r.stderr, r.stderr


def test_help_documents_the_formats(demo_db: Path) -> None:
    r = run(demo_db, "--help")
    assert r.returncode == 0
    for needle in ("--format", "--table", "--out", "csv", "byte-order", "元", "FOLDER", "html", "fen", *SECTIONS):
        assert needle in r.stdout, needle
