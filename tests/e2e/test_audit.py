"""Auditors: tamper evidence on real SQLite files and PostgreSQL rows, offline bundles,
inclusion and consistency proofs, bitemporal answers, and a replay from NATS.

Tampering is done the way an insider with database access would: SQL straight on the
SQLite file or the PostgreSQL table, behind the ledger's back.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from audit.bundle import verify_bundle
from domain.enterprise import enterprise_id
from infra.integrity import stored_head, verify_store
from infra.readmodel import ReadModel
from services import commands as c
from services.ledger import Ledger
from tests.support.streams import journey, load

# --------------------------------------------------------------------------- the demo, once
_DEMO: dict[str, Any] = {}  # the demo store once per session, and its size


def demo_copy(tmp_path: Path) -> Path:
    """A copy of a SQLite store holding the demo (built once per test session)."""
    from scenarios.demo import demo_script

    if "db" not in _DEMO:
        import tempfile

        path = Path(tempfile.mkdtemp(prefix="cultivation-demo-")) / "demo.db"
        ledger = Ledger(db=str(path))
        ledger.handle_many([c.convert_command(obj) for obj, _ in demo_script()])  # as `cultivation demo` does
        _DEMO["size"] = ledger.max_position()  # every record of the demo (its events)
        ledger.close()
        _DEMO["db"] = path
    target = tmp_path / "demo.db"
    shutil.copy(_DEMO["db"], target)
    return target


def cli(db: str | Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CULTIVATION_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


# --------------------------------------------------------------------------- tamperings
def change_a_byte(conn: Any, pg: bool, table: str) -> int:
    p = 120
    state = bytes(conn.execute(f"SELECT state FROM {table} WHERE {_pos(pg)} = {p}").fetchone()[0])
    i = state.index(b'"occurred_on":"') + len(b'"occurred_on":"') + 3  # 2019 → 2018, a backdating
    forged = state[:i] + bytes([state[i] - 1]) + state[i + 1:]
    conn.execute(f"UPDATE {table} SET state = {_ph(pg)} WHERE {_pos(pg)} = {p}", (forged,))
    return p


def delete_a_row(conn: Any, pg: bool, table: str) -> int:
    p = 170
    conn.execute(f"DELETE FROM {table} WHERE {_pos(pg)} = {p}")
    return p


def swap_two_rows(conn: Any, pg: bool, table: str) -> int:
    a, b = 150, 160
    ra = conn.execute(f"SELECT topic, state FROM {table} WHERE {_pos(pg)} = {a}").fetchone()
    rb = conn.execute(f"SELECT topic, state FROM {table} WHERE {_pos(pg)} = {b}").fetchone()
    for p, (topic, state) in ((a, rb), (b, ra)):
        conn.execute(f"UPDATE {table} SET topic = {_ph(pg)}, state = {_ph(pg)} WHERE {_pos(pg)} = {p}",
                     (topic, state))
    return a


def append_a_forged_row(conn: Any, pg: bool, table: str) -> int:
    row = conn.execute(f"SELECT originator_id, originator_version, state FROM {table} WHERE topic LIKE "
                       f"'%Enterprise.Approved' ORDER BY {_pos(pg)} LIMIT 1").fetchone()
    oid = row[0]
    top = conn.execute(f"SELECT MAX(originator_version) FROM {table} WHERE originator_id = {_ph(pg)}",
                       (oid,)).fetchone()[0]
    conn.execute(f"INSERT INTO {table} (originator_id, originator_version, topic, state) VALUES "
                 f"({_ph(pg)}, {_ph(pg)}, {_ph(pg)}, {_ph(pg)})",
                 (oid, top + 1, "domain.enterprise:Enterprise.Approved", bytes(row[2])))
    return int(conn.execute(f"SELECT MAX({_pos(pg)}) FROM {table}").fetchone()[0])


def _pos(pg: bool) -> str:
    return "notification_id" if pg else "rowid"


def _ph(pg: bool) -> str:
    return "%s" if pg else "?"


TAMPERINGS = {
    "change a payload byte": (change_a_byte, "altered"),
    "delete a row": (delete_a_row, "missing"),
    "swap two rows": (swap_two_rows, "altered"),
    "append a forged row": (append_a_forged_row, "unchained"),
}


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_each_tampering_of_the_sqlite_file_is_caught_by_verify_and_by_an_export_taken_after(
        tmp_path: Path, tampering: str) -> None:
    db = demo_copy(tmp_path)
    head = json.loads(cli(db, "audit", "head", "--json").stdout)
    assert head["size"] == _DEMO["size"] > 3000
    clean = cli(db, "audit", "verify", "--head", f"{head['size']}:{head['root']}")
    assert clean.returncode == 0 and clean.stdout.startswith("ok"), clean.stdout + clean.stderr
    tamper, problem = TAMPERINGS[tampering]
    with sqlite3.connect(db) as conn:
        position = tamper(conn, False, "stored_events")
    r = cli(db, "audit", "verify", "--json")
    assert r.returncode == 1
    result = json.loads(r.stdout)
    assert result["ok"] is False
    assert result["first_bad"]["position"] == position and result["first_bad"]["problem"] == problem
    assert f"first bad position {position}: {problem}" in cli(db, "audit", "verify").stdout
    # An export taken after the tampering does not verify either, offline.
    out = tmp_path / "bundle"
    assert cli(db, "audit", "export", "--out", str(out)).returncode == 0
    check = verify_bundle(out)
    assert not check.ok
    assert check.first_bad is not None and check.first_bad.position == position
    r = cli(db, "audit", "verify-bundle", str(out), "--head", f"{head['size']}:{head['root']}")
    assert r.returncode == 1 and "TAMPERED" in r.stdout


def test_an_untampered_export_verifies_offline_and_against_its_head(tmp_path: Path) -> None:
    db = demo_copy(tmp_path)
    head = json.loads(cli(db, "audit", "head", "--json").stdout)
    out = tmp_path / "bundle"
    r = cli(db, "audit", "export", "--out", str(out), "--json")
    manifest = json.loads(r.stdout)
    assert manifest["count"] == head["size"] == _DEMO["size"] and manifest["head"]["root"] == head["root"]
    assert "national@2022" in manifest["policy_versions"] and "national@2026" in manifest["policy_versions"]
    db.unlink()  # offline: the store is gone
    r = cli(tmp_path / "nothing.db", "audit", "verify-bundle", str(out), "--head", f"{head['size']}:{head['root']}")
    assert r.returncode == 0 and r.stdout.startswith(f"ok: {_DEMO['size']} records"), r.stdout + r.stderr
    wrong = cli(tmp_path / "nothing.db", "audit", "verify-bundle", str(out), "--head", f"{head['size']}:{'0' * 64}")
    assert wrong.returncode == 1
    # A partial export verifies its chain from the hash before its first record.
    part = tmp_path / "part"
    missing = cli(tmp_path / "nothing.db", "audit", "export", "--out", str(part))  # no ledger: refused, not empty
    assert missing.returncode == 2 and "nothing.db: no ledger there" in missing.stderr, missing.stderr
    assert not (tmp_path / "nothing.db").exists() and not part.exists()
    from services.ledger import Ledger

    Ledger(db=str(tmp_path / "empty.db")).close()  # an empty ledger exports nothing, and that verifies
    assert cli(tmp_path / "empty.db", "audit", "export", "--out", str(part)).returncode == 0
    assert verify_bundle(part).count == 0


def test_a_partial_export_checks_its_chain(tmp_path: Path) -> None:
    db = demo_copy(tmp_path)
    out = tmp_path / "part"
    assert cli(db, "audit", "export", "--from", "1001", "--to", "2000", "--out", str(out)).returncode == 0
    check = verify_bundle(out)
    assert check.ok and check.count == 1000 and check.head is None
    lines = (out / "events.jsonl").read_text(encoding="utf-8").splitlines()
    (out / "events.jsonl").write_text("\n".join(lines[:10] + lines[11:]) + "\n", encoding="utf-8")
    check = verify_bundle(out)
    assert not check.ok and check.first_bad is not None
    assert (check.first_bad.position, check.first_bad.problem) == (1011, "missing")


@pytest.mark.postgres
@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_each_tampering_of_postgresql_rows_is_caught(pg_store: str, tmp_path: Path, tampering: str) -> None:
    import psycopg

    from infra.store import store_env

    store = pg_store
    ledger = Ledger(db=store)
    load(ledger, 0, 30)  # 180 events
    assert verify_store(ledger).ok
    env = store_env(store)
    tamper, problem = TAMPERINGS[tampering]
    with psycopg.connect(host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]), dbname=env["POSTGRES_DBNAME"],
                         user=env["POSTGRES_USER"], autocommit=True) as conn:
        position = tamper(conn, True, f'"{env["POSTGRES_SCHEMA"]}".ledger_events')
    result = verify_store(ledger)
    assert not result.ok
    assert result.first_bad is not None and (result.first_bad.position, result.first_bad.problem) == (position,
                                                                                                        problem)
    from audit.bundle import export

    export(ledger, tmp_path / "bundle")
    check = verify_bundle(tmp_path / "bundle")
    assert not check.ok and check.first_bad is not None and check.first_bad.position == position
    ledger.close()


def test_a_rewritten_chain_is_caught_by_the_head_kept_outside(store: str, tmp_path: Path) -> None:
    """An insider who recomputes the whole chain after a change passes `verify`, but not
    a check against the head the auditor wrote down, nor a consistency proof from it."""
    ledger = Ledger(db=store)
    load(ledger, 0, 10)
    kept = stored_head(ledger)
    load(ledger, 10, 5)
    # Rewrite history: change an early event and recompute every chain row after it.
    from infra.integrity import GENESIS, _chain_table, chain_next, leaf_of

    notes = ledger.recorder.select_notifications(start=1, limit=10**6)
    table = "ledger_events" if store.startswith("postgres") else "stored_events"
    pg = store.startswith("postgres")
    target = notes[5]
    forged = target.state.replace(b"2019", b"2018", 1)
    _exec(ledger, f"UPDATE {_schema(ledger)}{table} SET state = ? WHERE {_pos(pg)} = ?", (forged, target.id))
    running = GENESIS
    for n in ledger.recorder.select_notifications(start=1, limit=10**6):
        leaf = leaf_of(n.id, n.originator_id, n.originator_version, n.topic, n.state)
        running = chain_next(running, leaf)
        _exec(ledger, f"UPDATE {_chain_table(ledger)} SET leaf = ?, chain = ? WHERE position = ?",
              (leaf, running, n.id))
    assert verify_store(ledger).ok  # the database alone cannot tell
    r = cli(store, "audit", "verify", "--head", f"{kept.size}:{kept.root}")
    assert r.returncode == 1 and "rewritten" in r.stdout
    r = cli(store, "audit", "consistency", "--old-size", str(kept.size), "--old-root", kept.root)
    assert r.returncode == 1
    ledger.close()


def _schema(ledger: Ledger) -> str:
    from eventsourcing.postgres import PostgresApplicationRecorder

    r = ledger.recorder
    return f'"{r.datastore.schema}".' if isinstance(r, PostgresApplicationRecorder) else ""


def _exec(ledger: Ledger, sql: str, params: tuple[Any, ...]) -> None:
    from eventsourcing.postgres import PostgresApplicationRecorder

    r = ledger.recorder
    if isinstance(r, PostgresApplicationRecorder):
        with r.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql.replace("?", "%s"), params)
            conn.commit()
    else:
        with r.datastore.transaction(commit=True) as cur:
            cur.execute(sql, params)


# --------------------------------------------------------------------------- proofs
def test_inclusion_and_consistency_proofs_verify(tmp_path: Path) -> None:
    db = demo_copy(tmp_path)
    head = json.loads(cli(db, "audit", "head", "--json").stdout)
    h = cli(db, "history", "91211402MA00EEL4FU", "--json")
    events = json.loads(h.stdout)["events"]
    proof = tmp_path / "proof.json"
    assert cli(db, "audit", "prove", events[3]["event_id"], "--out", str(proof)).returncode == 0
    doc = json.loads(proof.read_text(encoding="utf-8"))
    assert [p["event_id"] for p in doc["proofs"]] == [events[3]["event_id"]]
    assert cli(db, "audit", "verify-bundle", str(proof), "--head", f"{head['size']}:{head['root']}").returncode == 0
    doc["proofs"][0]["path"][0] = "00" * 32
    proof.write_text(json.dumps(doc), encoding="utf-8")
    assert cli(db, "audit", "verify-bundle", str(proof)).returncode == 1
    # Consistency: the head an auditor kept at 1,000 events (an export up to there names it) is extended by today's.
    kept = json.loads(cli(db, "audit", "export", "--to", "1000", "--out", str(tmp_path / "first"), "--json").stdout)
    old_root = kept["head"]["root"]
    assert kept["head"]["size"] == 1000
    r = cli(db, "audit", "consistency", "--old-size", "1000", "--old-root", old_root, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True
    assert json.loads(r.stdout)["new"] == {"size": head["size"], "root": head["root"]}
    refused = cli(db, "audit", "consistency", "--old-size", "1000", "--old-root", "ab" * 32)
    assert refused.returncode == 1 and refused.stdout.startswith("FAILED: the ledger's first 1000 events do not have "
                                                                 f"root {'ab' * 32}"), refused.stdout
    assert cli(db, "audit", "consistency", "--old-size", "0", "--old-root", old_root).returncode == 2


def test_consistency_is_proved_only_from_a_kept_head_and_its_proof_checks_offline(tmp_path: Path) -> None:
    """Issue 16, item 6: no "ok" against the ledger's own root, malformed roots are bad input,
    and the proof goes to a file that `verify-bundle` checks with no store."""
    db = demo_copy(tmp_path)
    kept = json.loads(cli(db, "audit", "export", "--to", "1000", "--out", str(tmp_path / "first"), "--json").stdout)
    old_root = kept["head"]["root"]
    head = json.loads(cli(db, "audit", "head", "--json").stdout)
    # Without the kept root there is nothing to check against: refused, never "ok".
    r = cli(db, "audit", "consistency", "--old-size", "1000")
    assert r.returncode == 2 and "--old-root" in r.stderr and "required" in r.stderr and '"ok"' not in r.stdout
    for malformed in ("abcd", "zz" * 32, "ab" * 33, ""):
        r = cli(db, "audit", "consistency", "--old-size", "1000", "--old-root", malformed)
        assert r.returncode == 2, (malformed, r.stdout, r.stderr)
        assert "--old-root" in r.stderr and "64 hex digits" in r.stderr and r.stdout == "", r.stderr
    # The proof, to a file; a head the ledger does not extend writes none.
    proof = tmp_path / "cons.json"
    r = cli(db, "audit", "consistency", "--old-size", "1000", "--old-root", "ab" * 32, "--out", str(proof))
    assert r.returncode == 1 and not proof.exists()
    r = cli(db, "audit", "consistency", "--old-size", "1000", "--old-root", old_root, "--out", str(proof))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"ok: head {head['size']}:{head['root']} extends 1000:{old_root}")
    doc = json.loads(proof.read_text(encoding="utf-8"))
    assert doc["format"] == "cultivation-ledger-consistency/1" and doc["old"] == {"size": 1000, "root": old_root}
    assert cli(db, "audit", "consistency", "--old-size", "1000", "--old-root", old_root, "--out",
               str(proof)).returncode == 2  # an existing file only with --force
    db.unlink()  # offline from here: the store is gone
    nothing = tmp_path / "nothing.db"
    r = cli(nothing, "audit", "verify-bundle", str(proof), "--head", f"1000:{old_root}")
    assert r.returncode == 0 and r.stdout.startswith(f"ok: head {head['size']}:{head['root']} extends 1000:"), r.stdout
    r = cli(nothing, "audit", "verify-bundle", str(proof), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["kind"] == "consistency"
    r = cli(nothing, "audit", "verify-bundle", str(proof), "--head", f"1000:{'ab' * 32}")  # not the head I kept
    assert r.returncode == 1 and "is not the expected" in r.stdout
    # A proof altered in any hash, or claiming a larger old head, fails; a file that is no proof is bad input.
    for where, value in (("proof", None), ("old", {"size": 1001, "root": old_root}),
                         ("new", {"size": head["size"], "root": "00" * 32})):
        forged = json.loads(json.dumps(doc))
        if value is None:
            forged["proof"][0] = "00" * 32
        else:
            forged[where] = value
        (tmp_path / "forged.json").write_text(json.dumps(forged), encoding="utf-8")
        r = cli(nothing, "audit", "verify-bundle", str(tmp_path / "forged.json"))
        assert r.returncode == 1 and r.stdout.startswith("FAILED: consistency proof"), (where, r.stdout, r.stderr)
    for text, field in ((json.dumps({**doc, "old": {"size": 1000, "root": "abcd"}}), "$.old.root"),
                        (json.dumps({**doc, "format": "cultivation-ledger-consistency/9"}), "$.format"),
                        (json.dumps({"head": {"size": 1}}), "format"), ("not json", "malformed")):
        (tmp_path / "bad.json").write_text(text, encoding="utf-8")
        r = cli(nothing, "audit", "verify-bundle", str(tmp_path / "bad.json"))
        assert r.returncode == 2 and "not a proof file" in r.stderr and field in r.stderr, (text, r.stderr)
        assert "Traceback" not in r.stderr and r.stdout == ""


def test_bad_heads_and_missing_paths_are_bad_input_not_tampering(tmp_path: Path) -> None:
    """Issue 16, item 6: exit 2 with the flag named, never "TAMPERED" or an internal error."""
    db = demo_copy(tmp_path)
    head = json.loads(cli(db, "audit", "head", "--json").stdout)
    bundle = tmp_path / "bundle"
    assert cli(db, "audit", "export", "--out", str(bundle)).returncode == 0
    for malformed in ("abcd", "zz", f"x:{head['root']}", f"{head['size']}:{head['root']}00", f"-1:{head['root']}"):
        for args in (("verify",), ("verify-bundle", str(bundle))):
            r = cli(db, "audit", *args, f"--head={malformed}")
            assert r.returncode == 2 and "error: --head:" in r.stderr, (args, malformed, r.stdout, r.stderr)
            assert "TAMPERED" not in r.stdout and "internal error" not in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "half").mkdir()
    shutil.copy(bundle / "manifest.json", tmp_path / "half" / "manifest.json")
    for path, says in ((tmp_path / "missing", "no such export folder or proof file"),
                       (empty, "not an export folder: no events.jsonl and no manifest.json"),
                       (tmp_path / "half", "not an export folder: no events.jsonl")):
        r = cli(db, "audit", "verify-bundle", str(path))
        assert r.returncode == 2 and says in r.stderr and r.stdout == "", (path, r.stdout, r.stderr)
    # A head larger than the store: records were removed (a finding, exit 1).
    r = cli(db, "audit", "verify", "--head", f"{head['size'] + 5}:{head['root']}")
    assert r.returncode == 1 and f"fewer than the {head['size'] + 5}" in r.stdout and "events were removed" in r.stdout


def test_the_same_commands_recorded_again_give_the_same_size_and_another_root(tmp_path: Path) -> None:
    """Why a fresh install's head differs from the README's (issue 16, item 6): a leaf hashes
    the stored record, and the record holds the ledger time it was recorded."""
    heads = []
    for name in ("one.db", "two.db"):
        ledger = Ledger(db=str(tmp_path / name))
        load(ledger, 0, 2)
        heads.append(stored_head(ledger))
        first = ledger.recorder.select_notifications(start=1, limit=1)[0]
        assert b'"timestamp":"' in first.state  # the ledger time, inside what the leaf hashes
        ledger.close()
    assert heads[0].size == heads[1].size == 6 + 6  # each command: its event (the journal is no event)
    assert heads[0].root != heads[1].root
    # The README's example head: the demo's size, and a root it says is this install's own.
    from tests.support.readme import README

    text = README.read_text(encoding="utf-8")
    example = text[text.index("cultivation audit head "):].splitlines()[0]
    demo_copy(tmp_path)
    assert f"# {_DEMO['size']}:" in example, example
    assert "ledger time" in text[text.index("cultivation audit head "):text.index("What each tampering looks like")]


# --------------------------------------------------------------------------- bitemporal
def _valid_from_aggregates(ledger: Ledger, tier: str, as_of: date, recorded_by: Any) -> set[tuple[str, str]]:
    """Independently of the projections: rebuild each enterprise from its events recorded
    by ``recorded_by`` and ask the domain which designations are valid on ``as_of``."""
    from domain.enterprise import Enterprise

    out = set()
    seen = set()
    for n in ledger.recorder.select_notifications(start=1, limit=10**7):
        if n.topic == "domain.enterprise:Enterprise.Registered" and n.originator_id not in seen:
            seen.add(n.originator_id)
    for oid in seen:
        events = [e for e in ledger.events.get(oid) if e.timestamp <= recorded_by]
        if not events:
            continue
        agg: Enterprise | None = None
        for e in events:
            agg = e.mutate(agg)
        assert agg is not None
        for a in agg.applications.values():
            if a.tier == tier and a.valid_on(as_of):
                out.add((agg.uscc, a.id))
    return out


def test_as_recorded_answers_match_a_replay_cut_at_that_ledger_time(ledger: Ledger) -> None:
    load(ledger, 0, 3)
    u = journey(1)[0]["uscc"]
    time.sleep(0.01)
    cut = ledger.events.get(enterprise_id(u), desc=True, limit=1).__next__().timestamp
    time.sleep(0.01)
    # After the cut: an annulment of enterprise 1's approval (a correction naming it) and a new designation.
    ledger.handle(c.convert_command({"command": "annul", "command_id": "annul-1", "uscc": u, "application_id": "sp",
                                     "reason": "审核材料有误", "occurred_on": "2019-07-01",
                                     "actor": {"authority": "210000", "person": "辽宁省工信厅"},
                                     "document": "辽工信〔2019〕77号"}))
    load(ledger, 3, 1)
    db = ledger.store
    as_of = "2020-01-01"
    then = json.loads(cli(db, "pool", "--tier", "specialized", "--as-of", as_of, "--as-recorded", cut.isoformat(),
                          "--json").stdout)
    now = json.loads(cli(db, "pool", "--tier", "specialized", "--as-of", as_of, "--json").stdout)
    assert then["as_recorded"]["position"] < ledger.max_position()
    then_set = {(i["uscc"], i["application_id"]) for i in then["items"]}
    now_set = {(i["uscc"], i["application_id"]) for i in now["items"]}
    assert (u, "sp") in then_set and (u, "sp") not in now_set  # before the correction: the original
    assert (journey(3)[0]["uscc"], "sp") in now_set - then_set
    assert then_set == _valid_from_aggregates(ledger, "specialized", date.fromisoformat(as_of), cut)
    history_then = json.loads(cli(db, "history", u, "--as-recorded", cut.isoformat(), "--json").stdout)
    history_now = json.loads(cli(db, "history", u, "--json").stdout)
    assert [e["type"] for e in history_then["events"]][-1] == "Approved"
    annulment = history_now["events"][-1]
    assert annulment["type"] == "Annulled"
    assert annulment["details"]["corrects"] == history_now["events"][-2]["event_id"]  # names the approval
    assert cli(db, "pool", "--tier", "specialized", "--as-recorded", "yesterday").returncode == 2


# --------------------------------------------------------------------------- replay from NATS
def test_an_auditor_replays_the_stream_from_any_point_and_gets_the_stores_projections(
        ledger: Ledger, nats_url: str) -> None:
    import nats

    from audit.replay import replay_and_compare
    from infra.nats import connect_options, ensure_stream_and_bucket
    from infra.relay import Relay

    load(ledger, 0, 20)

    async def publish() -> None:
        nc = await nats.connect(**connect_options(nats_url))
        await ensure_stream_and_bucket(nc.jetstream())
        await Relay(ledger, nc).drain()
        await nc.close()

    asyncio.run(publish())
    for start in (1, 97):
        result = asyncio.run(replay_and_compare(ledger, from_seq=start, url=nats_url))
        assert result["equal"], result
        assert result["last_position"] == ledger.max_position()
        assert result["messages"] == ledger.max_position() - start + 1
    since = asyncio.run(replay_and_compare(ledger, since="2000-01-01T00:00:00+00:00", url=nats_url))
    assert since["equal"] and since["messages"] == ledger.max_position()
    rebuilt = ReadModel(ledger)
    rebuilt.rebuild()
    assert len(rebuilt.rows("designation")) == 20
