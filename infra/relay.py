"""The relay: the event store's notification log, in order, onto JetStream.

Guarantees (tested in ``tests/e2e/test_streaming.py`` and ``tests/e2e/test_relay.py``):

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
  While a batch's acknowledgements are awaited, the next page is read from the store
  and turned into messages (read-ahead only: nothing of it is sent before the whole
  batch is acknowledged, and it is thrown away if the batch fails).  ``position``,
  ``stream_seq`` and ``published`` move only once a whole batch is acknowledged.
- **It never passes a position a running transaction may still fill.** It reads only
  committed notifications; SQLite has one writer at a time and the library's
  PostgreSQL recorder locks the events table for each insert, so commits become visible
  in position order.
- **NATS down, commands still accepted.** The relay only reads the store; while NATS is
  away it waits and retries, then catches up in order.
- **One relay of several publishes.** Relays on several machines share a lease on a NATS
  KV key with a time to live (:mod:`infra.lease`): the holder publishes and renews it, the
  others stand by and take over within seconds of its death; the expected-sequence fence
  above still guards every message.
- **New events go out at once.** When idle the relay polls every ``poll_interval``
  (other processes may write to the store); :meth:`Relay.nudge`, called by the command
  service after a commit, ends that wait immediately.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any
from uuid import UUID

import msgspec

from domain.enterprise import event_id, event_id_text
from infra.failpoints import failpoint
from infra.lease import Lease
from infra.nats import EVENT_ID_HEADER, POSITION_HEADER, RETRY_FIRST, RETRY_MAX, Names, stream_tail

log = logging.getLogger("cultivation.relay")

EXPECTED_LAST_SEQUENCE_HEADER = "Nats-Expected-Last-Sequence"


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


# The relay's own encoding of a WireEvent: the same bytes as ``wire_encoder.encode(to_wire(note))``
# (fields in declaration order, UUIDs as canonical text, no spaces; checked by the tests), built
# from text without UUID objects or a struct per event.
_WIRE_TEMPLATE = b'{"event_id":"%b","position":%d,"aggregate_id":"%b","version":%d,"topic":%b,"type":%b,"state":%b}'


class _Topic:
    """What the relay derives from a stored event's topic, once per topic."""

    __slots__ = ("kind", "enterprise", "json", "kind_json", "subject")

    def __init__(self, topic: str, events_prefix: str):
        self.kind = topic.rsplit(".", 1)[-1]
        self.enterprise = topic.startswith("domain.enterprise:")
        self.json = msgspec.json.encode(topic)
        self.kind_json = msgspec.json.encode(self.kind)
        self.subject = f"{events_prefix}.000000._.{self.kind}"  # for events of other aggregates


class _SubjectFields(msgspec.Struct):
    """The few fields of a stored state that name its subject (the rest is not decoded)."""

    region: str | None = None
    tier: str | None = None
    application_id: str | None = None
    new_application_id: str | None = None
    kind: str | None = None
    new_region: str | None = None


_subject_fields = msgspec.json.Decoder(_SubjectFields)
_UNKNOWN: tuple[str, dict[str, str]] = ("000000", {})
_TEACHING = frozenset({"Registered", "Applied", "Reviewed", "ChangeReported"})  # what SubjectNamer._learn learns from


