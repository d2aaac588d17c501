"""The ledger on a real cluster, proven by failing nodes (issue 15, item 5).

Three nodes of the bundled nats-server routed on loopback (distinct ports and store folders),
the ledger on PostgreSQL, run as a province would run it: two command services, an active and a
standby relay, the projector, each a ``cultivation serve --components …`` process of its own.
A load of a few thousand commands is offered at a steady rate; during it the node leading the
stream is killed with kill -9 (and restarted), then the active relay (and a new relay started),
then a command service (and a new one started); the load's client sends a command again, same
command id, when its request times out or finds no responder.

Afterwards: every acknowledged command is stored; the stream equals the log (each event id
once, in ledger order); the pool bucket equals a rebuild; and the longest stalls are measured
and printed (a command's wait for its reply, an event's wait to reach the stream and to be
projected), with when each kill happened.  The figures go in the README's "Deployment".
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nats
import pytest

from infra.lease import lease_holder
from infra.nats import POSITION_HEADER, Names, replication
from infra.projector import live_read_model
from infra.readmodel import ReadModel
from services.ledger import Ledger
from tests.support.cluster import Cluster, ready, retrying
from tests.support.streams import assert_stream_equals_log, journey, kv_designations, read_stream, start_serve

N = Names()
ENTERPRISES = 500  # 3,000 commands
RATE = 100.0  # commands offered per second: the load lasts about 30 s
LEASE = "3"  # seconds: the relay lease's time to live


class Load:
    """Sends every command, retrying each (same command id) until it is acknowledged; one
    enterprise's commands in order, the enterprises side by side, at most ``RATE`` a second."""

    def __init__(self, url: str, commands: list[list[dict[str, Any]]]):
        self.url = url
        self.commands = commands  # per enterprise, in order
        self.acked: dict[str, float] = {}  # command id -> seconds it waited for its reply (retries included)
        self.retries = 0
        self.started = 0.0

    async def run(self) -> None:
        nc = await nats.connect(servers=self.url.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        self.started = time.monotonic()
        queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
        for one in self.commands:
            queue.put_nowait(one)
        tokens = asyncio.Semaphore(0)

        async def pace() -> None:
            total = sum(len(x) for x in self.commands)
            for i in range(total):
                await asyncio.sleep(max(0.0, self.started + i / RATE - time.monotonic()))
                tokens.release()

        async def worker() -> None:
            while not queue.empty():
                for cmd in queue.get_nowait():
                    await tokens.acquire()
                    await self.send(nc, cmd)

        pacer = asyncio.create_task(pace())
        await asyncio.gather(*(worker() for _ in range(40)))
        pacer.cancel()
        await nc.close()

    async def send(self, nc: Any, cmd: dict[str, Any]) -> None:
        subject = N.command_subject(cmd["actor"]["authority"], cmd["command"])
        t0 = time.monotonic()
        while True:
            try:
                msg = await nc.request(subject, json.dumps(cmd).encode(), timeout=5)
                body = json.loads(msg.data)
                assert body["ok"], body
                self.acked[cmd["command_id"]] = time.monotonic() - t0
                return
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.errors.ConnectionClosedError):
                self.retries += 1
                assert time.monotonic() - t0 < 120, f"{cmd['command_id']} never acknowledged"
                await asyncio.sleep(0.2)


