"""The README's code runs: the two short NATS clients against `cultivation serve`, and
the proof-checking script against a proof the CLI printed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.readme import README, snippet
from tests.support.streams import journey, send_all, start_serve


def _stated_lines(after: str) -> int:
    """The line count the README gives a script: "A client that … (17 lines"."""
    text = README.read_text(encoding="utf-8")
    m = re.match(r"[^(]*\((\d+) lines", text[text.index(after):])
    assert m, after
    return int(m.group(1))


def test_the_command_client_and_the_watch_client_run_against_serve(ledger, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The two clients find a local `serve` through `$CULTIVATION_HOME/nats.url` or `NATS_URL`
    (issue 16, item 8), and the watcher prints each designation's state today."""
    import asyncio

    command_client = snippet("A client that sends a command")
    watch_client = snippet("A client that watches a pool")
    for after, code in (("A client that sends a command", command_client), ("A client that watches a pool",
                                                                            watch_client)):
        assert len(code.strip().splitlines()) == _stated_lines(after), after  # as many lines as the README says
    (tmp_path / "send.py").write_text(command_client, encoding="utf-8")
    (tmp_path / "watch.py").write_text(watch_client, encoding="utf-8")
    nobody = tmp_path / "nobody"  # a HOME with nothing in it: the default home has no nats.url
    nobody.mkdir()
    base = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "CULTIVATION_HOME")} | {"HOME": str(nobody)}
    proc = start_serve(ledger.store, home, "")  # no NATS_URL: the embedded server, its URL in $CULTIVATION_HOME
    watcher = None
    try:
        url = (home / "nats.url").read_text(encoding="utf-8").strip()
        by_home = {**base, "CULTIVATION_HOME": str(home)}
        by_url = {**base, "CULTIVATION_HOME": str(tmp_path / "elsewhere"), "NATS_URL": url}
        out = subprocess.run([sys.executable, str(tmp_path / "send.py")], env=by_home, capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "accepted: ['Registered']"
        again = subprocess.run([sys.executable, str(tmp_path / "send.py")], env=by_url, capture_output=True,
                               text=True, timeout=60)
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == "accepted: ['Registered']"  # the same command id: the first outcome
        assert all(r["body"]["ok"] for r in asyncio.run(send_all(url, [
            {**obj, "command_id": f"readme-1-{j}"} for j, obj in enumerate(journey(1))], concurrency=1)))
        time.sleep(1.5)  # the KV bucket holds a row before the watcher starts
        watcher = subprocess.Popen([sys.executable, str(tmp_path / "watch.py")], env=by_home, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert watcher.stdout is not None
        first = watcher.stdout.readline()
        assert "designations in the bucket" in first, watcher.stderr.read() if watcher.poll() else first  # type: ignore[union-attr]
        assert all(r["body"]["ok"] for r in asyncio.run(send_all(url, [
            {**obj, "command_id": f"readme-2-{j}"} for j, obj in enumerate(journey(2))], concurrency=1)))
        line = watcher.stdout.readline()
        while _state_word(line) in STAGES:  # the application's stages as they pass, then its approval
            assert journey(2)[0]["uscc"] in line, line
            line = watcher.stdout.readline()
        approved = _designation(ledger, journey(2)[0]["uscc"])
        assert journey(2)[0]["uscc"] in line and "测试企业2" in line
        assert _state_word(line) == ("valid" if approved.valid_on(date.today().isoformat()) else "expired"), line
        # A revocation: the row's status stays "approved", the watcher says what it is today.
        u1 = journey(1)[0]["uscc"]
        revoke = {"command": "revoke", "command_id": "readme-revoke", "uscc": u1, "application_id": "sp",
                  "reason": "false_material", "occurred_on": "2020-03-02", "document": "辽工信函〔2020〕1号",
                  "actor": {"authority": "210000", "person": "辽宁省工信厅"}}
        assert all(r["body"]["ok"] for r in asyncio.run(send_all(url, [revoke], concurrency=1)))
        line = watcher.stdout.readline()
        assert u1 in line and "revoked 2020-03-02" in line, line
        assert _designation(ledger, u1).status == "approved"  # what the script used to print
        # A misspelt command reaches no endpoint: NATS answers "no responders", as the README says.
        assert "NoRespondersError" in README.read_text(encoding="utf-8")
        assert asyncio.run(_request(url, "cultivation.cmd.211400.regster")) == "NoRespondersError"
        _the_feed_and_the_auditor_run(tmp_path, by_home, url)
    finally:
        if watcher:
            watcher.kill()
            watcher.wait()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


STAGES = ("applied", "recommended", "assessed", "noticed")


def _the_feed_and_the_auditor_run(tmp_path: Path, env: dict[str, str], url: str) -> None:
    """The bank feed pages through the pool (one designation a page here); the auditor keeps
    a head, and on its next run proves the ledger extends it, with a proof checked offline."""
    import asyncio

    scripts = {}
    for after in ("A bank feed that takes the white list", "An auditor that keeps the head"):
        code = snippet(after)
        assert len(code.strip().splitlines()) == _stated_lines(after), after
        scripts[after] = code
    (tmp_path / "feed.py").write_text(scripts["A bank feed that takes the white list"], encoding="utf-8")
    (tmp_path / "auditor.py").write_text(scripts["An auditor that keeps the head"], encoding="utf-8")

    def run(script: str, *args: str, cwd: Path = tmp_path) -> list[str]:
        out = subprocess.run([sys.executable, str(tmp_path / script), *args], env=env, cwd=cwd, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip().splitlines()

    u1, u2 = journey(1)[0]["uscc"], journey(2)[0]["uscc"]
    both = run("feed.py", "2019-06-01", "1")  # two pages of one
    assert [line.split()[0] for line in both[:-1]] == sorted([u1, u2]) and both[-1].startswith("2 of 2 valid on"), both
    assert "连山区" in both[0] and "valid until 2022-05-19" in both[0], both
    after_revocation = run("feed.py", "2020-06-01")
    assert [line.split()[0] for line in after_revocation[:-1]] == [u2], after_revocation
    keeper = tmp_path / "auditor"
    keeper.mkdir()
    [first] = run("auditor.py", cwd=keeper)
    assert first.startswith("head ")
    assert all(r["body"]["ok"] for r in asyncio.run(send_all(url, [
        {**obj, "command_id": f"readme-3-{j}"} for j, obj in enumerate(journey(3))], concurrency=1)))
    extends, second = run("auditor.py", cwd=keeper)
    assert extends == "extends " + first.removeprefix("head ") and second != first, (extends, second)
    checked = subprocess.run([sys.executable, "-m", "entrypoints.cli", "audit", "verify-bundle",
                              str(keeper / "consistency.json"), "--head", first.removeprefix("head ")],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and checked.stdout.startswith("ok: head "), (checked.stdout, checked.stderr)


def _state_word(line: str) -> str:
    """The state column of a watcher line (uscc, name, tier, level, state …)."""
    words = line.split()
    assert len(words) > 4, line
    return words[4]


def _designation(ledger, uscc: str):  # type: ignore[no-untyped-def]
    from infra.readmodel import ReadModel

    rm = ReadModel(ledger, prefix="readme", follows_store=False, target=":memory:")
    rm.catch_up()
    rows = [d for d in rm.rows("designation") if d.uscc == uscc]
    rm.close()
    assert len(rows) == 1, rows
    return rows[0]


async def _request(url: str, subject: str) -> str:
    import nats

    nc = await nats.connect(url)
    try:
        await nc.request(subject, b"{}", timeout=5)
        return "answered"
    except Exception as e:  # noqa: BLE001 - its kind is the answer
        return type(e).__name__
    finally:
        await nc.close()


def test_the_proof_script_checks_a_proof_and_catches_a_forged_one(ledger, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    from tests.support.streams import load

    load(ledger, 0, 3)
    script = snippet("A proof checks with nothing but Python's standard library")
    assert len(script.strip().splitlines()) <= 30
    (tmp_path / "check.py").write_text(script, encoding="utf-8")
    env = {**os.environ, "CULTIVATION_DB": ledger.store}
    u = journey(1)[0]["uscc"]
    proof = tmp_path / "proof.json"
    r = subprocess.run([sys.executable, "-m", "entrypoints.cli", "audit", "prove", u, "--out", str(proof)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    # Run with a Python that has only the standard library in reach: no project on the path.
    ok = subprocess.run([sys.executable, "-I", str(tmp_path / "check.py"), str(proof)], capture_output=True,
                        text=True, timeout=60, cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout.startswith("ok 6 events"), ok.stdout + ok.stderr
    doc = json.loads(proof.read_text(encoding="utf-8"))
    doc["proofs"][2]["state_utf8"] = doc["proofs"][2]["state_utf8"].replace("2019", "2018", 1)
    proof.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    bad = subprocess.run([sys.executable, "-I", str(tmp_path / "check.py"), str(proof)], capture_output=True,
                         text=True, timeout=60, cwd=tmp_path)
    assert bad.returncode == 1 and bad.stdout.startswith("FAILED")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_make_demo_installs_the_ledger_alone_and_make_test_the_extras_too(tmp_path: Path) -> None:
    """The quick start (issue 16, item 8): `make demo` needs no test or lint tools; `make test`
    and its parts do, and a virtualenv set up by one is not taken for the other's."""
    import shutil

    from tests.support import ROOT

    make = shutil.which("make")
    if make is None:
        pytest.skip("no make on this machine")
    venv = tmp_path / "venv"

    def plan(*targets: str) -> list[str]:
        r = subprocess.run([make, "-n", "-C", str(ROOT), f"VENV={venv}", *targets], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        return [line for line in r.stdout.splitlines() if "pip install" in line or line.startswith("touch")]

    demo = plan("demo")
    assert [line for line in demo if "-e " in line] == [f"{venv}/bin/python -m pip install --quiet -e ."]
    assert not any("[test" in line for line in demo)
    for target in ("test", "setup", "unit", "lint", "integration", "e2e"):
        assert any('-e ".[test,lint]"' in line for line in plan(target)), target
    # Once the demo's environment is there, `make test` still installs the extras.
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    (venv / "bin" / ".installed-demo").touch()
    assert plan("demo") == []
    assert any('-e ".[test,lint]"' in line for line in plan("unit"))
    (venv / "bin" / ".installed-test").touch()
    assert plan("unit") == [] and plan("demo") == []
