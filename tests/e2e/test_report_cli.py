"""``cultivation report`` as a process: the JSON, CSV and HTML outputs of the real command
parse and agree with ``reports.figures`` on the demo data; a browser renders the page; bad
flags are exit 2 (the figures themselves: tests/integration/test_report.py).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import msgspec
import pytest

from domain.regions import region_name
from infra.readmodel import ReadModel
from reports.figures import build_report
from reports.render import render_html, yuan
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


def test_csv_through_the_cli(demo_db: Path, tmp_path: Path) -> None:
    r = run(demo_db, "--region", "211400", "--as-of", DEMO_AS_OF, "--format", "csv")
    assert r.returncode == 0, r.stderr
    sections: dict[str, list[list[str]]] = {}
    current = None
    for row in csv.reader(io.StringIO(r.stdout)):
        if not row:
            current = None
        elif current is None:
            assert len(row) == 1 and row[0].startswith("# "), row
            current = row[0][2:]
            sections[current] = []
        else:
            sections[current].append(row)
    assert list(sections) == ["counts", "series", "expiring", "review_due", "rewards", "batches", "targets"]
    header, *rows = sections["counts"]
    counts = {(d["programme"], d["tier"], d["level"]): int(d["total"]) for d in (dict(zip(header, x)) for x in rows)}
    assert counts == HULUDAO
    # beside each valid count, the subjects ever designated up to the date: never fewer
    assert all(int(d["ever"]) >= int(d["total"]) for d in (dict(zip(header, x)) for x in rows))
    header, *rows = sections["rewards"]
    assert "granted_fen" in header and all(x[header.index("granted_fen")].isdigit() for x in rows)
    # --table: one table alone, and --out
    out = tmp_path / "counts.csv"
    r = run(demo_db, "--region", "211400", "--as-of", DEMO_AS_OF, "--format", "csv", "--table", "counts",
            "--out", str(out))
    assert r.returncode == 0 and r.stdout == ""
    with open(out, encoding="utf-8", newline="") as fh:
        alone = {(d["programme"], d["tier"], d["level"]): int(d["total"]) for d in csv.DictReader(fh)}
    assert alone == HULUDAO


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


def test_the_html_renders_in_a_browser(demo: tuple[Ledger, ReadModel]) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium on this machine: the page is checked by the HTML parser only")
    ledger, rm = demo
    page = render_html(build_report(rm, ledger.policy, as_of=DEMO_AS_OF, region="211400"))
    with tempfile.TemporaryDirectory() as folder:
        html_file, png = Path(folder) / "report.html", Path(folder) / "report.png"
        html_file.write_text(page, encoding="utf-8")
        profile = Path(folder) / "profile"
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--no-first-run", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1280,2000",
                        html_file.as_uri()], capture_output=True, timeout=120)
        assert png.exists() and png.stat().st_size > 10_000
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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
    for needle in ("--format", "--table", "--out", "csv", "# NAME", "html", "fen"):
        assert needle in r.stdout, needle
