"""``cultivation serve`` in broken or hostile surroundings (findings 7 and 8 of issue 11),
each against real processes: a real ``serve`` subprocess, its embedded nats-server, a
real store.

- an unreachable ``NATS_URL``: one clear line per attempt, a bounded patience
  (``CULTIVATION_NATS_PATIENCE``), exit 1 when it runs out, no traceback;
- SIGTERM and SIGINT while it is still trying to connect: it stops at once;
- a second ``serve`` on the same home: refused by the lock, the first one untouched;
- the store URL (a password in it) never on the projector child's command line;
- secret files readable by group or others: refused, naming the file and the fix.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest

from infra.nats import Names, free_port
from infra.permissions import PrincipalsError, client_options, load_principals, secret
from tests.support import ROOT

N = Names()  # the default ledger's NATS names


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "CULTIVATION_"))}
    env.update({"CULTIVATION_HOME": str(tmp_path / "home"), "CULTIVATION_DB": str(tmp_path / "ledger.db"), **more})
    return env


def _serve(env: dict[str, str], *args: str, out: Path, err: Path) -> subprocess.Popen[str]:
    with open(out, "w") as o, open(err, "w") as e:
        return subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve", *args], cwd=ROOT, env=env,
                                text=True, stdout=o, stderr=e)


def _wait_for(path: Path, text: str, proc: subprocess.Popen[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        content = path.read_text()
        if text in content:
            return content
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared (exit {proc.poll()}): {content}")
        time.sleep(0.05)


def _nothing_listens() -> str:
    return f"nats://127.0.0.1:{free_port()}"  # a loopback port nobody listens on


def test_an_unreachable_nats_url_gives_up_after_its_patience_one_line_per_attempt(tmp_path: Path) -> None:
    env = _env(tmp_path, NATS_URL=_nothing_listens(), CULTIVATION_NATS_PATIENCE="3")
    run = subprocess.run([sys.executable, "-m", "entrypoints.cli", "serve"], cwd=ROOT, env=env, text=True,
                         capture_output=True, timeout=60)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    attempts = [line for line in run.stderr.splitlines() if "not reachable (attempt" in line]
    assert 2 <= len(attempts) <= 10, run.stderr  # one line per attempt, backing off, bounded
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cultivation serve: NATS at nats://127.0.0.1:") and "CULTIVATION_NATS_PATIENCE" \
        in last, last
    assert "ready" not in run.stdout
    assert not (tmp_path / "home" / "nats.url").exists()


def test_a_bad_patience_is_refused_naming_the_variable(tmp_path: Path) -> None:
    env = _env(tmp_path, NATS_URL=_nothing_listens(), CULTIVATION_NATS_PATIENCE="soon")
    run = subprocess.run([sys.executable, "-m", "entrypoints.cli", "serve"], cwd=ROOT, env=env, text=True,
                         capture_output=True, timeout=60)
    assert run.returncode == 1 and "CULTIVATION_NATS_PATIENCE='soon'" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_serve_while_it_waits_for_nats(tmp_path: Path, sig: signal.Signals) -> None:
    env = _env(tmp_path, NATS_URL=_nothing_listens(), CULTIVATION_NATS_PATIENCE="3600")
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    proc = _serve(env, out=out, err=err)
    try:
        _wait_for(err, "not reachable (attempt 2", proc)
        proc.send_signal(sig)
        proc.wait(timeout=15)  # at once, not after an hour of patience
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.read_text()
    assert "stopped before it was ready" in out.read_text()
    assert "Traceback" not in err.read_text()


def test_a_second_serve_on_the_same_home_is_refused_and_the_first_keeps_running(tmp_path: Path) -> None:
    env = _env(tmp_path)
    first = _serve(env, "--projector-in-process", out=tmp_path / "a.out", err=tmp_path / "a.err")
    try:
        _wait_for(tmp_path / "a.out", "ready", first)
        url_file = tmp_path / "home" / "nats.url"
        url = url_file.read_text().strip()
        second = subprocess.run([sys.executable, "-m", "entrypoints.cli", "serve", "--projector-in-process"], cwd=ROOT,
                                env=env, text=True, capture_output=True, timeout=60)
        assert second.returncode == 1, second.stderr
        assert "another `cultivation serve` (pid" in second.stderr and str(first.pid) in second.stderr, second.stderr
        assert "Traceback" not in second.stderr
        assert url_file.read_text().strip() == url, "the second serve took over nats.url"

        async def ping() -> bytes:
            nc = await nats.connect(url, allow_reconnect=False)
            try:
                return (await nc.request("$SRV.PING.cultivation", b"", timeout=5)).data
            finally:
                await nc.close()

        assert b"cultivation" in asyncio.run(ping())  # the first is still up and answering
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
    assert first.returncode == 0, (tmp_path / "a.err").read_text()
    # once the first has stopped, the home is free again
    again = _serve(env, "--projector-in-process", out=tmp_path / "c.out", err=tmp_path / "c.err")
    try:
        _wait_for(tmp_path / "c.out", "ready", again)
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=60)
    assert again.returncode == 0


def _with_password(store: str) -> str:
    if store.startswith("postgresql://"):
        if "postgres@" not in store:
            pytest.skip("this PostgreSQL URL already carries credentials")
        return store.replace("postgres@", "postgres:never-on-a-command-line-7f3a@", 1)  # trust auth ignores it
    return store


def test_the_store_url_never_reaches_the_projector_childs_command_line(tmp_path: Path, store: str) -> None:
    db = _with_password(store)
    env = _env(tmp_path, CULTIVATION_DB=db)
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    proc = _serve(env, out=out, err=err)
    try:
        ready = _wait_for(out, "ready", proc)
        child = int(ready.split("projector (process ")[1].split(")")[0])
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        assert "--components projector" in cmdline
        assert db not in cmdline and "--db" not in cmdline, cmdline
        listing = subprocess.run(["ps", "-ef"], capture_output=True, text=True).stdout
        assert db not in listing and "never-on-a-command-line" not in listing
        environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        assert f"CULTIVATION_DB={db}".encode() in environ  # it travels by environment, private to the user
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0, err.read_text()
    assert "never-on-a-command-line" not in out.read_text() + err.read_text()


def _principals_file(tmp_path: Path, mode: int) -> Path:
    (tmp_path / "hld.pw").write_text("s3cret-value\n", encoding="utf-8")
    (tmp_path / "hld.pw").chmod(mode)
    path = tmp_path / "p.toml"
    path.write_text('[[principals]]\nname = "hld"\nkind = "authority"\nauthority = "211400"\n'
                    'password_file = "hld.pw"\n\n'
                    '[[principals]]\nname = "ledger"\nkind = "service"\npassword_env = "LEDGER_PW"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_secret_files_readable_by_others_are_refused_naming_the_file_and_the_fix(tmp_path: Path, mode: int) -> None:
    path = _principals_file(tmp_path, mode)
    ps = load_principals(path)
    with pytest.raises(PrincipalsError) as e:
        secret(ps, ps.named("hld"))
    assert e.value.field == "$.principals[0].password_file"
    assert f"chmod 600 {tmp_path / 'hld.pw'}" in e.value.message and f"{mode:04o}" in e.value.message
    assert "s3cret-value" not in str(e.value)
    run = subprocess.run([sys.executable, "-m", "entrypoints.cli", "serve", "--principals", str(path)], cwd=ROOT,
                         env=_env(tmp_path, LEDGER_PW="x"), text=True, capture_output=True, timeout=60)
    assert run.returncode == 2 and "$.principals[0].password_file" in run.stderr and "chmod 600" in run.stderr
    assert "Traceback" not in run.stderr and "s3cret-value" not in run.stderr
    assert not (tmp_path / "home" / "nats").exists()  # refused before anything started
    (tmp_path / "hld.pw").chmod(0o600)
    assert secret(ps, ps.named("hld")) == "s3cret-value"


def test_a_seed_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bank.nk").write_text("SUAEXAMPLESEED\n", encoding="utf-8")
    (tmp_path / "bank.nk").chmod(0o644)
    path = tmp_path / "p.toml"
    path.write_text('[[principals]]\nname = "bank"\nkind = "reader"\n'
                    'nkey = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"\nseed_file = "bank.nk"\n\n'
                    '[[principals]]\nname = "ledger"\nkind = "service"\npassword_env = "LEDGER_PW"\n', encoding="utf-8")
    ps = load_principals(path)
    with pytest.raises(PrincipalsError) as e:
        client_options(ps, ps.named("bank"))
    assert e.value.field == "$.principals[0].seed_file" and "chmod 600" in e.value.message


def test_a_second_signal_while_draining_stops_at_once_and_nothing_is_lost(tmp_path: Path) -> None:
    """NATS goes away under a running serve while events are still to publish: the first
    SIGTERM drains (and would wait out its timeout), a second stops it at once; the stored
    events are published at the next start."""
    from domain.values import make_uscc
    from infra.nats import EmbeddedNats
    from services import commands as c
    from services.ledger import Ledger

    with EmbeddedNats(store_dir=tmp_path / "nats") as server:
        port = server.port
        env = _env(tmp_path, NATS_URL=server.url)
        out, err = tmp_path / "serve.out", tmp_path / "serve.err"
        proc = _serve(env, "--projector-in-process", out=out, err=err)
        try:
            _wait_for(out, "ready", proc)
            server.stop()  # the bus goes away
            ledger = Ledger(db=str(tmp_path / "ledger.db"))
            try:  # the store keeps taking commands (here through the CLI's way, in-process)
                ledger.handle(c.convert_command({
                    "command": "register", "command_id": "sig-1", "uscc": make_uscc("91211400MA0HLD901"),
                    "name": "葫芦岛示例泵业有限公司", "occurred_on": "2023-01-05",
                    "actor": {"authority": "211400", "person": "葫芦岛市工信局"}}))
                head = ledger.max_position()
            finally:
                ledger.close()
            proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            assert proc.poll() is None  # draining: the relay cannot publish
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err.read_text()
        assert "stopped at a second signal" in out.read_text()
        assert "Traceback" not in err.read_text() and " ERROR " not in err.read_text(), err.read_text()
        # the bus returns; the next serve publishes what was stored
        again = EmbeddedNats(store_dir=tmp_path / "nats", port=port).start()
        try:
            proc = _serve(env, "--projector-in-process", out=out, err=err)
            try:
                _wait_for(out, "ready", proc)

                async def published() -> int:
                    nc = await nats.connect(again.url, allow_reconnect=False)
                    try:
                        for _ in range(100):
                            n = (await nc.jetstream().stream_info(N.stream)).state.messages
                            if n >= head:
                                return n
                            await asyncio.sleep(0.1)
                        return n
                    finally:
                        await nc.close()

                assert asyncio.run(published()) == head
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
            assert proc.returncode == 0, err.read_text()
        finally:
            again.close()
