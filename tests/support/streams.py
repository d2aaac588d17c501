"""The streaming tests' traffic: a six-command ``journey`` taking an enterprise to a provincial
专精特新 designation (the pattern ``benchmarks/run.py`` loads its store with), ``load`` of many
such journeys into a ledger, ``send_all`` of commands over NATS, and ``start_serve`` of a real
``cultivation serve`` whose first line is read."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import nats

from domain.enterprise import event_id
from domain.values import make_uscc
from infra.nats import POSITION_HEADER, Names, connect_options
from infra.relay import wire_decoder
from projections.pools import Designation
from services import commands as c
from services.ledger import Ledger

N = Names()  # the default ledger's NATS names
A = lambda authority: {"authority": authority, "person": "test service"}  # noqa: E731


def journey(i: int, county: str = "211402") -> list[dict[str, Any]]:
    """Six commands taking enterprise ``i`` to a provincial 专精特新 designation."""
    u = make_uscc(f"91{county}MB{i:07d}")
    return [
        {"command": "register", "uscc": u, "name": f"测试企业{i}", "region": county, "occurred_on": "2019-01-02",
         "actor": A(county[:4] + "00")},
        {"command": "apply", "uscc": u, "application_id": "sp", "programme": "national", "tier": "specialized",
         "occurred_on": "2019-03-01", "actor": A(county[:4] + "00")},
        {"command": "recommend", "uscc": u, "application_id": "sp", "occurred_on": "2019-04-01",
         "actor": A(county[:4] + "00")},
        {"command": "assess", "uscc": u, "application_id": "sp", "score": 60 + i % 40, "occurred_on": "2019-05-01",
         "actor": A(county[:2] + "0000")},
        {"command": "open_notice", "uscc": u, "application_id": "sp", "occurred_on": "2019-05-02",
         "actor": A(county[:2] + "0000")},
        {"command": "approve", "uscc": u, "application_id": "sp", "occurred_on": "2019-05-20",
         "actor": A(county[:2] + "0000"), "document": f"辽工信发〔2019〕{i}号"},
    ]


def load(ledger: Ledger, first: int, count: int) -> None:
    for i in range(first, first + count):
        for j, obj in enumerate(journey(i)):
            ledger.handle(c.convert_command({**obj, "command_id": f"load-{i}-{j}"}))


async def send_all(url: str, commands: list[dict[str, Any]], concurrency: int = 16) -> list[dict[str, Any]]:
    nc = await nats.connect(**connect_options(url))
    replies: list[dict[str, Any]] = [{} for _ in commands]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(commands)):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            cmd = commands[i]
            subject = f"cultivation.cmd.{cmd['actor']['authority']}.{cmd['command']}"
            msg = await nc.request(subject, json.dumps(cmd).encode(), timeout=30)
            replies[i] = {"body": json.loads(msg.data), "headers": dict(msg.headers or {})}

    # Commands of one enterprise are sent in order; different enterprises in parallel.
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await nc.close()
    return replies


def start_serve(db: str, home: Path, nats_url: str, *args: str, failpoint: str | None = None,
                extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "CULTIVATION_DB": db, "CULTIVATION_HOME": str(home), "NATS_URL": nats_url,
           **(extra_env or {})}
    env.pop("CULTIVATION_FAILPOINT", None)
    if failpoint:
        env["CULTIVATION_FAILPOINT"] = failpoint
    proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "ready" in line, (line, proc.stderr.read() if proc.poll() is not None else "")  # type: ignore[union-attr]
    proc.ready_line = line  # type: ignore[attr-defined]
    return proc


async def read_stream(url: str, names: Names = N) -> list[tuple[int, str, dict[str, str], Any]]:
    """Every message of the ledger's stream (default CULTIVATION_EVENTS): (stream seq, subject, headers, wire event)."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    nc = await nats.connect(**connect_options(url))
    js = nc.jetstream()
    total = (await js.stream_info(names.stream)).state.messages
    sub = await js.pull_subscribe(f"{names.events_prefix}.>", stream=names.stream,
                                  config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL))
    out: list[tuple[int, str, dict[str, str], Any]] = []
    while len(out) < total:
        for m in await sub.fetch(min(1000, total - len(out)), timeout=10):
            out.append((m.metadata.sequence.stream, m.subject, dict(m.headers or {}), wire_decoder.decode(m.data)))
    await nc.close()
    return out


def assert_stream_equals_log(ledger: Ledger, stream: list[tuple[int, str, dict[str, str], Any]]) -> None:
    """Exactly once, in ledger order, with ids and positions as stored."""
    notes = ledger.recorder.select_notifications(start=1, limit=10**9)
    want = [(n.id, event_id(n.originator_id, n.originator_version)) for n in notes]
    got = [(w.position, w.event_id) for _, _, _, w in stream]
    ids = [e for _, e in got]
    assert len(ids) == len(set(ids)), "an event is on the stream twice"
    assert got == want
    assert [int(h[POSITION_HEADER]) for _, _, h, _ in stream] == [p for p, _ in want]
    assert [h["Nats-Msg-Id"] for _, _, h, _ in stream] == [str(e) for _, e in want]
    assert [s for s, _, _, _ in stream] == list(range(1, len(stream) + 1))
    by_pos = {n.id: n for n in notes}
    for _, _, _, w in stream[:50]:
        assert bytes(w.state) == by_pos[w.position].state  # the stored bytes, verbatim


async def kv_designations(url: str, names: Names = N) -> dict[str, Designation]:
    """Every current entry of the pool bucket, read from its stream (last value per key)
    rather than with ``kv.keys()``, whose watcher can report an empty bucket under load."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    nc = await nats.connect(**connect_options(url))
    js = nc.jetstream()
    stream = f"KV_{names.pool_bucket}"
    total = (await js.stream_info(stream)).state.messages
    sub = await js.pull_subscribe(f"$KV.{names.pool_bucket}.>", stream=stream, config=ConsumerConfig(
        ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.LAST_PER_SUBJECT))
    out: dict[str, Designation] = {}
    while total:
        msgs = await sub.fetch(1000, timeout=10)
        for m in msgs:
            out[m.subject.removeprefix(f"$KV.{names.pool_bucket}.")] = msgspec.json.decode(m.data, type=Designation)
        if msgs[-1].metadata.num_pending == 0:
            break
    await nc.close()
    return out


def wait_until(predicate: Any, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
