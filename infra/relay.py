"""The relay: the event store's notification log, in order, onto JetStream.

Guarantees (tested in ``tests/test_relay.py``):

- **Every stored event at least once, in ledger order, and in practice exactly once.**
  The relay's durable position *is* the stream: on start it reads the ledger position
  header of the stream's last message and resumes after it, so a restart after a crash
  (even hours later, far outside JetStream's 2-minute duplicate window) neither skips
  nor repeats.  Each message also carries ``Nats-Msg-Id`` = event id, so a retry in
  flight is dropped by the server.
- **No reordering, no gaps.** A batch is published pipelined (one round trip per batch,
  not per event) and message *i* carries ``Nats-Expected-Last-Sequence`` = the stream
  sequence it must follow.  If any message of a batch fails, every later one fails its
  expectation too; the relay re-reads the stream's tail and resumes from there.  The
  same header fences off a second relay by mistake started on the same stream.
- **It never passes a position a running transaction may still fill.** It reads only
  committed notifications; SQLite has one writer at a time and the library's
  PostgreSQL recorder locks the events table for each insert, so commits become visible
  in position order.
- **NATS down, commands still accepted.** The relay only reads the store; while NATS is
  away it waits and retries, then catches up in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any
from uuid import UUID

import msgspec

from domain.enterprise import event_id
from infra.failpoints import failpoint
from infra.nats import EVENT_ID_HEADER, EVENTS_PREFIX, POSITION_HEADER, STREAM

log = logging.getLogger("cultivation.relay")


class WireEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One stored event as it travels on ``CULTIVATION_EVENTS``.

    ``state`` is the stored JSON verbatim (what :mod:`infra.mapper` wrote), so a consumer
    decodes exactly the event the store holds, and an auditor can compare bytes.
    """

    event_id: UUID
    position: int
    aggregate_id: UUID
    version: int
    topic: str
    type: str
    state: msgspec.Raw


wire_encoder = msgspec.json.Encoder()
wire_decoder = msgspec.json.Decoder(WireEvent)


def to_wire(note: Any) -> WireEvent:
    return WireEvent(event_id=event_id(note.originator_id, note.originator_version), position=note.id,
                     aggregate_id=note.originator_id, version=note.originator_version, topic=note.topic,
                     type=note.topic.rsplit(".", 1)[-1], state=msgspec.Raw(note.state))


class _SubjectFields(msgspec.Struct):
    """The few fields of a stored state that name its subject (the rest is not decoded)."""

    region: str | None = None
    tier: str | None = None
    application_id: str | None = None
    new_application_id: str | None = None
    kind: str | None = None
    new_region: str | None = None


_subject_fields = msgspec.json.Decoder(_SubjectFields)


class SubjectNamer:
    """``cultivation.events.<province>.<tier>.<EventType>`` for a stored event.

    Region and tier are not in every event (an approval names its application, not its
    tier), so the namer remembers each enterprise's province and applications' tiers as
    the events pass, and on a miss (a restart mid-history) reads that aggregate's events
    up to the version at hand.  Events of other aggregates (budgets, the command journal)
    go under province ``000000`` and tier ``_``.
    """

    def __init__(self, ledger: Any, max_cached: int = 100_000):
        self.ledger = ledger
        self.max_cached = max_cached
        self._known: OrderedDict[UUID, tuple[str, dict[str, str]]] = OrderedDict()

    def _learn(self, aggregate_id: UUID, kind: str, state: dict[str, Any]) -> None:
        entry = self._known.get(aggregate_id)
        if kind == "Registered":
            entry = (state["region"][:2] + "0000", {})
        if entry is None:
            return
        province, tiers = entry
        if kind == "Applied":
            tiers[state["application_id"]] = state["tier"]
        elif kind == "Reviewed" and state.get("new_application_id"):
            tiers[state["new_application_id"]] = tiers.get(state["application_id"], "_")
        elif kind == "ChangeReported" and state.get("kind") == "relocation" and state.get("new_region"):
            province = state["new_region"][:2] + "0000"
        self._known[aggregate_id] = (province, tiers)
        self._known.move_to_end(aggregate_id)
        while len(self._known) > self.max_cached:
            self._known.popitem(last=False)

    def _recall(self, aggregate_id: UUID, version: int) -> None:
        for ev in self.ledger.events.get(aggregate_id, lte=version - 1):
            self._learn(aggregate_id, type(ev).__name__, {f: getattr(ev, f, None) for f in _SubjectFields.__struct_fields__})

    def subject(self, wire: WireEvent) -> str:
        kind = wire.type
        if not wire.topic.startswith("domain.enterprise:"):
            return f"{EVENTS_PREFIX}.000000._.{kind}"
        state = msgspec.structs.asdict(_subject_fields.decode(wire.state))  # only what names the subject
        if wire.aggregate_id not in self._known and kind != "Registered":
            self._recall(wire.aggregate_id, wire.version)
        self._learn(wire.aggregate_id, kind, state)
        province, tiers = self._known.get(wire.aggregate_id, ("000000", {}))
        tier = state.get("tier") or tiers.get(state.get("application_id", ""), "_")
        return f"{EVENTS_PREFIX}.{province}.{tier}.{kind}"