class SubjectNamer:
    """``cultivation.events.<province>.<tier>.<EventType>`` for a stored event.

    Region and tier are not in every event (an approval names its application, not its
    tier), so the namer remembers each enterprise's province and applications' tiers as
    the events pass, and on a miss (a restart mid-history) reads that aggregate's events
    up to the version at hand.  Events of other aggregates (budgets, the command journal)
    go under province ``000000`` and tier ``_``.

    What it remembers depends on the order events pass (a relocation changes the
    province), so a caller going back in the log must call :meth:`forget` first.
    """

    def __init__(self, ledger: Any, max_cached: int = 100_000, names: Names | None = None):
        self.ledger = ledger
        self.events_prefix = (names or Names()).events_prefix
        self.max_cached = max_cached
        # aggregate id as canonical text -> (province, {application id: tier})
        self._known: OrderedDict[str, tuple[str, dict[str, str]]] = OrderedDict()
        self._topics: dict[str, _Topic] = {}

    def forget(self) -> None:
        self._known.clear()

    def topic(self, topic: str) -> _Topic:
        info = self._topics.get(topic)
        if info is None:
            info = self._topics[topic] = _Topic(topic, self.events_prefix)
        return info

    def _learn(self, key: str, kind: str, f: _SubjectFields) -> tuple[str, dict[str, str]]:
        known = self._known
        entry: tuple[str, dict[str, str]] | None
        if kind == "Registered":
            entry = (f.region[:2] + "0000", {})  # type: ignore[index]
        else:
            entry = known.get(key)
            if entry is None:
                return _UNKNOWN
        province, tiers = entry
        if kind == "Applied":
            tiers[f.application_id] = f.tier  # type: ignore[index,assignment]
        elif kind == "Reviewed" and f.new_application_id:
            tiers[f.new_application_id] = tiers.get(f.application_id, "_")  # type: ignore[arg-type]
        elif kind == "ChangeReported" and f.kind == "relocation" and f.new_region:
            province = f.new_region[:2] + "0000"
            entry = (province, tiers)
        known[key] = entry
        known.move_to_end(key)
        if len(known) > self.max_cached:
            known.popitem(last=False)
        return entry

    def _recall(self, key: str, version: int) -> None:
        for ev in self.ledger.events.get(UUID(key), lte=version - 1):
            self._learn(key, type(ev).__name__,
                        _SubjectFields(**{f: getattr(ev, f, None) for f in _SubjectFields.__struct_fields__}))

    def name(self, key: str, version: int, topic: _Topic, state: bytes) -> str:
        """The subject of the event ``version`` of aggregate ``key`` (its id as text)."""
        if not topic.enterprise:
            return topic.subject
        kind = topic.kind
        f = _subject_fields.decode(state)  # only what names the subject
        entry = self._known.get(key)
        if entry is None or kind in _TEACHING:
            if entry is None and kind != "Registered":
                self._recall(key, version)
            entry = self._learn(key, kind, f)
        else:
            self._known.move_to_end(key)
        province, tiers = entry
        tier = f.tier or tiers.get(f.application_id, "_")  # type: ignore[arg-type]
        return f"{self.events_prefix}.{province}.{tier}.{kind}"

    def subject(self, wire: WireEvent) -> str:
        return self.name(str(wire.aggregate_id), wire.version, self.topic(wire.topic), wire.state)


# One stored event, as the relay reads it: position, aggregate id (UUID.hex or canonical text), version,
# topic, state.
Row = tuple[int, str, int, str, bytes]
# One message ready to go: subject, payload, headers (without the expected sequence).
Message = tuple[str, bytes, dict[str, str]]


