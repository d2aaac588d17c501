"""A ``cultivation submit`` stopped with Ctrl-C and run again ends as one uninterrupted run:
the same accepted commands, refusals and pools (issue 10, item 4; the same file submitted
twice in one process: tests/integration/test_business_time_decisions.py).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from entrypoints.cli import main
from services.ledger import Ledger
from tests.support import ROOT as REPO
from tests.support.generated import issue_file, refusal_codes
from tests.support.ledgers import pg_schema_url

CLI = [sys.executable, "-m", "entrypoints.cli"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The issue's file: 2,000 enterprises over 10 years, seed 7, and its expected refusals."""
    return issue_file(tmp_path_factory.mktemp("generated"))


# ---------------------------------------------------------------------------- Ctrl-C
def _run(store: str, path: Path, interrupt_at: int | None = None, twice: bool = False) -> tuple[int, str, str]:
    """``cultivation submit`` in a process of its own; with ``interrupt_at``, SIGINT (twice: a
    second one right after) once the store holds at least that many events."""
    proc = subprocess.Popen([*CLI, "--db", store, "--json", "submit", str(path)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if interrupt_at is not None:
        watcher = Ledger(db=store)
        try:
            while proc.poll() is None:
                try:
                    if watcher.max_position() >= interrupt_at:
                        break
                except Exception:  # the tables are being created by the submit
                    pass
                time.sleep(0.05)
        finally:
            watcher.close()
        proc.send_signal(signal.SIGINT)
        if twice:
            proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out, err


def _ledger_state(store: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """What a reader sees: every tier's pool on two dates and the report, as JSON."""
    seen: dict[str, Any] = {}
    for tier in ("innovative", "specialized", "little_giant", "key_little_giant", "single_champion"):
        for as_of in ("2021-06-30", "2025-12-31"):
            capsys.readouterr()
            main(["--db", store, "--json", "pool", "--tier", tier, "--as-of", as_of])
            seen[f"{tier}@{as_of}"] = json.loads(capsys.readouterr().out)
    capsys.readouterr()
    main(["--db", store, "report", "--as-of", "2025-12-31", "--format", "json"])
    seen["report"] = json.loads(capsys.readouterr().out)
    return seen


@pytest.fixture
def second_store(store: str, tmp_path: Path) -> Iterator[str]:
    """A second fresh store of the same kind as ``store``."""
    if not store.startswith("postgresql"):
        yield str(tmp_path / "second.db")
        return
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


    parts = urlsplit(store)
    base = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "schema"])))
    yield from pg_schema_url(base)


def _events_in(store: str) -> int:
    ledger = Ledger(db=store)
    try:
        return ledger.max_position()
    finally:
        ledger.close()


def test_an_interrupted_submit_run_again_ends_as_one_uninterrupted_run(store: str, second_store: str, generated,
                                                                        capsys) -> None:
    path, expected = generated
    code, out, _ = _run(store, path)
    assert code == 1
    whole = json.loads(out)
    assert refusal_codes(whole) == expected
    events = _events_in(store)
    state = _ledger_state(store, capsys)

    second = second_store
    # Stopped early, stopped half way, then stopped with two quick Ctrl-C (the second one at
    # once, inside a batch): each run again continues, and the last one finishes.
    for at, twice in ((1, False), (events // 2, False), (3 * events // 4, True)):
        code, out, err = _run(second, path, interrupt_at=at, twice=twice)
        assert code == 130, err
        assert out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err, err
        assert lines[0].startswith("interrupted after ") and "nothing is half-written" in lines[0] \
            and "run the same command again to continue" in lines[0], lines[0]
    code, out, _ = _run(second, path)
    again = json.loads(out)
    assert code == 1
    assert again["refusals"] == whole["refusals"]
    assert again["accepted"] + again["repeated"] == whole["accepted"]
    assert again["repeated"] > 0 and again["accepted"] > 0  # it did continue what the others began
    if not second.startswith("postgresql"):  # PostgreSQL's positions skip what a rollback took
        assert _events_in(second) == events
    assert _ledger_state(second, capsys) == state
