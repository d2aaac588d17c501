"""Streaming over a real NATS with JetStream: relay, live projections, command service.

The fault tests kill real processes (``kill -9``, and failpoints that die exactly between
a commit and an acknowledgement) and stop the real server, then check what a consumer
would see: every stored event on the stream exactly once, in ledger order, and a live
read model equal to a rebuild from zero.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest

from infra.nats import Names, connect_options, ensure_stream_and_bucket
from infra.projector import LiveProjector, PoolChange, kv_key, live_read_model
from infra.readmodel import ReadModel
from infra.relay import Relay
from infra.store import is_postgres
from projections.pools import Designation
from services.ledger import Ledger
from tests.support.streams import (
    assert_stream_equals_log,
    journey,
    kv_designations,
    load,
    read_stream,
    send_all,
    start_serve,
    wait_until,
)

N = Names()  # the default ledger's NATS names


async def stream_count(url: str) -> int:
    nc = await nats.connect(**connect_options(url))
    try:
        return (await nc.jetstream().stream_info(N.stream)).state.messages
    finally:
        await nc.close()


async def setup_stream(url: str) -> None:
    nc = await nats.connect(**connect_options(url))
    await ensure_stream_and_bucket(nc.jetstream())
    await nc.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


# ----------------------------------------------------------------------------- relay
def test_relay_publishes_every_event_once_in_order_and_resumes_after_restart(any_ledger: Ledger,
                                                                              nats_url: str) -> None:
    load(any_ledger, 0, 15)

    async def go() -> list[Any]:
        nc = await nats.connect(**connect_options(nats_url))
        await ensure_stream_and_bucket(nc.jetstream())
        await Relay(any_ledger, nc, batch_size=37).drain()
        await asyncio.to_thread(load, any_ledger, 15, 10)
        again = Relay(any_ledger, nc, batch_size=37)  # a restarted relay: knows only the stream
        await again.drain()
        assert again.published == 10 * 6  # six commands, each an event (the journal is no event)
        await nc.close()
        return await read_stream(nats_url)

    stream = asyncio.run(go())
    assert_stream_equals_log(any_ledger, stream)
    subjects = {s for _, s, _, _ in stream}
    assert f"{N.events_prefix}.210000.specialized.Approved" in subjects
    assert f"{N.events_prefix}.210000._.Registered" in subjects


@pytest.mark.parametrize("how", ["kill -9", "failpoint"])
def test_relay_killed_mid_batch_then_restarted_publishes_each_event_exactly_once(
        any_ledger: Ledger, nats_url: str, home: Path, how: str) -> None:
    ledger = any_ledger
    load(ledger, 0, 150)  # 1,800 events
    head = ledger.max_position()
    asyncio.run(setup_stream(nats_url))
    if how == "kill -9":
        proc = start_serve(ledger.store, home, nats_url, "--components", "relay", "--relay-batch", "10")
        wait_until(lambda: asyncio.run(stream_count(nats_url)) > 0, what="first events on the stream")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    else:
        proc = start_serve(ledger.store, home, nats_url, "--components", "relay", "--relay-batch", "25",
                           failpoint="relay.after_publish")
        assert proc.wait(timeout=60) == 137  # died right after its first batch was acknowledged
    partial = asyncio.run(stream_count(nats_url))
    assert 0 < partial < head, "the relay was not stopped mid-way"
    proc = start_serve(ledger.store, home, nats_url, "--components", "relay")
    wait_until(lambda: asyncio.run(stream_count(nats_url)) >= head, what="relay catching up")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert_stream_equals_log(ledger, asyncio.run(read_stream(nats_url)))


def test_relay_following_concurrent_writers_never_skips_a_position(any_ledger: Ledger, nats_url: str) -> None:
    """Writers commit while the relay reads: no position a running transaction may still
    fill is ever passed (SQLite's single writer, the PostgreSQL recorder's table lock)."""
    ledger = any_ledger

    async def go() -> None:
        nc = await nats.connect(**connect_options(nats_url))
        await ensure_stream_and_bucket(nc.jetstream())
        relay = Relay(ledger, nc, batch_size=7, poll_interval=0.001)
        task = asyncio.create_task(relay.run())
        writers = [asyncio.to_thread(load, ledger, 100 * w, 12) for w in range(4)]
        await asyncio.gather(*writers)
        head = await asyncio.to_thread(ledger.max_position)
        deadline = time.monotonic() + 60
        while relay.position < head:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        relay.stop()
        await task
        await nc.close()

    asyncio.run(go())
    assert_stream_equals_log(ledger, asyncio.run(read_stream(nats_url)))


def test_nats_down_for_seconds_commands_still_accepted_then_nothing_missing_and_order_holds(
        ledger: Ledger, embedded_nats: Any) -> None:
    url = embedded_nats.url
    load(ledger, 0, 5)

    async def go() -> None:
        nc = await nats.connect(**connect_options(url))
        await ensure_stream_and_bucket(nc.jetstream())
        relay = Relay(ledger, nc, batch_size=20, ack_timeout=2.0)
        task = asyncio.create_task(relay.run())
        head = await asyncio.to_thread(ledger.max_position)
        while relay.position < head:
            await asyncio.sleep(0.05)
        embedded_nats.stop()
        # Commands keep arriving while NATS is away: the ledger accepts them.
        accepted = threading.Event()

        def writes() -> None:
            load(ledger, 5, 30)
            accepted.set()

        writer = asyncio.create_task(asyncio.to_thread(writes))
        await asyncio.sleep(3)
        embedded_nats.start()
        await writer
        assert accepted.is_set()
        head = await asyncio.to_thread(ledger.max_position)
        deadline = time.monotonic() + 60
        while relay.position < head:
            assert time.monotonic() < deadline, "relay did not catch up after NATS came back"
            await asyncio.sleep(0.1)
        relay.stop()
        await task
        await nc.close()

    asyncio.run(go())
    assert_stream_equals_log(ledger, asyncio.run(read_stream(url)))


# ----------------------------------------------------------------------------- live projections
def _rows(rm: ReadModel) -> dict[str, list[Any]]:
    return {kind: rm.rows(kind) for kind in rm.tables}  # pools, rewards, budgets, reviews


async def publish_log(ledger: Ledger, url: str) -> None:
    """Relay the whole log into the stream (made first, with the bucket, if missing)."""
    nc = await nats.connect(**connect_options(url))
    await ensure_stream_and_bucket(nc.jetstream())
    await Relay(ledger, nc).drain()
    await nc.close()


async def project_until(ledger: Ledger, url: str, head: int, batch_size: int = 500,
                        batches: list[int] | None = None) -> None:
    """Run a live projector until it has applied and published every event up to ``head``;
    the size of each batch it handles is appended to ``batches``."""
    nc = await nats.connect(**connect_options(url))
    projector = LiveProjector(ledger, nc, batch_size=batch_size)
    if batches is not None:
        handle = projector.handle

        async def counted(msgs: list[Any]) -> None:
            batches.append(len(msgs))
            await handle(msgs)

        projector.handle = counted  # type: ignore[method-assign]
    task = asyncio.create_task(projector.run())
    await projector.wait_for(head, timeout=60)
    projector.stop()
    await task
    projector.close()
    await nc.close()


@pytest.mark.parametrize("how", ["failpoint", "kill -9"])
def test_projector_killed_before_its_ack_still_equals_a_rebuild(any_ledger: Ledger, nats_url: str, home: Path,
                                                                 how: str) -> None:
    ledger = any_ledger
    load(ledger, 0, 120)
    head = ledger.max_position()

    asyncio.run(publish_log(ledger, nats_url))
    live = live_read_model(ledger)
    if how == "failpoint":
        proc = start_serve(ledger.store, home, nats_url, "--components", "projector",
                           failpoint="projector.after_commit")
        assert proc.wait(timeout=60) == 137  # committed rows and checkpoint, acked nothing, published nothing
    else:
        proc = start_serve(ledger.store, home, nats_url, "--components", "projector")
        wait_until(lambda: live.position() > 0, what="first live rows")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert 0 < live.position() <= head

    asyncio.run(project_until(ledger, nats_url, head))
    rebuilt = ReadModel(ledger)
    rebuilt.rebuild()
    assert _rows(live) == _rows(rebuilt)
    assert live.statistics() == rebuilt.statistics()
    # Nothing committed before the crash went unpublished: the KV holds every designation.
    kv = asyncio.run(kv_designations(nats_url))
    assert sorted(kv.values(), key=lambda d: d.key) == rebuilt.rows("designation")


def test_a_new_pool_bucket_gets_every_row_again(ledger: Ledger, nats_url: str, home: Path) -> None:
    """A bucket made anew under a read model that has published everything (a home moved
    into the ledger's own account, a bucket an operator deleted): the projector's next start
    publishes every row, not only those changed after its published position."""
    load(ledger, 0, 40)
    head = ledger.max_position()

    async def drop_bucket() -> None:
        nc = await nats.connect(**connect_options(nats_url))
        await nc.jetstream().delete_key_value(N.pool_bucket)
        await nc.close()

    asyncio.run(publish_log(ledger, nats_url))
    asyncio.run(project_until(ledger, nats_url, head))
    rows = sorted(live_read_model(ledger).rows("designation"), key=lambda d: d.key)
    assert rows and sorted(asyncio.run(kv_designations(nats_url)).values(), key=lambda d: d.key) == rows
    asyncio.run(drop_bucket())
    asyncio.run(publish_log(ledger, nats_url))  # makes the bucket anew; the stream has every event already
    # nothing new in the stream: only the recovery path can fill the bucket
    asyncio.run(project_until(ledger, nats_url, head))
    assert sorted(asyncio.run(kv_designations(nats_url)).values(), key=lambda d: d.key) == rows


def test_who_sees_a_pool_change_finds_its_row_in_the_bucket(ledger: Ledger, nats_url: str) -> None:
    """A pool change goes out only after the row's KV put is acknowledged, so a consumer
    that reads the bucket on a change (a bank's whitelist feed refreshing its copy) finds
    the row at least as new as the change.  Held here by what NATS guarantees: messages of
    one publisher reach one subscription in the order they were published, so on a
    subscription to both the bucket's put subjects and the pool subjects each change must
    come after a put of its row.  Before, the changes went out first and the puts after
    them (the CI failure of ``test_contract``: ``kv.keys()`` found an empty bucket after the
    pool messages had arrived)."""
    load(ledger, 0, 30)
    head = ledger.max_position()
    asyncio.run(publish_log(ledger, nats_url))
    kv_prefix = f"$KV.{N.pool_bucket}."
    order: list[tuple[str, str, int]] = []  # (what, KV key, changed_at), in arrival order

    async def follow_and_project() -> None:
        nc = await nats.connect(**connect_options(nats_url))

        async def on_message(msg: Any) -> None:  # one subscription: one queue, arrival order kept
            if msg.subject.startswith(kv_prefix):
                row = msgspec.json.decode(msg.data, type=Designation)
                order.append(("put", msg.subject.removeprefix(kv_prefix), row.changed_at))
            elif msg.subject.startswith(f"{N.pool_prefix}."):
                change = msgspec.json.decode(msg.data, type=PoolChange)
                order.append(("change", kv_key(change.designation), change.position))

        await nc.subscribe(">", cb=on_message)
        await nc.flush()
        await project_until(ledger, nats_url, head)
        rows = len(live_read_model(ledger).rows("designation"))
        for _ in range(300):
            if sum(what == "change" for what, _, _ in order) >= rows:
                break
            await asyncio.sleep(0.05)
        await nc.close()

    asyncio.run(follow_and_project())
    stored: dict[str, int] = {}
    behind = []
    for what, key, at in order:
        if what == "put":
            stored[key] = max(at, stored.get(key, 0))
        elif stored.get(key, -1) < at:
            behind.append((key, at, stored.get(key)))
    changes = sum(what == "change" for what, _, _ in order)
    assert changes >= 30
    assert not behind, f"{len(behind)} of {changes} changes went out before their row was in the bucket: {behind[:3]}"


# ----------------------------------------------------------------------------- the service
async def request(url: str, subject: str, body: dict[str, Any]) -> dict[str, Any]:
    nc = await nats.connect(**connect_options(url))
    msg = await nc.request(subject, json.dumps(body).encode(), timeout=30)
    await nc.close()
    return json.loads(msg.data)


def test_ten_thousand_commands_over_nats_stream_exactly_once_and_kv_equals_pool_after_rebuild(
        ledger: Ledger, nats_url: str, home: Path) -> None:
    enterprises = 10_000 // 6 + 1
    per_step = [[{**journey(i)[j], "command_id": f"nats-{i}-{j}"} for i in range(enterprises)] for j in range(6)]
    proc = start_serve(ledger.store, home, nats_url)
    try:
        sent = 0
        for step in per_step:  # each step for all enterprises, in parallel within the step
            replies = asyncio.run(send_all(nats_url, step))
            assert all(r["body"]["ok"] for r in replies), [r for r in replies if not r["body"]["ok"]][:3]
            sent += len(step)
        assert sent >= 10_000
        # A refusal over NATS: structured, and nothing written.
        before = ledger.max_position()
        bad = asyncio.run(send_all(nats_url, [
            {**journey(0)[5], "command_id": "again-approve"},  # already approved
            {**journey(0)[1], "command_id": "bad-tier", "application_id": "x", "tier": "no_such"},
            {**journey(0)[1], "command_id": "bad-date", "occurred_on": "2019-02-30"},
            {**journey(1)[0], "command_id": "nats-1-0"},  # a repeated command id: the first outcome
        ]))
        assert bad[0]["body"]["error"]["rule"] == "order" and bad[0]["headers"]["Nats-Service-Error-Code"] == "422"
        assert bad[1]["body"]["error"] == {"code": "input.invalid", "rule": "input", "field": "tier",
                                           "message": bad[1]["body"]["error"]["message"], "retry": "never"}
        assert bad[1]["headers"]["Nats-Service-Error-Code"] == "400"
        assert bad[2]["body"]["error"]["field"] == "$.occurred_on"
        assert bad[3]["body"]["ok"] and bad[3]["body"]["repeated"]
        # A city's service cannot act as the province by naming it in the body.
        impostor = asyncio.run(request(nats_url, "cultivation.cmd.211400.approve",
                                       {**journey(5)[5], "command_id": "impostor"}))
        assert impostor["error"]["code"] == "authority.subject_mismatch"
        assert ledger.max_position() == before
        head = ledger.max_position()
        live = live_read_model(ledger)
        wait_until(lambda: live.position() >= head, timeout=120, what="live projection")
        wait_until(lambda: live.published_position() >= head, timeout=60, what="KV publication")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
    assert "stopped cleanly" in proc.stdout.read()  # type: ignore[union-attr]
    assert_stream_equals_log(ledger, asyncio.run(read_stream(nats_url)))
    # The KV pool equals `cultivation pool` after `cultivation rebuild`.
    rebuilt = ReadModel(ledger)
    rebuilt.rebuild()
    kv = asyncio.run(kv_designations(nats_url))
    as_of = "2021-06-30"
    kv_pool = sorted((d for d in kv.values() if d.tier == "specialized" and d.valid_on(as_of)), key=lambda d: d.key)
    pool = sorted(rebuilt.pool(tier="specialized", as_of=as_of), key=lambda d: d.key)
    assert len(pool) == enterprises
    assert kv_pool == pool
    assert _rows(live) == _rows(rebuilt)


def test_the_live_read_model_commits_without_waiting_for_the_disk(any_ledger: Ledger) -> None:
    """Its last commits may be taken back by a power cut (the stream redelivers them from
    the checkpoint): on its own connection only, the ledger's commits stay durable."""
    live = live_read_model(any_ledger)
    try:
        with live._tx(write=False) as cur:
            if live.pg:
                cur.execute("SHOW synchronous_commit")
                assert cur.fetchone()[0] == "off"
            else:
                assert cur.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    finally:
        live.close()
    if is_postgres(any_ledger.store):
        with any_ledger.recorder.datastore.get_connection() as conn, conn.cursor() as cur:
            cur.execute("SHOW synchronous_commit")
            assert list(cur.fetchone().values())[0] == "on"


def test_a_burst_on_the_stream_is_projected_in_full_batches(ledger: Ledger, nats_url: str) -> None:
    """What waits on the stream is taken in batches of ``batch_size``: the first message of a
    batch says how many wait after it (its delivery's ``num_pending``), so the projector asks
    for those at once, without a round trip to the consumer's state."""
    load(ledger, 0, 30)
    head = ledger.max_position()
    asyncio.run(publish_log(ledger, nats_url))
    total = asyncio.run(stream_count(nats_url))
    sizes: list[int] = []
    asyncio.run(project_until(ledger, nats_url, head, batch_size=50, batches=sizes))
    assert sum(sizes) == total > 100
    assert sizes == [50] * (total // 50) + ([total % 50] if total % 50 else [])


def test_a_ready_serve_has_frozen_its_heap_and_still_collects_what_comes_after(ledger: Ledger,
                                                                                nats_url: str) -> None:
    """The cyclic collector's full passes traced everything a ready serve holds, every few
    seconds under load: 17-55 ms pauses in the command -> KV path.  Once ready, that heap is
    out of their reach (``gc.freeze``); a cycle made afterwards is still collected."""
    import gc
    import weakref

    from entrypoints.serve import Server

    class Node:
        pass

    async def go() -> tuple[int, bool, bool]:
        gc.unfreeze()
        server = Server(ledger, nats_url=nats_url, components=("service",))
        try:
            await server.start()
            frozen = gc.get_freeze_count()
            held = server.service  # made before ready: frozen, not traced
            traced = any(o is held for o in gc.get_objects())
            a, b = Node(), Node()
            a.other, b.other = b, a  # type: ignore[attr-defined]
            gone = weakref.ref(a)
            del a, b
            gc.collect()
            return frozen, traced, gone() is None
        finally:
            await server.shutdown()
            gc.unfreeze()

    frozen, traced, collected = asyncio.run(go())
    assert frozen > 10_000 and not traced and collected


def test_a_serving_process_refreezes_what_it_comes_to_hold_and_stops_with_the_server(ledger: Ledger,
                                                                                     nats_url: str) -> None:
    """At national size a serving ledger's cache of enterprises churns, and the collector's
    full passes traced every enterprise kept: 24-391 ms pauses every few thousand commands
    (benchmarks/cache.py --churn).  Every second a ready serve moves what it has come to hold
    out of their reach (``infra.heap.refreeze``): an enterprise its cache keeps after a
    command soon is traced by no pass, and the refreezing ends with the server."""
    import gc

    from domain.enterprise import enterprise_id
    from entrypoints.serve import Server

    register = journey(0)[0]

    async def go() -> tuple[bool, bool]:
        gc.unfreeze()
        server = Server(ledger, nats_url=nats_url, components=("service",))
        try:
            await server.start()
            replies = await send_all(nats_url, [{**register, "command_id": "refreeze-0"}])
            assert replies[0]["body"]["ok"], replies
            kept = ledger._cache[enterprise_id(register["uscc"])]  # the aggregate the cache keeps (private)
            deadline = time.monotonic() + 30
            while any(o is kept for o in gc.get_objects()) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            traced_later = any(o is kept for o in gc.get_objects())
        finally:
            await server.shutdown()
            gc.unfreeze()
        assert server._refreezing is not None
        return traced_later, server._refreezing.done()

    traced, stopped = asyncio.run(go())  # (without the refreezing it stays traced: nothing else freezes it)
    assert not traced and stopped


def _stat(pid: int | str) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (state, parent, ...);
    empty once the process is gone (Linux)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    return [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit() and _stat(d.name)[1:2] == [str(pid)]]


def test_serve_runs_the_projector_as_a_child_process_and_restarts_it_when_it_dies(
        ledger: Ledger, nats_url: str, home: Path) -> None:
    """``serve`` runs the projector as a child process (a core of its own); killed, the
    child is started again and resumes from its checkpoint; SIGTERM stops both, after the
    read model has caught up."""
    proc = start_serve(ledger.store, home, nats_url)
    live = live_read_model(ledger)
    try:
        child = int(re.search(r"projector \(process (\d+)\)", proc.ready_line).group(1))  # type: ignore[attr-defined]
        replies = asyncio.run(send_all(nats_url, [{**o, "command_id": f"c-0-{j}"} for j, o in enumerate(journey(0))]))
        assert all(r["body"]["ok"] for r in replies)
        wait_until(lambda: live.published_position() >= ledger.max_position(), what="the child's projection")
        os.kill(child, signal.SIGKILL)
        replies = asyncio.run(send_all(nats_url, [{**o, "command_id": f"c-1-{j}"} for j, o in enumerate(journey(1))]))
        assert all(r["body"]["ok"] for r in replies)
        head = ledger.max_position()
        wait_until(lambda: live.position() >= head and live.published_position() >= head, timeout=90,
                   what="the restarted child's projection")
        assert any(d.uscc == journey(1)[0]["uscc"] for d in asyncio.run(kv_designations(nats_url)).values())
        restarted = _children(proc.pid)
        assert restarted and child not in restarted
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        live.close()
    assert "stopped cleanly" in proc.stdout.read()  # type: ignore[union-attr]
    assert not [p for p in restarted if Path(f"/proc/{p}").exists()]  # the child stopped with it
    rebuilt = ReadModel(ledger)
    rebuilt.rebuild()
    assert _rows(live_read_model(ledger)) == _rows(rebuilt)


def test_the_projector_process_does_not_outlive_a_killed_serve(ledger: Ledger, nats_url: str, home: Path) -> None:
    proc = start_serve(ledger.store, home, nats_url)
    child = int(re.search(r"projector \(process (\d+)\)", proc.ready_line).group(1))  # type: ignore[attr-defined]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    wait_until(lambda: _stat(child)[:1] in ([], ["Z"], ["X"]), timeout=30,
               what="the projector process to stop with its parent")


def test_watch_pool_prints_changes_live(ledger: Ledger, nats_url: str, home: Path) -> None:
    proc = start_serve(ledger.store, home, nats_url)
    env = {**os.environ, "NATS_URL": nats_url, "CULTIVATION_HOME": str(home)}
    watcher = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "watch", "pool", "--region", "211400",
                                "--tier", "specialized", "--count", "1", "--timeout", "60", "--json"],
                               env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert watcher.stderr is not None
        assert watcher.stderr.readline().startswith("watching cultivation.pool.specialized.")  # subscribed
        replies = asyncio.run(send_all(nats_url, [{**obj, "command_id": f"w-{j}"}
                                                  for j, obj in enumerate(journey(7))], concurrency=1))
        assert all(r["body"]["ok"] for r in replies)
        out, err = watcher.communicate(timeout=90)
        assert watcher.returncode == 0, err
        change = json.loads(out.splitlines()[0])
        assert change["designation"]["uscc"] == journey(7)[0]["uscc"]
        assert change["designation"]["tier"] == "specialized"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


def test_credentials_from_the_environment_reach_a_protected_server(tmp_path: Path, monkeypatch: Any) -> None:
    """With NATS_URL set, NATS_USER / NATS_PASSWORD (or NATS_TOKEN, NATS_CREDS, TLS files)
    are passed through to the connection; without them the server refuses."""
    from infra.nats import EmbeddedNats

    conf = tmp_path / "auth.conf"
    conf.write_text('authorization { user: "ledger", password: "s3cret-pw" }\n', encoding="utf-8")
    with EmbeddedNats(store_dir=tmp_path / "nats", config_file=conf) as server:
        async def attempt() -> int:
            nc = await nats.connect(**{**connect_options(server.url), "max_reconnect_attempts": 0,
                                       "allow_reconnect": False})
            await ensure_stream_and_bucket(nc.jetstream())
            streams = len(await nc.jetstream().streams_info())
            await nc.close()
            return streams

        monkeypatch.delenv("NATS_USER", raising=False)
        with pytest.raises(Exception):
            asyncio.run(attempt())
        monkeypatch.setenv("NATS_USER", "ledger")
        monkeypatch.setenv("NATS_PASSWORD", "s3cret-pw")
        assert asyncio.run(attempt()) >= 1