class Relay:
    """Publishes the notification log to ``CULTIVATION_EVENTS``; see the module docstring."""

    def __init__(self, ledger: Any, nc: Any, batch_size: int = 500, poll_interval: float = 0.05,
                 ack_timeout: float = 10.0):
        self.ledger = ledger
        self.nc = nc
        self.js = nc.jetstream(publish_async_max_pending=max(4000, batch_size * 2))
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.ack_timeout = ack_timeout
        self.namer = SubjectNamer(ledger)
        self.position = 0  # ledger position of the last event known to be on the stream
        self.stream_seq = 0
        self.published = 0
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def read_tail(self) -> None:
        """Position and stream sequence of the stream's last message (0, 0 when empty)."""
        info = await self.js.stream_info(STREAM)
        last = info.state.last_seq
        if not last or info.state.messages == 0:
            self.position, self.stream_seq = 0, last or 0
            return
        msg = await self.js.get_msg(STREAM, seq=last)
        self.position = int((msg.headers or {}).get(POSITION_HEADER, 0))
        self.stream_seq = last

    async def publish_batch(self, notes: list[Any]) -> None:
        futures = []
        for i, note in enumerate(notes):
            wire = to_wire(note)
            headers = {EVENT_ID_HEADER: str(wire.event_id), POSITION_HEADER: str(note.id),
                       "Nats-Expected-Last-Sequence": str(self.stream_seq + i)}
            futures.append(await self.js.publish_async(self.namer.subject(wire), wire_encoder.encode(wire),
                                                       headers=headers, stream=STREAM))
        acks = await asyncio.wait_for(asyncio.gather(*futures), self.ack_timeout)
        self.stream_seq = acks[-1].seq
        failpoint("relay.after_publish")
        self.position = notes[-1].id
        self.published += len(notes)

    async def run_once(self) -> int:
        """Publish what is waiting (up to one batch); returns how many events went out."""
        notes = await asyncio.to_thread(self.ledger.recorder.select_notifications, self.position + 1,
                                        self.batch_size)
        if notes:
            await self.publish_batch(notes)
        return len(notes)

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Follow the log until :meth:`stop`; survive NATS outages by re-reading the tail."""
        backoff = 0.2
        tail_known = False
        while not self._stopping.is_set():
            try:
                if not tail_known:
                    await self.read_tail()
                    tail_known = True
                    if ready:
                        ready.set()
                n = await self.run_once()
                backoff = 0.2
                if n == 0:
                    try:
                        await asyncio.wait_for(self._stopping.wait(), self.poll_interval)
                    except asyncio.TimeoutError:
                        pass
            except asyncio.CancelledError:
                raise
            except Exception as e:  # NATS away, a failed expectation: start again from the tail
                log.warning("relay: %s: %s; resuming from the stream's tail", type(e).__name__, e)
                tail_known = False
                try:
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                except asyncio.TimeoutError:
                    pass
                backoff = min(backoff * 2, 5.0)

    async def drain(self, timeout: float = 30.0) -> None:
        """Publish everything stored so far (used on shutdown and by tests)."""
        deadline = time.monotonic() + timeout
        await self.read_tail()
        while time.monotonic() < deadline:
            if await self.run_once() == 0:
                return
        raise TimeoutError("relay did not catch up in time")
