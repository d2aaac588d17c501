"""Issue 11, findings 5, 6 and 9: what a careless or hostile user can make the CLI do to
files, stores and its own exit codes.  Each test attacks through the real ``cultivation``
command (a subprocess) on real stores, and shows the attack refused with a line naming
the flag and the rule, the exit code documented for it, no traceback, and nothing
written: the ledger's event count, the attacked file's bytes, the absence of a file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest

from services.ledger import Ledger
from tests.support.journeys import designate, register
from tests.support.ledgers import Script, uscc

U = uscc(1)
AUTH = ("--authority", "211400", "--person", "葫芦岛市工信局")


def run(db: Path | str | None, *args: str, cwd: Path | None = None,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CULTIVATION_DB", "CULTIVATION_HOME")}
    if db is not None:
        env["CULTIVATION_DB"] = str(db)
    env["CULTIVATION_HOME"] = str(cwd or Path(str(db)).parent)
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, input=stdin, timeout=120)


def no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    no_traceback(r)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


def stored_events(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    db = tmp_path / "L.db"
    r = run(db, "register", "--uscc", U, "--name", "葫芦岛测试泵业有限公司", "--region", "211402",
            "--occurred-on", "2019-01-02", *AUTH)
    assert r.returncode == 0, r.stderr
    return db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------- 5. files
@pytest.mark.parametrize("force", [False, True])
def test_report_out_never_overwrites_the_ledgers_own_files(db: Path, force: bool) -> None:
    """`report --out L.db` replaced the ledger with CSV and exited 0.  Now the ledger's
    database, its WAL and journal, the live read model's file and a hard link to any of
    them are refused, --force or not, and the ledger still answers."""
    before, ledger_bytes = stored_events(db), db.read_bytes()
    os.link(db, db.parent / "innocent.csv")
    for target in (db, Path(f"{db}-wal"), Path(f"{db}.live"), db.parent / "innocent.csv", db.parent / "." / db.name):
        r = run(db, "report", "--format", "csv", "--table", "counts", "--out", str(target),
                *(["--force"] if force else []))
        assert r.returncode == 2, r.stderr
        line = one_line(r)
        assert "--out" in line and "the ledger's own file" in line, line
    assert db.read_bytes() == ledger_bytes and stored_events(db) == before
    assert not Path(f"{db}.live").exists() or Path(f"{db}.live").read_bytes()[:16] == b"SQLite format 3\x00"
    assert json.loads(run(db, "history", U, "--json").stdout)["count"] == 1  # the ledger answers as before


def test_every_out_refuses_an_existing_file_without_force_and_replaces_it_with(db: Path, tmp_path: Path) -> None:
    earlier = tmp_path / "earlier.txt"
    for argv in (("report", "--format", "csv", "--table", "counts"), ("audit", "prove", U),
                 ("generate", "--enterprises", "2", "--years", "1")):
        earlier.write_text("an earlier file\n", encoding="utf-8")
        r = run(db, *argv, "--out", str(earlier))
        assert r.returncode == 2, (argv, r.stderr)
        assert "exists" in one_line(r) and "--force" in r.stderr, r.stderr
        assert earlier.read_text(encoding="utf-8") == "an earlier file\n"
        r = run(db, *argv, "--out", str(earlier), "--force")
        assert r.returncode == 0, (argv, r.stderr)
        assert earlier.read_text(encoding="utf-8") != "an earlier file\n"
    r = run(db, "generate", "--enterprises", "2", "--years", "1", "--out", str(tmp_path / "g.jsonl"),
            "--expected", str(earlier))
    assert r.returncode == 2 and "--expected" in one_line(r) and not (tmp_path / "g.jsonl").exists()
    r = run(db, "generate", "--enterprises", "2", "--years", "1", "--out", str(tmp_path / "g.jsonl"),
            "--expected", str(tmp_path / "." / "g.jsonl"))
    assert r.returncode == 2 and "another file" in one_line(r) and not (tmp_path / "g.jsonl").exists()
    # nor over the ledger CULTIVATION_DB names, which generate does not even open
    before = stored_events(db)
    r = run(db, "generate", "--enterprises", "2", "--years", "1", "--out", str(db), "--force")
    assert r.returncode == 2 and "the ledger's own file" in one_line(r)
    assert stored_events(db) == before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_no_out_writes_through_a_symbolic_link(db: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    link = tmp_path / "link.out"
    link.symlink_to(victim)
    for argv in (("report", "--format", "csv", "--table", "counts"), ("audit", "prove", U),
                 ("generate", "--enterprises", "2", "--years", "1")):
        for force in ([], ["--force"]):
            r = run(db, *argv, "--out", str(link), *force)
            assert r.returncode == 2, (argv, r.stderr)
            assert "symbolic link" in one_line(r), r.stderr
    assert victim.read_text(encoding="utf-8") == "keep me\n" and link.is_symlink()


def test_audit_export_refuses_a_planted_symlink_and_an_earlier_export(db: Path, tmp_path: Path) -> None:
    """An `events.jsonl` symlink inside an export folder overwrote its target."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "events.jsonl").symlink_to(victim)
    for force in ([], ["--force"]):
        r = run(db, "audit", "export", "--out", str(folder), *force)
        assert r.returncode == 2 and "symbolic link" in one_line(r), r.stderr
    assert victim.read_text(encoding="utf-8") == "keep me\n" and sorted(os.listdir(folder)) == ["events.jsonl"]
    (folder / "events.jsonl").unlink()
    (folder / "manifest.json").symlink_to(victim)  # the second file is checked before the first is written
    r = run(db, "audit", "export", "--out", str(folder), "--force")
    assert r.returncode == 2 and "symbolic link" in one_line(r)
    assert sorted(os.listdir(folder)) == ["manifest.json"] and victim.read_text(encoding="utf-8") == "keep me\n"

    fresh = tmp_path / "fresh"
    assert run(db, "audit", "export", "--out", str(fresh)).returncode == 0
    manifest = (fresh / "manifest.json").read_bytes()
    r = run(db, "audit", "export", "--out", str(fresh))
    assert r.returncode == 2 and "exists" in one_line(r) and (fresh / "manifest.json").read_bytes() == manifest
    assert run(db, "audit", "export", "--out", str(fresh), "--force").returncode == 0
    assert run(None, "audit", "verify-bundle", str(fresh), cwd=tmp_path).returncode == 0
    linked = tmp_path / "linked"
    linked.symlink_to(fresh)
    r = run(db, "audit", "export", "--out", str(linked), "--force")
    assert r.returncode == 2 and "symbolic link" in one_line(r)


