"""The CLI for people (issue 16, item 4), each friction reproduced through the real command.

Help text and choices for every flag (from ``services.commands.FIELD_HELP``, the closed sets
of ``domain.policy`` and the policy in force); an invalid value answered with the valid ones,
identifiers and Chinese labels, from flags, JSON lines and NATS requests alike; ``submit``
with progress in lines and commands, a refusal summary that fits 80 columns and
``--refused FILE``; ``history`` in 元 and %, its headers in Chinese, ``--json`` in fen.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import msgspec
import pytest

from domain.codes import CATALOGUE
from domain.policy import CHANGE_KINDS, LISTING_BOARDS, REVOCATION_REASONS
from domain.values import Level
from services import commands as c
from tests.support.hostile import actor, row_counts, sample, send_raw

ROOT = Path(__file__).resolve().parents[2]


def run(db: Path, *args: str, columns: int = 80, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CULTIVATION_DB": str(db), "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300, **kw)


def on_terminal(db: Path, *args: str, columns: int = 80) -> tuple[int, str]:
    """Run the CLI with standard output and error on a terminal ``columns`` wide, as a person
    does; its exit code and what the terminal received, without the escape sequences."""
    import fcntl
    import struct
    import termios

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**os.environ, "CULTIVATION_DB": str(db), "COLUMNS": str(columns)}
    proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", *args], cwd=ROOT, env=env,
                            stdout=terminal, stderr=terminal)
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the process closed its end
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    code = proc.wait(timeout=300)
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode("utf-8", "replace"))


def width(line: str) -> int:
    """Terminal cells of a line (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


# ============================================================================ --help
def _command_parsers() -> dict[str, Any]:
    from entrypoints.cli import build_parser

    parser = build_parser(["--help"])
    sub = next(a for a in parser._actions if a.dest == "subcommand")
    return dict(sub.choices)  # type: ignore[arg-type]


def test_every_command_flag_has_help_saying_more_than_its_field_name() -> None:
    """Before: ``--reason REASON  reason``, ``--uscc USCC  uscc``: the field name as its help."""
    parsers = _command_parsers()
    for tag, ctype in c.COMMAND_TYPES.items():
        actions = {a.dest: a for a in parsers[tag.replace("_", "-")]._actions}
        for f in msgspec.structs.fields(ctype):
            if f.name in ("command", "actor"):
                continue
            help_text = actions[f.name].help or ""
            words = set(re.findall(r"[a-z_]+", help_text)) - {f.name, "optional", "repeatable", "entry"}
            assert len(words) >= 3, (tag, f.name, help_text)
            assert c.field_help(tag, f.name) in help_text.replace("%%", "%"), (tag, f.name)


def test_closed_sets_list_every_value_with_its_label_in_help() -> None:
    r = run(Path("unused.db"), "revoke", "--help")
    assert r.returncode == 0, r.stderr
    flat = " ".join(r.stdout.split())
    for key, label in REVOCATION_REASONS.items():
        assert f"{key} ({label})" in flat
    assert "--reason {major_accident,tax_or_credit,false_material,other}" in flat
    assert "--uscc USCC the enterprise's unified social credit code" in flat
    flat = " ".join(run(Path("unused.db"), "report-change", "--help").stdout.split())
    for labels in (CHANGE_KINDS, LISTING_BOARDS):
        assert all(f"{k} ({v})" in flat for k, v in labels.items())


def test_assess_help_names_the_components_and_indicators_of_the_policy_in_force() -> None:
    """Before: ``--component NAME=INT  components entry``: which names exist was nowhere."""
    from infra.policy_files import load_policy_book

    book = load_policy_book(None)
    national = book.in_force("national", __import__("datetime").date.today())
    innovative = national.tier("innovative").assessment
    flat = " ".join(run(Path("unused.db"), "assess", "--help").stdout.split())
    for name in innovative.min_components:
        assert f"{name} (national/innovative)" in flat
    for d in innovative.direct_pass:
        assert d in flat
    little_giant = national.tier("little_giant").assessment
    for b in (b for cr in little_giant.criteria for b in cr.any_of):
        assert b.indicator in flat
    assert "basis points" in flat and "fen" in flat


def test_query_flags_list_the_tiers_programmes_and_levels_with_chinese_names() -> None:
    flat = " ".join(run(Path("unused.db"), "pool", "--help", columns=200).stdout.split())
    assert 'little_giant (专精特新"小巨人"企业)' in flat and "liaoning (辽宁省专精特新培育)" in flat
    assert all(f"{lv.value} ({lv.label})" in flat for lv in Level)
    grant = " ".join(run(Path("unused.db"), "grant-reward", "--help", columns=200).stdout.split())
    assert "key_little_giant_fund (中央财政重点\"小巨人\"奖补)" in grant


# ============================================================================ invalid values
def test_an_invalid_flag_value_is_answered_with_the_valid_ones_and_writes_nothing(tmp_path: Path) -> None:
    """Before: ``error: $.reason: Invalid enum value 'fraud'``, nothing said of the valid ones."""
    db = tmp_path / "x.db"
    r = run(db, "revoke", "--occurred-on", "2024-01-01", "--authority", "210000", "--uscc", "91211400MA0000001D",
            "--application-id", "a", "--reason", "fraud")
    assert r.returncode == 2 and "$.reason: unknown reason 'fraud'; valid:" in r.stderr
    assert all(f"{k} ({v})" in r.stderr for k, v in REVOCATION_REASONS.items())
    assert not db.exists()
    r = run(db, "report-change", "--occurred-on", "2024-01-01", "--authority", "210000", "--uscc",
            "91211400MA0000001D", "--kind", "更名", "--changed-on", "2024-01-01")
    assert r.returncode == 2 and "'更名' is the label of rename: give the identifier rename" in r.stderr
    r = run(db, "pool", "--tier", "little_giant", "--level", "省级")
    assert r.returncode == 2 and "'省级' is the label of provincial" in r.stderr and "county (县级)" in r.stderr
    r = run(db, "apply", "--occurred-on", "2024-01-01", "--authority", "210000", "--uscc", "91211400MA0000001D",
            "--application-id", "a", "--programme", "national", "--tier", "小巨人")
    assert r.returncode == 2 and "$.tier: must be an identifier of the policy" in r.stderr
    assert "matching regex" not in r.stderr
    assert not db.exists()


def test_a_chinese_tier_name_is_answered_with_identifiers_and_chinese_names(ledger_db: Path) -> None:
    """Before: ``unknown tier '小巨人' (known: ['demonstration', ...])``, English only."""
    r = run(ledger_db, "pool", "--tier", "小巨人")
    assert r.returncode == 2
    assert "did you mean key_little_giant or little_giant?" in r.stderr
    assert 'little_giant (辽宁省专精特新"小巨人"企业 / 专精特新"小巨人"企业)' in r.stderr


def test_an_invalid_value_in_a_json_line_lists_the_valid_ones(tmp_path: Path) -> None:
    line = json.dumps(sample("report_change", kind="fusion", changed_on="2023-05-01"), ensure_ascii=False)
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    r = run(tmp_path / "x.db", "submit", str(path), "--json")
    assert r.returncode == 2
    malformed = json.loads(r.stdout)["malformed"]
    assert malformed[0]["field"] == "$.kind"
    assert malformed[0]["message"].startswith("unknown kind 'fusion'; valid: rename (更名), merger (合并)")
    assert not (tmp_path / "x.db").exists()


def test_an_invalid_value_in_a_nats_request_lists_the_valid_ones(tmp_path: Path) -> None:
    import nats

    from infra.nats import connect_options
    from tests.support.serving import Serve

    s = Serve(tmp_path, str(tmp_path / "ledger.db"))
    try:
        async def ask() -> dict[str, Any]:
            nc = await nats.connect(**connect_options(s.url))
            try:
                body = sample("revoke", n="people", reason="fraud", actor=actor("211402"))
                return await send_raw(nc, "cultivation.cmd.211402.revoke", json.dumps(body).encode())
            finally:
                await nc.close()

        before = row_counts(s.db)
        reply = asyncio.run(ask())
        assert reply["headers"].get("Nats-Service-Error-Code") == "400", reply
        error = reply["body"]["error"]
        assert error["field"] == "$.reason" and "false_material (提供虚假材料/数据造假)" in error["message"], reply
        assert row_counts(s.db) == before
    finally:
        assert s.stop() == 0, s.output()


# ============================================================================ submit
@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("people")
    out = folder / "x.jsonl"
    r = run(folder / "unused.db", "generate", "--enterprises", "300", "--years", "3", "--seed", "1", "--out",
            str(out))
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def ledger_db(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("people-ledger") / "ledger.db"
    r = run(db, "submit", str(generated))
    assert r.returncode == 1, r.stderr  # the generator refuses ~1% on purpose
    return db


def test_submit_progress_counts_lines_then_commands_not_bytes(generated: Path, tmp_path: Path) -> None:
    """Before: the first phase read ``checking 0/5113519``: bytes, unlabelled."""
    lines = sum(1 for _ in generated.open("rb"))
    code, text = on_terminal(tmp_path / "p.db", "submit", str(generated), columns=120)
    assert code == 1
    assert re.search(rf"checking .* \d+/{lines} lines", text), text[-2000:]
    assert re.search(r"submitting .* \d+/\d+ commands", text), text[-2000:]
    assert str(generated.stat().st_size) not in text


def test_submit_summary_fits_80_columns_counts_per_code_and_shows_ids_whole(generated: Path,
                                                                            tmp_path: Path) -> None:
    """Before: a table at 80 columns cut ``gen-7-000003…`` and ``authority.wr…`` and wrapped
    messages one word a line."""
    r = run(tmp_path / "s.db", "submit", str(generated), "--json")
    refusals = json.loads(r.stdout)["refusals"]
    exit_code, text = on_terminal(tmp_path / "t.db", "submit", str(generated), columns=80)
    assert exit_code == 1
    assert all(width(line) <= 80 for line in re.split(r"[\r\n]", text)), text
    assert "…" not in text
    r = subprocess.CompletedProcess([], exit_code, stdout=text)
    codes: dict[str, int] = {}
    for x in refusals:
        codes[x["code"]] = codes.get(x["code"], 0) + 1
    for code, n in codes.items():
        assert re.search(rf"│ {re.escape(code)} +│ {n} +│", r.stdout), (code, r.stdout)
        assert CATALOGUE[code].meaning.split()[0] in r.stdout
    for x in refusals[:5]:
        assert f"{x['command_id']}  {x['command']}  {x['code']}" in r.stdout
    header = next(line for line in r.stdout.splitlines() if "┃ 代码" in line)
    assert "条数" in header and not re.search(r"[A-Za-z]", header), header


def test_submit_refused_file_has_every_refusal_as_json_lines_under_the_output_rules(generated: Path,
                                                                                   tmp_path: Path) -> None:
    out = tmp_path / "refused.jsonl"
    r = run(tmp_path / "a.db", "submit", str(generated), "--refused", str(out), "--json")
    assert r.returncode == 1, r.stderr
    refusals = json.loads(r.stdout)["refusals"]
    assert refusals and [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == refusals
    # an existing file: refused before any work (nothing submitted), replaced with --force
    before = row_counts(str(tmp_path / "a.db"))
    r = run(tmp_path / "a.db", "submit", str(generated), "--refused", str(out))
    assert r.returncode == 2 and "--refused" in r.stderr and "--force" in r.stderr
    assert row_counts(str(tmp_path / "a.db")) == before
    r = run(tmp_path / "b.db", "submit", str(generated), "--refused", str(out))
    assert r.returncode == 2 and not (tmp_path / "b.db").exists()
    out.write_text("old\n", encoding="utf-8")
    r = run(tmp_path / "a.db", "submit", str(generated), "--refused", str(out), "--force")
    # submitted again: nothing written, the same commands refused with the same codes
    assert r.returncode == 1 and f"全部 {len(refusals)} 条已写入" in r.stdout
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == refusals
    link = tmp_path / "link.jsonl"
    link.symlink_to(tmp_path / "elsewhere.jsonl")
    r = run(tmp_path / "a.db", "submit", str(generated), "--refused", str(link), "--force")
    assert r.returncode == 2 and "symbolic link" in r.stderr and not (tmp_path / "elsewhere.jsonl").exists()


# ============================================================================ history
def test_history_shows_money_in_yuan_ratios_in_percent_and_chinese_headers(ledger_db: Path,
                                                                           generated: Path) -> None:
    """Before: ``revenue_fen=18900000000``, ``rd_ratio_bp=600``; headers in both languages."""
    assess = next(json.loads(line) for line in generated.open(encoding="utf-8") if '"assess"' in line)
    r = run(ledger_db, "history", assess["uscc"], columns=300)
    assert r.returncode == 0, r.stderr
    flat = " ".join(r.stdout.split())
    assert "_fen=" not in flat and "_bp=" not in flat and "_fen " not in flat
    revenue = assess["indicators"]["revenue_fen"]
    whole, cents = divmod(revenue, 100)
    assert f"revenue {whole:,}{f'.{cents:02d}' if cents else ''}元" in flat
    ratio = assess["indicators"]["rd_ratio_bp"]
    assert f"rd_ratio {ratio // 100}" in flat and "%" in flat
    header = next(line for line in r.stdout.splitlines() if "业务日期" in line)
    assert not re.search(r"[A-Za-z]", header), header
    assert "条事件" in r.stdout
    data = json.loads(run(ledger_db, "history", assess["uscc"], "--json").stdout)
    assessed = next(e for e in data["events"] if e["type"] == "Assessed")
    assert assessed["details"]["indicators"]["revenue_fen"] == revenue  # machines keep fen


def test_pool_and_overdue_tables_have_chinese_headers_and_labels(ledger_db: Path) -> None:
    """Before: ``USCC │ 企业名称 │ region │ 地区 │ level │ product │ 有效期 valid (last day) │ flags``."""
    r = run(ledger_db, "pool", "--tier", "specialized", "--as-of", "2019-06-30", columns=300)
    assert r.returncode == 0, r.stderr
    header = next(line for line in r.stdout.splitlines() if "企业名称" in line)
    assert not re.search(r"[A-Za-z]", header), header
    assert "省级" in r.stdout and "│ provincial" not in r.stdout
    data = json.loads(run(ledger_db, "pool", "--tier", "specialized", "--as-of", "2019-06-30", "--json").stdout)
    assert data["count"] > 0 and data["items"][0]["level"] == "provincial"  # machines keep identifiers
    r = run(ledger_db, "overdue", "--as-of", "2021-06-30", columns=300)
    assert r.returncode == 0, r.stderr
    header = next(line for line in r.stdout.splitlines() if "企业名称" in line)
    assert not re.search(r"[A-Za-z]", header), header


def test_the_readme_shows_the_messages_the_cli_prints(ledger_db: Path) -> None:
    """README "The CLI" quotes three answers to invalid values: each is what the CLI prints
    (up to the README's "…")."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = [line for line in text.splitlines() if line.startswith("error: $.reason: unknown reason")
             or line.startswith("error: $.kind: '更名'") or line.startswith("error: --tier: unknown tier '小巨人'")]
    assert len(shown) == 3
    common = ("--occurred-on", "2024-01-01", "--authority", "210000", "--uscc", "91211400MA0000001D")
    printed = [run(ledger_db, *args).stderr.strip() for args in (
        ("revoke", *common, "--application-id", "a", "--reason", "fraud"),
        ("report-change", *common, "--kind", "更名", "--changed-on", "2024-01-01"),
        ("pool", "--tier", "小巨人"))]
    for readme, cli in zip(shown, printed):
        for part in readme.split("…"):
            assert part.strip(" ,()") in cli, (part, cli)


def test_an_unknown_programme_is_answered_with_the_programmes_not_an_empty_pool(ledger_db: Path) -> None:
    """Before: ``pool --programme foo`` printed an empty table, exit 0: a typo looked like no designations."""
    r = run(ledger_db, "pool", "--tier", "specialized", "--programme", "nationl")
    assert r.returncode == 2 and "--programme: unknown programme 'nationl'" in r.stderr
    assert "national (优质中小企业梯度培育)" in r.stderr
    r = run(ledger_db, "policy", "--programme", "辽宁省专精特新培育")
    assert r.returncode == 2 and "is the label of liaoning" in r.stderr
