"""Several ledgers on one NATS (issue 15, item 3): ``CULTIVATION_LEDGER`` names the stream, the
buckets, the consumers, the queue group and every subject, so a province's test and production
ledgers (or two provinces) share a server without seeing each other's messages; the permissions
are derived with the same names; a bad name is refused in one line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import nats
import pytest

from infra.nats import Names, connect_options
from infra.permissions import decode_principals, render_config
from infra.policy_files import load_policy_book
from services.ledger import Ledger
from tests.support.streams import assert_stream_equals_log, journey, kv_designations, read_stream, start_serve

ALPHA, BETA = Names("alpha"), Names("beta_test")


async def _send(url: str, names: Names, cmd: dict[str, object]) -> dict[str, object]:
    nc = await nats.connect(**connect_options(url))
    try:
        msg = await nc.request(names.command_subject(cmd["actor"]["authority"], cmd["command"]),  # type: ignore[index]
                               json.dumps(cmd).encode(), timeout=30)
        return json.loads(msg.data)  # type: ignore[no-any-return]
    finally:
        await nc.close()


async def _stream_names(url: str) -> set[str]:
    nc = await nats.connect(**connect_options(url))
    try:
        return {s.config.name for s in await nc.jetstream().streams_info()}
    finally:
        await nc.close()


async def _wait_kv(url: str, names: Names, count: int) -> dict[str, object]:
    for _ in range(200):
        try:
            kv = await kv_designations(url, names)
        except Exception:  # the bucket is being made
            kv = {}
        if len(kv) >= count:
            return kv  # type: ignore[return-value]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{names.pool_bucket} never held {count} designations")


def test_two_ledgers_share_one_nats_and_see_nothing_of_each_other(tmp_path: Path, nats_url: str) -> None:
    stores = {n.ledger: str(tmp_path / f"{n.ledger}.db") for n in (ALPHA, BETA)}
    procs = {n.ledger: start_serve(stores[n.ledger], tmp_path / n.ledger, nats_url,
                                   extra_env={"CULTIVATION_LEDGER": n.ledger}) for n in (ALPHA, BETA)}
    try:
        assert "ledger alpha" in procs["alpha"].ready_line and "alpha.cmd.<authority>" in procs["alpha"].ready_line  # type: ignore[attr-defined]

        async def go() -> None:
            seen: dict[str, list[str]] = {"alpha": [], "beta_test": []}
            nc = await nats.connect(**connect_options(nats_url))
            for n in (ALPHA, BETA):
                async def note(msg: object, k: str = n.ledger) -> None:
                    seen[k].append(msg.subject)  # type: ignore[attr-defined]

                await nc.subscribe(f"{n.pool_prefix}.>", cb=note)
            # enterprise 1 to a designation on alpha, enterprise 2 on beta
            for n, i in ((ALPHA, 1), (BETA, 2)):
                for j, cmd in enumerate(journey(i)):
                    reply = await _send(nats_url, n, {**cmd, "command_id": f"{n.ledger}-{i}-{j}"})
                    assert reply["ok"], reply
            # the same command id on the other ledger is a new command there, not a repeat
            again = await _send(nats_url, BETA, {**journey(3)[0], "command_id": "alpha-1-0"})
            assert again["ok"] and not again["repeated"]
            ka, kb = await _wait_kv(nats_url, ALPHA, 1), await _wait_kv(nats_url, BETA, 1)
            assert {d.uscc for d in ka.values()} == {journey(1)[0]["uscc"]}  # type: ignore[attr-defined]
            assert {d.uscc for d in kb.values()} == {journey(2)[0]["uscc"]}  # type: ignore[attr-defined]
            for _ in range(50):
                if seen["alpha"] and seen["beta_test"]:
                    break
                await asyncio.sleep(0.1)
            assert seen["alpha"] and all(s.startswith("alpha.pool.") for s in seen["alpha"])
            assert seen["beta_test"] and all(s.startswith("beta_test.pool.") for s in seen["beta_test"])
            # no default ledger answers: its subjects have no responders
            with pytest.raises(nats.errors.NoRespondersError):
                await nc.request(Names().command_subject("211400", "register"), b"{}", timeout=2)
            await nc.close()

        asyncio.run(go())
        streams = asyncio.run(_stream_names(nats_url))
        assert {ALPHA.stream, BETA.stream, ALPHA.kv_stream, BETA.kv_stream,
                f"KV_{ALPHA.relay_bucket}", f"KV_{BETA.relay_bucket}"} <= streams
        assert Names().stream not in streams
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
        for p in procs.values():
            assert p.wait(timeout=60) == 0
    for n in (ALPHA, BETA):
        ledger = Ledger(db=stores[n.ledger])
        stream = asyncio.run(read_stream(nats_url, n))
        assert {s.split(".")[0] for _, s, _, _ in stream} == {n.ledger}
        assert_stream_equals_log(ledger, stream)


def test_permissions_are_derived_with_the_ledger_name() -> None:
    ps = decode_principals('[[principals]]\nname = "ledger"\nkind = "service"\npassword_env = "L"\n'
                           '[[principals]]\nname = "hld"\nkind = "authority"\nauthority = "211400"\n'
                           'password_env = "H"\n'
                           '[[principals]]\nname = "audit"\nkind = "auditor"\npassword_env = "A"\n')
    book = load_policy_book()
    conf = render_config(ps, book, names=BETA)
    default = render_config(ps, book)
    assert '"beta_test.cmd.211400.recommend"' in conf and "BETA_TEST_EVENTS" in conf and "beta_test_pools" in conf
    assert '"LEDGER-BETA_TEST": {' in conf and '"P-beta_test-hld": {' in conf
    assert "cultivation." not in conf and "CULTIVATION_EVENTS" not in conf
    assert '"cultivation.cmd.211400.recommend"' in default and "LEDGER: {" in default  # the default's names stay


@pytest.mark.parametrize("name", ["Alpha", "a.b", "a-b", "1abc", "x" * 33, "a b"])
def test_a_bad_ledger_name_is_refused_in_one_line(tmp_path: Path, name: str) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "CULTIVATION_"))},
           "CULTIVATION_HOME": str(tmp_path), "CULTIVATION_LEDGER": name}
    run = subprocess.run([sys.executable, "-m", "entrypoints.cli", "serve"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr.strip().startswith(f"error: CULTIVATION_LEDGER={name!r}: a lower-case letter"), run.stderr
    assert "Traceback" not in run.stderr