class Lag:
    """Samples, every 0.2 s, the store's head, the position of the stream's last message and the
    live read model's position: for each head seen, how long until the stream and the projection
    reached it.  The longest of those waits are the stalls an event saw."""

    def __init__(self, ledger: Ledger, url: str):
        self.ledger = ledger
        self.url = url
        self.live = live_read_model(ledger)
        self.waiting: list[tuple[float, int]] = []  # (seen at, head) not yet on the stream
        self.unprojected: list[tuple[float, int]] = []
        self.stream_waits: list[tuple[float, float]] = []  # (seen at, how long until on the stream)
        self.projection_waits: list[tuple[float, float]] = []  # (seen at, how long until projected)
        self.stopping = False

    async def run(self) -> None:
        nc = await nats.connect(servers=self.url.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        js = nc.jetstream(timeout=1)
        while not self.stopping:
            now = time.monotonic()
            head = await asyncio.to_thread(self.ledger.max_position)
            self.waiting.append((now, head))
            self.unprojected.append((now, head))
            try:
                last = (await js.stream_info(N.stream)).state.last_seq
                msg = await js.get_msg(N.stream, seq=last) if last else None
                on_stream = int((msg.headers or {}).get(POSITION_HEADER, 0)) if msg else 0
            except Exception:  # the leader is being elected: no sample of the stream this time
                on_stream = -1
            projected = await asyncio.to_thread(lambda: min(self.live.position(), self.live.published_position()))
            self.stream_waits += self._settle(self.waiting, on_stream, now)
            self.projection_waits += self._settle(self.unprojected, projected, now)
            await asyncio.sleep(0.2)
        await nc.close()

    @staticmethod
    def _settle(pending: list[tuple[float, int]], reached: int, now: float) -> list[tuple[float, float]]:
        """Drop the heads ``reached`` covers; when each was seen and how long it waited."""
        done = []
        while pending and reached >= pending[0][1]:
            seen = pending.pop(0)[0]
            done.append((seen, now - seen))
        return done

    @staticmethod
    def longest(waits: list[tuple[float, float]], start: float = 0.0, end: float = float("inf")) -> float:
        """The longest wait of a head seen between ``start`` and ``end`` (monotonic seconds)."""
        return max((w for seen, w in waits if start <= seen < end), default=0.0)


def _pid_of(holder: str | None) -> int | None:
    return int(holder.split(":")[1]) if holder and holder.count(":") >= 2 else None


@pytest.mark.postgres
def test_three_nodes_two_services_two_relays_a_projector_survive_the_leader_and_the_active_relay_dying(
        tmp_path: Path, pg_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    cluster = Cluster(tmp_path / "cluster").start()
    procs: dict[str, subprocess.Popen[str]] = {}
    ledger = Ledger(db=pg_store)
    env = {"CULTIVATION_RELAY_LEASE": LEASE}
    killed: list[str] = []

    def part(name: str, components: str) -> subprocess.Popen[str]:
        procs[name] = start_serve(pg_store, tmp_path / name, cluster.urls, "--components", components,
                                  extra_env=env)
        return procs[name]

    try:
        asyncio.run(_await_ready(cluster.urls))
        for name, components in (("service-1", "service"), ("service-2", "service"), ("relay-1", "relay"),
                                 ("relay-2", "relay"), ("projector", "projector")):
            part(name, components)
        commands = [[{**cmd, "command_id": f"cl-{i}-{j}"} for j, cmd in enumerate(journey(i))]
                    for i in range(ENTERPRISES)]
        load, lag = Load(cluster.urls, commands), Lag(ledger, cluster.urls)
        events: list[str] = []
        faults_at: dict[str, float] = {}  # monotonic time of each kill

        async def faults() -> None:
            nc = await ready(cluster.urls)
            js = nc.jetstream(timeout=2)
            await asyncio.sleep(8)
            rows = await retrying(lambda: replication(js, N))
            leader = next(r["leader"] for r in rows if r["stream"] == N.stream)
            events.append(f"{time.monotonic() - load.started:.1f} s: kill -9 of {leader}, the stream's leader")
            faults_at["leader"] = time.monotonic()
            cluster.kill(leader)
            await asyncio.sleep(3)
            cluster.node(leader).start()
            events.append(f"{time.monotonic() - load.started:.1f} s: {leader} restarted")
            await asyncio.sleep(6)
            holder = await retrying(lambda: _holder(js))
            pid = _pid_of(holder)
            active = next(name for name, p in procs.items() if p.pid == pid)
            killed.append(active)
            events.append(f"{time.monotonic() - load.started:.1f} s: kill -9 of {active}, the active relay")
            faults_at["relay"] = time.monotonic()
            os.kill(pid, signal.SIGKILL)  # type: ignore[arg-type]
            procs[active].wait()
            await asyncio.sleep(2)
            await asyncio.to_thread(part, f"{active}-again", "relay")
            events.append(f"{time.monotonic() - load.started:.1f} s: {active}-again started")
            await asyncio.sleep(3)
            events.append(f"{time.monotonic() - load.started:.1f} s: kill -9 of service-1, a command service")
            faults_at["service"] = time.monotonic()
            killed.append("service-1")
            procs["service-1"].send_signal(signal.SIGKILL)
            procs["service-1"].wait()
            await asyncio.sleep(2)
            await asyncio.to_thread(part, "service-1-again", "service")
            events.append(f"{time.monotonic() - load.started:.1f} s: service-1-again started")
            await nc.close()

        async def run() -> None:
            watching = asyncio.create_task(lag.run())
            await asyncio.gather(load.run(), faults())
            deadline = time.monotonic() + 120
            while lag.waiting or lag.unprojected:  # until every event is on the stream and projected
                assert time.monotonic() < deadline, f"not caught up: {lag.waiting[:1]} {lag.unprojected[:1]}"
                await asyncio.sleep(0.1)
            lag.stopping = True
            await watching

        asyncio.run(run())
        status = _status(cluster.urls, pg_store, tmp_path)
        assert {r["stream"]: r["replicas"] for r in status["streams"]} == {
            N.stream: 3, N.kv_stream: 3, f"KV_{N.relay_bucket}": 3}
        assert all(r["leader"] in ("n0", "n1", "n2") and len(r["followers"]) == 2 for r in status["streams"])
        assert _pid_of(status["relay"]["lease_holder"]) in {p.pid for p in procs.values() if p.poll() is None}
        assert status["relay"]["behind"] == 0 and status["projector"]["pending"] == 0
        assert len(status["services"]) == 2  # service-2 and service-1-again
        total = sum(len(x) for x in commands)
        assert len(load.acked) == total
        # every acknowledged command is stored (its journal entry), each once
        stored = ledger.handled(list(load.acked))  # (its command id is the journal's key: once at most)
        assert len(stored) == total
        longest = max(load.acked.values())
        windows = {"the stream's leader killed": (faults_at["leader"] - 1, faults_at["relay"] - 1),
                   "the active relay killed": (faults_at["relay"] - 1, faults_at["service"] - 1),
                   "a command service killed": (faults_at["service"] - 1, float("inf"))}
        with capsys.disabled():  # printed in every run, passing or not
            print(f"\ncluster failover: {total} commands at {RATE:g}/s over {len(procs)} parts, {load.retries} "
                  f"retries; longest wait for a reply {longest:.2f} s; relay lease {LEASE} s")
            for what, (start, end) in windows.items():
                on_stream, in_bucket = lag.longest(lag.stream_waits, start, end), lag.longest(lag.projection_waits,
                                                                                             start, end)
                print(f"  {what}: longest wait of an event for the stream {on_stream:.1f} s, for the pool bucket "
                      f"{in_bucket:.1f} s")
            print(f"  otherwise: {lag.longest(lag.stream_waits, 0, faults_at['leader'] - 1):.1f} s and "
                  f"{lag.longest(lag.projection_waits, 0, faults_at['leader'] - 1):.1f} s")
            for line in events:
                print(f"  {line}")
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            if p.poll() is None:
                try:
                    p.wait(timeout=90)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    try:
        for name, p in procs.items():  # every part stopped cleanly, but the relay killed
            want = -signal.SIGKILL if name in killed else 0
            assert p.returncode == want, (name, p.returncode, p.stderr.read()[-2000:])  # type: ignore[union-attr]
        assert_stream_equals_log(ledger, asyncio.run(read_stream(cluster.urls)))
        kv = asyncio.run(kv_designations(cluster.urls))
        rebuilt = ReadModel(ledger)
        rebuilt.rebuild()
        as_of = "2021-06-30"
        pool = sorted(rebuilt.pool(tier="specialized", as_of=as_of), key=lambda d: d.key)
        assert len(pool) == ENTERPRISES
        assert sorted((d for d in kv.values() if d.tier == "specialized" and d.valid_on(as_of)),
                      key=lambda d: d.key) == pool
        live = live_read_model(ledger)
        assert {k: live.rows(k) for k in live.tables} == {k: rebuilt.rows(k) for k in rebuilt.tables}
    finally:
        cluster.close()


def _status(url: str, db: str, tmp_path: Path) -> dict[str, Any]:
    """``cultivation status --json``, as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "CULTIVATION_"))}
    run = subprocess.run([sys.executable, "-m", "entrypoints.cli", "status", "--json"], capture_output=True, text=True,
                         timeout=60, env={**env, "NATS_URL": url, "CULTIVATION_DB": db,
                                          "CULTIVATION_HOME": str(tmp_path / "status")})
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)  # type: ignore[no-any-return]


async def _await_ready(url: str) -> None:
    nc = await ready(url)
    await nc.close()


async def _holder(js: Any) -> str:
    holder = await lease_holder(js, N)
    assert holder, "no relay holds the lease"
    return holder
