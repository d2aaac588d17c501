"""The README's code runs: the two 15-line NATS clients against `cultivation serve`, and
the proof-checking script against a proof the CLI printed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.readme import snippet
from tests.support.streams import journey, send_all, start_serve


def test_the_command_client_and_the_watch_client_run_against_serve(ledger, nats_url: str, home: Path,
                                                                   tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    command_client = snippet("A client that sends a command")
    watch_client = snippet("A client that watches a pool")
    assert len(command_client.strip().splitlines()) <= 17 and len(watch_client.strip().splitlines()) <= 17
    (tmp_path / "send.py").write_text(command_client, encoding="utf-8")
    (tmp_path / "watch.py").write_text(watch_client, encoding="utf-8")
    env = {**os.environ, "NATS_URL": nats_url}
    proc = start_serve(ledger.store, home, nats_url)
    watcher = None
    try:
        out = subprocess.run([sys.executable, str(tmp_path / "send.py")], env=env, capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "accepted: ['Registered']"
        again = subprocess.run([sys.executable, str(tmp_path / "send.py")], env=env, capture_output=True,
                               text=True, timeout=60)
        assert again.stdout.strip() == "accepted: ['Registered']"  # the same command id: the first outcome
        assert all(r["body"]["ok"] for r in asyncio.run(send_all(nats_url, [
            {**obj, "command_id": f"readme-1-{j}"} for j, obj in enumerate(journey(1))], concurrency=1)))
        time.sleep(1.5)  # the KV bucket holds a row before the watcher starts
        watcher = subprocess.Popen([sys.executable, str(tmp_path / "watch.py")], env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert watcher.stdout is not None
        first = watcher.stdout.readline()
        assert "designations in the bucket" in first, watcher.stderr.read() if watcher.poll() else first
        assert all(r["body"]["ok"] for r in asyncio.run(send_all(nats_url, [
            {**obj, "command_id": f"readme-2-{j}"} for j, obj in enumerate(journey(2))], concurrency=1)))
        line = watcher.stdout.readline()
        assert journey(2)[0]["uscc"] in line and "测试企业2" in line
    finally:
        if watcher:
            watcher.kill()
            watcher.wait()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


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
