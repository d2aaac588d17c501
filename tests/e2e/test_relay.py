"""The relay's own mechanics, over a real NATS with JetStream: the nudge that ends its idle
wait, the messages it builds (the same bytes, ids and subjects as the reference
``to_wire``/``SubjectNamer`` path), and a batch failing half-way while the next page
has already been read ahead (the relay resumes from the stream's tail, exactly once,
with every subject as if nothing had happened).  The end-to-end relay tests (restart,
``kill -9``, concurrent writers, NATS outage) are in ``test_streaming.py``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import nats

from domain.enterprise import event_id
from domain.values import make_uscc
from infra.nats import POSITION_HEADER, Names, connect_options, ensure_stream_and_bucket
from infra.relay import Relay, SubjectNamer, to_wire, wire_decoder, wire_encoder
from services import commands as c
from services.ledger import Ledger

N = Names()  # the default ledger's NATS names

A = lambda authority: {"authority": authority, "person": "test relay"}  # noqa: E731


def journey(ledger: Ledger, i: int, county: str = "211402") -> None:
    """Register enterprise ``i`` and take it to a provincial specialized designation (12 events)."""
    u = make_uscc(f"91{county}MR{i:07d}")
    city, prov = A(county[:4] + "00"), A(county[:2] + "0000")
    for j, obj in enumerate([
        {"command": "register", "uscc": u, "name": f"中继企业{i}", "region": county, "occurred_on": "2019-01-02",
         "actor": city},
        {"command": "apply", "uscc": u, "application_id": "sp", "programme": "national", "tier": "specialized",
         "occurred_on": "2019-03-01", "actor": city},
        {"command": "recommend", "uscc": u, "application_id": "sp", "occurred_on": "2019-04-01", "actor": city},
        {"command": "assess", "uscc": u, "application_id": "sp", "score": 80, "occurred_on": "2019-05-01",
         "actor": prov},
        {"command": "open_notice", "uscc": u, "application_id": "sp", "occurred_on": "2019-05-02", "actor": prov},
        {"command": "approve", "uscc": u, "application_id": "sp", "occurred_on": "2019-05-20", "actor": prov,
         "document": f"辽工信发〔2019〕{i}号"},
    ]):
        ledger.handle(c.convert_command({**obj, "command_id": f"relay-{i}-{j}"}))


def relocate(ledger: Ledger, i: int, county: str = "211402", to: str = "330106") -> None:
    u = make_uscc(f"91{county}MR{i:07d}")
    ledger.handle(c.convert_command({"command": "report_change", "uscc": u, "kind": "relocation", "new_region": to,
                                     "changed_on": "2020-01-10", "occurred_on": "2020-01-15",
                                     "actor": A(county[:4] + "00"), "command_id": f"relay-{i}-relocate"}))


def expected(ledger: Ledger) -> list[tuple[str, bytes, str, int]]:
    """What the reference path makes of the log: subject, payload, message id, position."""
    namer = SubjectNamer(ledger)
    out = []
    for n in ledger.recorder.select_notifications(start=1, limit=10**9):
        wire = to_wire(n)
        out.append((namer.subject(wire), wire_encoder.encode(wire), str(event_id(n.originator_id,
                                                                                  n.originator_version)), n.id))
    return out


async def stream_messages(nc: Any) -> list[tuple[int, str, bytes, dict[str, str]]]:
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    js = nc.jetstream()
    total = (await js.stream_info(N.stream)).state.messages
    sub = await js.pull_subscribe(f"{N.events_prefix}.>", stream=N.stream,
                                  config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL))
    out: list[tuple[int, str, bytes, dict[str, str]]] = []
    while len(out) < total:
        for m in await sub.fetch(min(500, total - len(out)), timeout=10):
            out.append((m.metadata.sequence.stream, m.subject, m.data, dict(m.headers or {})))
    await sub.unsubscribe()
    return out


def assert_stream_is(stream: list[tuple[int, str, bytes, dict[str, str]]],
                     want: list[tuple[str, bytes, str, int]]) -> None:
    """Exactly once, in order, with the reference subjects, payload bytes, ids and positions."""
    assert [s for s, _, _, _ in stream] == list(range(1, len(want) + 1))
    assert [(subject, data, h["Nats-Msg-Id"], int(h[POSITION_HEADER])) for _, subject, data, h in stream] == want
    assert [h["Nats-Expected-Last-Sequence"] for _, _, _, h in stream] == [str(i) for i in range(len(want))]


class _NoNats:
    def jetstream(self, **_: Any) -> None:
        return None


def test_messages_are_the_reference_bytes_ids_and_subjects(any_ledger: Ledger) -> None:
    """The relay builds its messages from text (no UUID objects, no struct per event): the
    result is byte for byte what ``wire_encoder.encode(to_wire(note))`` gives, the id is
    ``event_id``, the subject what ``SubjectNamer.subject`` names, on SQLite and PostgreSQL."""
    for i in range(3):
        journey(any_ledger, i)
    relocate(any_ledger, 0)
    want = expected(any_ledger)

    async def go() -> list[tuple[str, bytes, str, int]]:
        relay = Relay(any_ledger, _NoNats(), batch_size=7)
        got, last = [], 0
        while True:
            messages, last = await relay._read(last + 1)
            if not messages:
                return got
            got += [(s, p, h["Nats-Msg-Id"], int(h[POSITION_HEADER])) for s, p, h in messages]

    got = asyncio.run(go())
    assert got == want
    assert {s for s, _, _, _ in got} >= {f"{N.events_prefix}.210000.specialized.Approved",
                                         f"{N.events_prefix}.330000._.ChangeReported"}
    assert not [s for s, _, _, _ in got if s.endswith(".Handled")]  # the journal is rows, not events
    for _, payload, _, position in got:
        assert wire_decoder.decode(payload).position == position


async def _idle_relay(ledger: Ledger, nats_url: str) -> tuple[Any, Relay, asyncio.Task[None]]:
    """A running relay that polls only every 30 seconds, ready (it has read the stream's tail)."""
    nc = await nats.connect(**connect_options(nats_url))
    await ensure_stream_and_bucket(nc.jetstream())
    relay = Relay(ledger, nc, poll_interval=30.0)
    ready = asyncio.Event()
    task = asyncio.create_task(relay.run(ready))
    await asyncio.wait_for(ready.wait(), 10)
    return nc, relay, task


def test_nudge_ends_the_idle_wait_at_once(ledger: Ledger, nats_url: str) -> None:
    """With a 30-second poll, a committed event waits for the poll; ``nudge()`` sends it now."""

    async def go() -> None:
        nc, relay, task = await _idle_relay(ledger, nats_url)
        try:
            await asyncio.sleep(0.5)  # the relay has found nothing and waits for its next poll
            await asyncio.to_thread(journey, ledger, 0)
            head = await asyncio.to_thread(ledger.max_position)
            await asyncio.sleep(0.3)
            assert relay.position == 0, "published before the poll: the test shows nothing"
            t0 = time.monotonic()
            relay.nudge()
            while relay.position < head:
                assert time.monotonic() - t0 < 1.0, "the nudge did not wake the relay"
                await asyncio.sleep(0.005)
            assert (await nc.jetstream().stream_info(N.stream)).state.messages == head
            # Nudged while busy or idle, again and again: nothing is sent twice.
            for _ in range(3):
                relay.nudge()
                await asyncio.sleep(0.05)
            assert relay.published == head
        finally:
            relay.stop()
            await asyncio.wait_for(task, 10)
        assert task.done() and task.exception() is None
        assert_stream_is(await stream_messages(nc), expected(ledger))
        await nc.close()

    asyncio.run(go())


def test_stop_ends_the_idle_wait_at_once(ledger: Ledger, nats_url: str) -> None:
    async def go() -> None:
        nc, relay, task = await _idle_relay(ledger, nats_url)
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        relay.stop()
        await asyncio.wait_for(task, 5)
        assert time.monotonic() - t0 < 1.0
        await nc.close()

    asyncio.run(go())


class _LosesAcks(Relay):
    """Sends only the first ``keep`` messages of its ``fail_batch``-th batch and never hears
    back about the rest: the batch times out with part of it on the stream."""

    fail_batch, keep = 2, 1

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.batches = 0

    async def _send(self, messages: list[Any]) -> list[Any]:
        self.batches += 1
        if self.batches != self.fail_batch:
            return await super()._send(messages)
        futures = await super()._send(messages[:self.keep])
        lost = asyncio.get_running_loop().create_future()
        return futures + [lost] * (len(messages) - self.keep)


def test_batch_failing_half_way_with_the_next_page_read_ahead_resumes_from_the_tail(
        any_ledger: Ledger, nats_url: str) -> None:
    """Positions 1-6: enterprise 0 up to its approval (6); 7: its relocation to Zhejiang;
    then enterprise 1.  Batches of 4: the second (5-8) loses its acks after 5 landed, when
    the relay has named 5-8 and read 9-12 ahead, so its namer already has enterprise 0 in
    Zhejiang.  It must resume at 6, name the approval under Liaoning, and publish every
    event once, in order, fenced, exactly as the reference path names it."""
    journey(any_ledger, 0)
    relocate(any_ledger, 0)
    journey(any_ledger, 1)
    head = any_ledger.max_position()
    want = expected(any_ledger)
    assert want[5][0] == f"{N.events_prefix}.210000.specialized.Approved"
    assert want[6][0] == f"{N.events_prefix}.330000._.ChangeReported"

    async def go() -> None:
        nc = await nats.connect(**connect_options(nats_url))
        await ensure_stream_and_bucket(nc.jetstream())
        relay = _LosesAcks(any_ledger, nc, batch_size=4, poll_interval=0.01, ack_timeout=2.0)
        task = asyncio.create_task(relay.run())
        deadline = time.monotonic() + 30
        while relay.position < head:
            assert time.monotonic() < deadline, f"relay stuck at {relay.position} of {head}"
            await asyncio.sleep(0.02)
        relay.stop()
        await asyncio.wait_for(task, 10)
        assert relay.batches >= 4  # 1-4, 5-8 (lost), then from the tail: 6-9, 10-13
        assert relay.published <= head - relay.keep  # only what it saw acknowledged
        assert_stream_is(await stream_messages(nc), want)
        await nc.close()

    asyncio.run(go())