class Relay:
    """Publishes the notification log to ``CULTIVATION_EVENTS``; see the module docstring."""

    slice_size = 100  # events built between two turns of the event loop (acks and writes go through)

    def __init__(self, ledger: Any, nc: Any, batch_size: int = 500, poll_interval: float = 0.05,
                 ack_timeout: float = 10.0, names: Names | None = None, lease: Lease | None = None):
        self.ledger = ledger
        self.nc = nc
        self.names = names or Names()
        self.stream = self.names.stream
        # With a lease (serve's relays), this relay publishes only while it holds it: one relay
        # of several is active, the others stand by (infra/lease.py).  Without one it always may.
        self.lease = lease
        self.js = nc.jetstream(publish_async_max_pending=max(4000, batch_size * 2))
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.ack_timeout = ack_timeout
        self.namer = SubjectNamer(ledger, names=self.names)
        self.position = 0  # ledger position of the last event known to be on the stream
        self.stream_seq = 0
        self.published = 0
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()  # set by nudge() and stop(): ends the idle wait
        self._named = 0  # the last position the namer has seen
        self._said_standby = False
        self._select, self._select_inline = self._select_function()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def nudge(self) -> None:
        """New events were committed: stop waiting for the next poll and publish them now.

        Call it from the relay's event loop (the command service does, after each commit).
        """
        self._wake.set()

    # ------------------------------------------------------------------ reading the store
    def _select_function(self) -> tuple[Any, bool]:
        """``select(start, limit) -> list[Row]`` and whether to call it in the event loop.

        On SQLite: one short query (a WAL reader waits for no writer), run in the loop; a
        worker thread would need the GIL back after every row and crawl while the loop is
        busy.  On PostgreSQL: one query of plain tuples with the key as text, in a thread
        (a third of the CPU of the recorder's ``select_notifications``, which makes a
        ``Notification`` and a ``UUID`` of every row only for the relay to take them apart:
        that thread competes with the loop for the GIL).  On any other store: the recorder's
        ``select_notifications``, in a thread.
        """
        from eventsourcing.postgres import PostgresApplicationRecorder
        from eventsourcing.sqlite import SQLiteApplicationRecorder

        from infra.store import sql_table

        recorder = self.ledger.recorder
        if isinstance(recorder, SQLiteApplicationRecorder) and \
                getattr(recorder.datastore, "originator_id_type", "uuid") == "uuid":  # ids stored as UUID.hex
            datastore = recorder.datastore
            sql = (f"SELECT rowid, originator_id, originator_version, topic, state FROM {recorder.events_table_name} "
                   f"WHERE rowid >= ? ORDER BY rowid LIMIT ?")

            def select(start: int, limit: int) -> list[Row]:
                with datastore.transaction(commit=False) as cur:
                    raw = getattr(cur, "sqlite_cursor", None)
                    if raw is not None:
                        raw.row_factory = None  # plain tuples: cheaper to make and to unpack than sqlite3.Row
                    cur.execute(sql, (start, limit))
                    return cur.fetchall()  # type: ignore[no-any-return]

            return select, True
        if isinstance(recorder, PostgresApplicationRecorder):
            from psycopg.rows import tuple_row

            pg = recorder.datastore
            pg_sql = (f"SELECT notification_id, originator_id::text, originator_version, topic, state FROM "
                      f"{sql_table(recorder)} WHERE notification_id >= %s ORDER BY notification_id LIMIT %s")

            def select_pg(start: int, limit: int) -> list[Row]:
                with pg.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
                    cur.execute(pg_sql, (start, limit))
                    return cur.fetchall()

            return select_pg, False

        def select_notifications(start: int, limit: int) -> list[Row]:
            return rows_of(recorder.select_notifications(start, limit))

        return select_notifications, False

    def _build(self, rows: list[Row]) -> list[Message]:
        """Subjects, payloads and headers of ``rows``, the next events for the namer."""
        if rows and rows[0][0] <= self._named:
            self.namer.forget()  # going back over events the namer has seen: it must relearn them in order
        namer = self.namer
        name, topics, topic_of = namer.name, namer._topics, namer.topic
        template = _WIRE_TEMPLATE
        out: list[Message] = []
        append = out.append
        for position, key, version, topic, state in rows:
            if len(key) == 32:  # UUID.hex, as the SQLite recorder stores it
                key = f"{key[:8]}-{key[8:12]}-{key[12:16]}-{key[16:20]}-{key[20:]}"
            elif len(key) != 36:
                key = str(UUID(key))
            t = topics.get(topic) or topic_of(topic)
            eid = event_id_text(key, version)
            append((name(key, version, t, state) if t.enterprise else t.subject,
                    template % (eid.encode(), position, key.encode(), version, t.json, t.kind_json, state),
                    {EVENT_ID_HEADER: eid, POSITION_HEADER: str(position)}))
        if rows:
            self._named = rows[-1][0]
        return out

    async def _read(self, start: int) -> tuple[list[Message], int]:
        """The page of the log from ``start`` as messages, and its last position.

        Built in the event loop a slice at a time: while a batch's acks are awaited, this
        fills the time the loop would spend waiting for the server, and what is left of the
        batch's bytes and its acks get through between slices.
        """
        if self._select_inline:
            rows = self._select(start, self.batch_size)
        else:
            rows = await asyncio.to_thread(self._select, start, self.batch_size)
        if not rows:
            return [], start - 1
        step = self.slice_size
        messages = self._build(rows[:step])
        for i in range(step, len(rows), step):
            await asyncio.sleep(0)
            messages += self._build(rows[i:i + step])
        return messages, rows[-1][0]

    # ------------------------------------------------------------------ publishing
    async def read_tail(self) -> None:
        """Position and stream sequence of the stream's last message (0, 0 when empty)."""
        self.stream_seq, self.position = await stream_tail(self.js, self.stream)

    async def _send(self, messages: list[Message]) -> list[asyncio.Future[Any]]:
        """Publish a batch, pipelined, each message fenced to follow the one before."""
        publish = self.js.publish_async
        seq = self.stream_seq
        futures: list[asyncio.Future[Any]] = []
        append = futures.append
        for subject, payload, headers in messages:
            headers[EXPECTED_LAST_SEQUENCE_HEADER] = str(seq)
            seq += 1
            append(await publish(subject, payload, headers=headers, stream=self.stream))
        return futures

    async def _settle(self, futures: list[asyncio.Future[Any]], last_position: int) -> None:
        """Wait for a batch's acks; only then does the relay move on."""
        acks = await asyncio.wait_for(asyncio.gather(*futures), self.ack_timeout)
        self.stream_seq = acks[-1].seq
        failpoint("relay.after_publish")
        self.position = last_position
        self.published += len(futures)

    async def publish_batch(self, notes: list[Any]) -> None:
        """Publish these notifications (the next ones after :attr:`position`) as one batch."""
        if notes:
            await self._settle(await self._send(self._build(rows_of(notes))), notes[-1].id)

    async def run_once(self) -> int:
        """Publish what is waiting (up to one batch); returns how many events went out."""
        messages, last = await self._read(self.position + 1)
        if messages:
            await self._settle(await self._send(messages), last)
        return len(messages)

    async def _pump(self, deadline: float | None = None, stoppable: bool = False) -> int:
        """Publish batch after batch until the store has nothing more; returns how many
        events went out.  The next page is read and built while a batch's acks are awaited
        (and sent only once they are all in); if the batch fails, that page is dropped and
        the caller resumes from the stream's tail."""
        sent = 0
        messages, last = await self._read(self.position + 1)
        while messages and self.may_publish():
            futures = await self._send(messages)
            ahead = asyncio.ensure_future(self._read(last + 1))
            try:
                await self._settle(futures, last)
                sent += len(messages)
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError("relay did not catch up in time")
                if stoppable and self._stopping.is_set():
                    break
                messages, last = await ahead
            finally:
                if not ahead.done():
                    ahead.cancel()
                elif not ahead.cancelled():
                    ahead.exception()  # retrieved: a failed read-ahead is retried by the next pass
        return sent

    def may_publish(self) -> bool:
        """Whether this relay may send now: always without a lease, else while it holds it."""
        return self.lease is None or self.lease.held()

    @property
    def role(self) -> str:
        """``active`` (publishing, or free to) or ``standby`` (another relay holds the lease)."""
        return "active" if self.may_publish() else "standby"

    async def _hold_lease(self, ready: asyncio.Event | None) -> bool:
        """Hold or renew the lease (with one); True when this relay may publish now.  A standby
        waits here a third of the lease's time to live before it tries again."""
        lease = self.lease
        if lease is None:
            return True
        was = lease.held()
        if await lease.acquire():
            if not was:
                log.info("relay: active (lease %s held by %s)", lease.names.relay_bucket, lease.holder)
            return True
        if was or not self._said_standby:
            log.info("relay: standing by (another relay holds the lease %s)", lease.names.relay_bucket)
            self._said_standby = True
        if ready:
            ready.set()  # a standby is ready: it takes over when the lease is free
        await self._sleep(lease.interval)
        return False

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    async def _renew_lease(self) -> None:
        """While active: renew the lease every third of its time to live (a task beside run)."""
        lease = self.lease
        assert lease is not None
        while not self._stopping.is_set():
            await self._sleep(lease.interval)
            if self._stopping.is_set() or lease.revision is None:
                continue
            try:
                await lease.renew()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # NATS away: the lease runs out by itself if this goes on
                log.warning("relay lease: renewal failed (%s: %s)", type(e).__name__, e)

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Follow the log until :meth:`stop`; survive NATS outages by re-reading the tail.
        With a lease: publish only while holding it, stand by otherwise; on a stop, release it."""
        renewing = asyncio.create_task(self._renew_lease(), name="relay-lease") if self.lease else None
        try:
            await self._follow(ready)
        finally:
            if renewing is not None:
                renewing.cancel()
                await asyncio.gather(renewing, return_exceptions=True)
            if self.lease is not None:
                await self.lease.release()

    async def _follow(self, ready: asyncio.Event | None) -> None:
        backoff = RETRY_FIRST
        tail_known = False
        while not self._stopping.is_set():
            try:
                if self.lease is not None and not self.lease.held():
                    tail_known = False  # another relay may have published meanwhile
                    if not await self._hold_lease(ready):
                        continue
                if not tail_known:
                    await self.read_tail()
                    tail_known = True
                    if ready:
                        ready.set()
                self._wake.clear()  # a nudge from here on is for events this pass may not see
                await self._pump(stoppable=True)
                backoff = RETRY_FIRST
                if not self._stopping.is_set():
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                    except TimeoutError:
                        pass
            except asyncio.CancelledError:
                raise
            except Exception as e:  # NATS away, a failed expectation: start again from the tail
                log.warning("relay: %s: %s; resuming from the stream's tail", type(e).__name__, e)
                tail_known = False
                try:
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, RETRY_MAX)

    async def drain(self, timeout: float = 30.0) -> None:
        """Publish everything stored so far (used on shutdown and by tests)."""
        deadline = time.monotonic() + timeout
        await self.read_tail()
        await self._pump(deadline)


def rows_of(notes: Any) -> list[Row]:
    """Notifications as the relay's rows."""
    return [(n.id, str(n.originator_id), n.originator_version, n.topic, n.state) for n in notes]