# ---------------------------------------------------------------------------- 6. stores
READS = [("pool", "--tier", "specialized"), ("history", U), ("overdue",), ("report",), ("rebuild",),
         ("audit", "verify"), ("audit", "head"), ("audit", "export", "--out", "exported")]


@pytest.mark.parametrize("argv", READS, ids=lambda a: "-".join(a[:2]))
def test_a_read_of_a_missing_ledger_is_an_error_naming_the_path_and_creates_nothing(tmp_path: Path,
                                                                                   argv: tuple[str, ...]) -> None:
    typo = tmp_path / "ledgr.db"
    r = run(typo, *argv, "--json", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    line = one_line(r)
    assert str(typo) in line and "no ledger there" in line, line
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["error"]["code"] == "store.invalid" and out["error"]["field"] == "--db"
    assert sorted(os.listdir(tmp_path)) == []  # no ledger file, no export folder


def test_policy_needs_no_store_and_creates_none(tmp_path: Path) -> None:
    r = run(tmp_path / "none.db", "policy", "--json", cwd=tmp_path)
    rows = json.loads(r.stdout)
    assert r.returncode == 0 and any(row["tier"] == "little_giant" for row in rows)
    # 制造业单项冠军 is its own programme: its versions list it, the national ones no longer do
    champions = [(row["programme"], row["version"], row["tier"]) for row in rows if row["tier"].startswith("single_")]
    assert champions == [("champion", "2016", "single_champion"), ("champion", "2016", "single_champion_product"),
                         ("champion", "2023", "single_champion")]
    assert os.listdir(tmp_path) == []


def test_policy_shows_the_provincial_overrides_and_the_rules_in_force_for_a_region(tmp_path: Path) -> None:
    r = run(tmp_path / "none.db", "policy", "--json", cwd=tmp_path)
    spec22 = next(row for row in json.loads(r.stdout) if (row["key"], row["tier"]) == ("national@2022", "specialized"))
    assert [(o["by"], o["from"], o["sets"]["validity_start"]) for o in spec22["overrides"]] == [
        ("liaoning@2019", "2023-10-01", "next_january")]
    table = run(tmp_path / "none.db", "policy", cwd=tmp_path)
    assert table.returncode == 0 and "实施细则" in table.stdout and "辽工信改革〔2024〕6号" in table.stdout
    here = {row["tier"]: row for row in json.loads(run(tmp_path / "none.db", "policy", "--json", "--region", "葫芦岛市",
                                                       "--on", "2024-03-01", cwd=tmp_path).stdout)
            if row["programme"] == "national"}
    assert (here["specialized"]["key"], here["specialized"]["validity_start"], here["specialized"]["renewal"]) == (
        "national@2022+liaoning@2019", "next_january", "replace")
    dalian = {row["tier"]: row for row in json.loads(run(tmp_path / "none.db", "policy", "--json", "--region",
                                                         "210213", "--on", "2024-03-01", cwd=tmp_path).stdout)}
    assert (dalian["specialized"]["key"], dalian["specialized"]["validity_start"]) == ("national@2022", "announcement")
    bad = run(tmp_path / "none.db", "policy", "--region", "atlantis", cwd=tmp_path)
    assert bad.returncode == 2 and "--region" in bad.stderr and "Traceback" not in bad.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("url", "needle"), [
    ("mysql://root:secret@127.0.0.1/ledger", "unknown scheme 'mysql'"),
    ("postgresql://postgres@127.0.0.1:5432/test?pool_size=abc", "pool_size 'abc' must be a whole number"),
    ("postgresql://postgres@127.0.0.1:5432/test?pool_size=0", "pool_size '0' must be a whole number"),
    ("postgresql://postgres@127.0.0.1:5432/test?pool_sise=4", "unknown query parameter(s) pool_sise"),
    ("postgresql://postgres@127.0.0.1:5432/test?schema=a%22b", "schema 'a\"b' must be"),
    ("postgresql://postgres@127.0.0.1:99999/test", "port"),
])
def test_a_store_url_the_ledger_cannot_use_is_refused_in_one_line(tmp_path: Path, url: str, needle: str) -> None:
    for argv in (("pool", "--tier", "specialized"),
                 ("register", "--uscc", U, "--name", "x", "--occurred-on", "2019-01-02", *AUTH)):
        r = run(url, *argv, cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        line = one_line(r)
        assert needle in line and "secret" not in line, line
    assert os.listdir(tmp_path) == []  # no SQLite file named after the URL


def test_a_directory_or_a_file_that_is_not_a_ledger_is_named_as_such(tmp_path: Path) -> None:
    r = run(tmp_path, "pool", "--tier", "specialized", cwd=tmp_path)
    assert r.returncode == 2 and "is a directory" in one_line(r)
    r = run(tmp_path, "register", "--uscc", U, "--name", "x", "--occurred-on", "2019-01-02", *AUTH, cwd=tmp_path)
    assert r.returncode == 2 and "is a directory" in one_line(r)
    csv_file = tmp_path / "report.csv"
    csv_file.write_text("uscc,name\n", encoding="utf-8")
    for argv in (("pool", "--tier", "specialized"),
                 ("register", "--uscc", U, "--name", "x", "--occurred-on", "2019-01-02", *AUTH)):
        r = run(csv_file, *argv, cwd=tmp_path)
        assert r.returncode == 2 and "not a SQLite database" in one_line(r), r.stderr
    assert csv_file.read_text(encoding="utf-8") == "uscc,name\n"
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    r = run(other, "pool", "--tier", "specialized", cwd=tmp_path)
    assert r.returncode == 2 and "without a ledger" in one_line(r)


def test_an_unreachable_postgresql_server_is_one_line_and_exit_3(tmp_path: Path) -> None:
    url = f"postgresql://ledger:hunter2@127.0.0.1:{free_port()}/ledger?schema=s1&connect_timeout=2"
    for argv in (("pool", "--tier", "specialized"),
                 ("register", "--uscc", U, "--name", "x", "--occurred-on", "2019-01-02", *AUTH)):
        r = run(url, *argv, "--json", cwd=tmp_path)
        assert r.returncode == 3, r.stderr
        line = one_line(r)
        assert "cannot connect" in line and "hunter2" not in line + r.stdout, line
        assert json.loads(r.stdout)["error"]["code"] == "store.unavailable"


@pytest.mark.postgres
def test_a_missing_postgresql_schema_is_refused_by_a_read_and_created_by_a_write(pg_base_url: str | None,
                                                                                 tmp_path: Path) -> None:
    if pg_base_url is None:
        pytest.skip("no PostgreSQL: set CULTIVATION_TEST_PG, run one on 127.0.0.1:5432, or start Docker")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = f"{pg_base_url}{'&' if '?' in pg_base_url else '?'}schema={schema}"

    def exists() -> bool:
        with psycopg.connect(pg_base_url.split("?")[0], autocommit=True) as conn:
            return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None

    try:
        r = run(url, "pool", "--tier", "specialized", cwd=tmp_path)
        assert r.returncode == 2 and f"no schema '{schema}'" in one_line(r), r.stderr
        assert not exists()  # a read created nothing
        r = run(url, "register", "--uscc", U, "--name", "葫芦岛测试泵业有限公司", "--region", "211402",
                "--occurred-on", "2019-01-02", *AUTH, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert exists()
        assert json.loads(run(url, "history", U, "--json", cwd=tmp_path).stdout)["count"] == 1
    finally:
        with psycopg.connect(pg_base_url.split("?")[0], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# ---------------------------------------------------------------------------- 9. exit codes and output
def test_an_internal_error_is_exit_3_in_one_line_and_the_traceback_only_with_debug(tmp_path: Path) -> None:
    """A ledger file whose events table is not the library's: the store fails under the
    ledger.  That is no refusal by a rule (1) and no malformed input (2): it is 3."""
    broken = tmp_path / "broken.db"
    with sqlite3.connect(broken) as conn:
        conn.execute("CREATE TABLE stored_events (nothing_the_library_expects TEXT)")
    r = run(broken, "history", U, "--json", cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    line = one_line(r)
    assert line.startswith("internal error: ") and "--debug" in line, line
    assert json.loads(r.stdout)["error"]["code"] == "internal"
    r = run(broken, "--debug", "history", U, cwd=tmp_path)
    assert r.returncode == 3 and "Traceback" in r.stderr and r.stderr.rstrip().splitlines()[-1].startswith(
        "internal error: ")


def test_json_submit_of_a_malformed_file_prints_json_and_writes_nothing(db: Path, tmp_path: Path) -> None:
    good = {"command": "apply", "command_id": "b-1", "uscc": U, "application_id": "sp-9", "programme": "national",
            "tier": "specialized", "occurred_on": "2019-03-01", "actor": {"authority": "211400", "person": "p"}}
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join([json.dumps(good), json.dumps({**good, "command_id": "b-2", "occurred_on": "soon"}),
                                "{not json", json.dumps({**good, "command_id": "b-4"})]) + "\n", encoding="utf-8")
    before = stored_events(db)
    r = run(db, "submit", str(batch), "--json")
    assert r.returncode == 2, r.stderr
    no_traceback(r)
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["accepted"] == 0 and out["malformed_count"] == 2
    assert [(m["line"], m["field"]) for m in out["malformed"]] == [(2, "$.occurred_on"), (3, "$")]
    assert out["error"]["field"] == "file" and "nothing submitted" in out["error"]["message"]
    assert stored_events(db) == before
    for missing in (tmp_path / "no-such.jsonl", tmp_path):
        r = run(db, "submit", str(missing), "--json")
        assert r.returncode == 2 and json.loads(r.stdout)["error"]["field"] == "file", r.stderr
        one_line(r)


def test_csv_cells_that_start_like_a_formula_are_neutralised(tmp_path: Path) -> None:
    db = tmp_path / "L.db"
    ledger = Ledger(db=str(db))
    try:
        script = Script(ledger)
        evil = "=HYPERLINK(\"http://127.0.0.1/x\",\"点击\")"
        register(script, U, name=evil, region="211402")
        d = designate(script, U, "specialized", on="2023-03-01")
        valid_until = d.state(script)
    finally:
        ledger.close()
    as_of = date(2026, 3, 1)
    r = run(db, "report", "--format", "csv", "--table", "expiring", "--as-of", as_of.isoformat())
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("\ufeff")  # the byte-order mark Excel needs to read UTF-8
    rows = list(csv.DictReader(io.StringIO(r.stdout.removeprefix("\ufeff"))))
    assert [row["uscc"] for row in rows] == [U], (valid_until, r.stdout)
    assert rows[0]["name"] == "'" + evil  # shown as text by a spreadsheet, not run
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row.values())
    assert as_of + timedelta(days=90) > date.fromisoformat(rows[0]["valid_until"])


def test_markup_in_stored_names_and_ids_prints_as_itself(tmp_path: Path) -> None:
    """A name with rich markup (`[/]`) crashed `history`'s table for every reader."""
    db = tmp_path / "L.db"
    r = run(db, "register", "--uscc", U, "--name", "[/]葫芦岛[bold]泵业:smile:", "--region", "211402",
            "--occurred-on", "2019-01-02", "--command-id", "[red]id[/red]", *AUTH)
    assert r.returncode == 0, r.stderr
    assert "[red]id[/red]" in r.stdout
    r = run(db, "history", U)
    assert r.returncode == 0, r.stderr
    no_traceback(r)
    assert "[/]葫芦岛[bold]泵业:smile:" in r.stdout


def test_help_documents_exit_3_and_debug(tmp_path: Path) -> None:
    r = run(tmp_path / "x.db", "--help", cwd=tmp_path)
    assert r.returncode == 0 and "3 internal error" in " ".join(r.stdout.split()) and "--debug" in r.stdout
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("argv", "field"), [
    (("report", "--as-of", "9999-12-31"), "--as-of"),  # was an OverflowError
    (("pool", "--tier", "specialized", "--as-of", "0001-01-01"), "--as-of"),
    (("audit", "export", "--from", "-5", "--out", "e"), "--from"),  # was an export of "positions -5–1"
    (("audit", "export", "--from", "3", "--to", "1", "--out", "e"), "--to"),
    (("audit", "consistency", "--old-size", "1", "--old-root", "zz"), "--old-root"),  # was a ValueError
    (("audit", "verify-bundle", "no-such-folder"), "path"),  # was "TAMPERED", exit 1
])
def test_arguments_that_crashed_or_misled_are_malformed_input(db: Path, argv: tuple[str, ...], field: str) -> None:
    before = stored_events(db)
    r = run(db, *argv, "--json", cwd=db.parent)
    assert r.returncode == 2, r.stderr
    assert one_line(r).startswith(f"error: {field}: "), r.stderr
    assert json.loads(r.stdout)["error"]["field"] == field
    assert stored_events(db) == before and not (db.parent / "e").exists()
