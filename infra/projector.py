"""Live projections: a durable JetStream consumer feeding the ``live`` read model.

For each fetched batch the projector

1. decodes the wire events back into domain events (the same bytes the store holds);
2. folds those after its checkpoint with the same pure functions the rebuild uses
   (:mod:`projections.pools`, :mod:`projections.audit`) and commits the rows, the audit
   entries, the statistics and the checkpoint in one database transaction;
3. publishes what the batch changed: each changed designation into the KV bucket
   ``cultivation_pools`` and on ``cultivation.pool.<tier>.<province>.<city>.<county>``,
   each audit entry on ``cultivation.audit.<uscc>``, statistics deltas on
   ``cultivation.stats``, and waits for the KV acknowledgements; the *published*
   position this reaches is saved with the next batch's commit (or when idle);
4. acknowledges the batch (one acknowledgement: the consumer's policy is ``all``).

A crash before the commit leaves the messages unacknowledged and the checkpoint where
it was: they are redelivered and applied once.  A crash after it redelivers events at or
before the checkpoint, which are skipped, and on restart the projector first publishes
every row changed after the saved published position (rows carry ``changed_at``), so
nothing committed goes unpublished (some may go out twice: the KV bucket keeps the same
value, pool subscribers deduplicate by ``position``).  The database lock is never held
while talking to NATS.  So the live read model always equals a rebuild from zero.

Batches are as large as what is waiting: the projector waits for one message, then
takes every other one already on the stream (up to ``batch_size``), so a lone event is
projected at once and a burst is projected in few transactions.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from typing import Any, cast

import msgspec
from eventsourcing.persistence import StoredEvent

from infra.failpoints import failpoint
from infra.nats import RETRY_FIRST, RETRY_MAX, Names
from infra.readmodel import PUBLISHED, SKIPPED_TOPICS, BatchResult, ReadModel
from infra.relay import wire_decoder
from infra.store import is_postgres
from projections.pools import Designation

log = logging.getLogger("cultivation.projector")
_enc = msgspec.json.Encoder()


def live_read_model(ledger: Any, prefix: str = "live") -> ReadModel:
    """The read model the stream-fed projector keeps (and what compares with it opens).

    Beside a SQLite ledger it has a file of its own, ``<ledger file>.live``: its commits
    then never queue for the ledger's single write lock (nor the ledger's for its own),
    and they need not reach the disk one by one (``synchronous=NORMAL``: a power cut may
    take back its last commits, checkpoint included, and the stream redelivers them).
    On PostgreSQL its tables sit in the ledger's schema, where writers do not queue, and
    its commits do not wait for the WAL to reach the disk either (``synchronous_commit =
    off``, on its own connection only: a crash of the database server may take back its
    last commits, checkpoint included, never half of one; the stream redelivers them).
    """
    if is_postgres(ledger.store):
        rm = ReadModel(ledger, prefix=prefix, follows_store=False)
        with rm._tx() as cur:
            cur.execute("SET synchronous_commit = off")  # the session's, beyond this transaction
        return rm
    rm = ReadModel(ledger, prefix=prefix, follows_store=False, target=f"{ledger.store}.live")
    rm.conn.execute("PRAGMA synchronous=NORMAL")
    return rm


async def wait_projected(rm: ReadModel, position: int, timeout: float,
                         published: Callable[[], int] | None = None) -> None:
    """Wait until the live read model ``rm`` has applied, and published, every event up to
    ``position``: what was published by the projector's own count (``published``), else
    by the position the read model stores (for a projector in another process)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        applied = await asyncio.to_thread(rm.position)
        sent = published() if published is not None else await asyncio.to_thread(rm.published_position)
        if min(applied, sent) >= position:
            return
        if loop.time() > deadline:
            raise TimeoutError(f"live projection did not reach position {position}")
        await asyncio.sleep(0.05)


class OutOfOrder(Exception):
    """A delivery that does not continue the stream where the checkpoint stands."""


class PoolChange(msgspec.Struct, frozen=True, kw_only=True):
    """A message on ``cultivation.pool.…``: the designation row as it now stands."""

    position: int
    designation: Designation


class StatsDelta(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a message on ``cultivation.stats`` (a JSON array of them): how many events
    of ``type`` about ``tier`` in ``province`` in business ``year`` one batch added."""

    province: str
    tier: str
    type: str
    year: int
    delta: int


def kv_key(d: Designation) -> str:
    """KV key of a designation: ``<tier>.<uscc>.<digest of the application id>``."""
    return f"{d.tier}.{d.uscc}.{hashlib.sha1(d.key.encode()).hexdigest()[:16]}"


def pool_subject(d: Designation, names: Names | None = None) -> str:
    """``<ledger>.pool.<tier>.<province>.<city>.<county>`` of a designation."""
    r = d.region
    return f"{(names or Names()).pool_prefix}.{d.tier}.{r[:2]}0000.{r[:4]}00.{r}"


class LiveProjector:
    """Consumes ``CULTIVATION_EVENTS`` with the durable consumer ``durable``."""

    def __init__(self, ledger: Any, nc: Any, durable: str | None = None, batch_size: int = 500,
                 prefix: str = "live", fetch_timeout: float = 1.0, names: Names | None = None):
        self.ledger = ledger
        self.nc = nc
        self.js = nc.jetstream()
        self.names = names or Names()
        self.durable = durable or self.names.projector_durable
        self.batch_size = batch_size
        self.fetch_timeout = fetch_timeout
        self.read_model = live_read_model(ledger, prefix)
        self.applied = 0
        self._stopping = asyncio.Event()
        self._kv: Any = None
        self._sub: Any = None
        self._next_seq = 1
        self._published = 0  # position up to which changes went out (this run)
        self._published_saved = 0  # ... and up to which that is committed in the read model

    def stop(self) -> None:
        self._stopping.set()

    async def _subscribe(self) -> None:
        """(Re)create the durable consumer at the message after the committed checkpoint.

        JetStream redelivers unacknowledged messages only after their ack wait, *after*
        newer ones: resuming from the consumer's own state could apply a later event
        before an earlier one.  The checkpoint committed with the rows is the truth, so
        the consumer is recreated to start right after it, and deliveries must then
        arrive in stream order without gaps.
        """
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import NotFoundError

        self._kv = await self.js.key_value(self.names.pool_bucket)
        seq = await asyncio.to_thread(self.read_model.stream_position)
        try:
            await self.js.delete_consumer(self.names.stream, self.durable)
        except NotFoundError:
            pass
        self._sub = await self.js.pull_subscribe(
            f"{self.names.events_prefix}.>", durable=self.durable, stream=self.names.stream,
            config=ConsumerConfig(ack_policy=AckPolicy.ALL, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                                  opt_start_seq=seq + 1, ack_wait=60, max_ack_pending=20_000, max_deliver=-1))
        self._next_seq = seq + 1

    def _decode(self, msgs: list[Any]) -> list[tuple[int, Any]]:
        events = []
        for m in msgs:
            w = wire_decoder.decode(m.data)
            if w.topic in SKIPPED_TOPICS:
                continue
            stored = StoredEvent(originator_id=w.aggregate_id, originator_version=w.version, topic=w.topic,
                                 state=bytes(w.state))
            events.append((w.position, self.ledger.mapper.to_domain_event(stored)))
        return events

    async def publish_changes(self) -> int:
        """Publish the rows and audit entries changed since the published position, then
        move that position; returns how many designations went out.  The recovery path
        after a crash between commit and publish (and the start of every run)."""
        rm = self.read_model
        after = await asyncio.to_thread(rm.published_position)
        if after and await self._bucket_is_new():
            after = 0  # a new (or emptied) bucket: every row goes out again, not just the recent ones
        upto = await asyncio.to_thread(rm.position)
        if upto <= after:
            self._published = self._published_saved = after
            return 0
        rows, audit = await asyncio.to_thread(rm.changed_since, after, upto)
        await self._publish(rows, audit, {})
        await asyncio.to_thread(rm.set_published_position, upto)
        self._published = self._published_saved = upto
        return len(rows)

    async def _bucket_is_new(self) -> bool:
        """The pool bucket holds nothing while the read model has designations: it was made
        anew (a home moved into the ledger's own account, a bucket deleted by an operator)."""
        status = await self._kv.status()
        return status.values == 0 and await asyncio.to_thread(self.read_model.has_rows, "designation")

    async def _publish(self, rows: list[Designation], audit: list[Any], stats: dict[Any, int]) -> None:
        """Designations into the KV bucket, then on their pool subjects; audit entries on
        theirs, statistics deltas on ``cultivation.stats``.

        The puts are acknowledged before any pool change goes out: whoever sees a change
        on a pool subject finds the row at least as new in the bucket."""
        if rows:
            await asyncio.gather(*(self._kv.put(kv_key(row), _enc.encode(row)) for row in rows))
        for row in rows:
            await self.nc.publish(pool_subject(row, self.names),
                                  _enc.encode(PoolChange(position=row.changed_at, designation=row)))
        for entry in audit:
            await self.nc.publish(f"{self.names.audit_prefix}.{entry.uscc}", _enc.encode(entry))
        if stats:
            await self.nc.publish(self.names.stats_subject, _enc.encode(
                [StatsDelta(province=p, tier=t, type=k, year=y, delta=n) for (p, t, k, y), n in stats.items()]))

    def _apply(self, msgs: list[Any], seqs: list[int]) -> tuple[int, int, BatchResult]:
        """Decode and apply a batch in one transaction (in a worker thread); the published
        position reached by the batches before rides along in the same commit."""
        events = self._decode(msgs)
        last = max(wire_decoder.decode(msgs[-1].data).position, max((p for p, _ in events), default=0))
        rm = self.read_model
        with rm._tx() as cur:
            before = rm._position(cur)
            if self._published > self._published_saved:
                rm._set_position(cur, self._published, PUBLISHED)
            result = rm.apply_batch(cur, events, last, stream_seq=seqs[-1])
        self._published_saved = max(self._published_saved, self._published)
        return before, max(last, before), result

    async def handle(self, msgs: list[Any]) -> None:
        """Apply a fetched batch once, commit it with the checkpoint, publish, then ack.

        What the commit changed is published straight from the batch's result.  The
        published position is saved with the next batch's commit (or when the stream is
        idle): after a crash, rows committed but perhaps not published are published again,
        which the KV bucket absorbs (same value) and pool subscribers see twice at most.
        """
        seqs = [m.metadata.sequence.stream for m in msgs]
        if seqs[0] != self._next_seq or seqs != list(range(seqs[0], seqs[0] + len(seqs))):
            raise OutOfOrder(f"expected stream sequence {self._next_seq}, got {seqs[0]}..{seqs[-1]}")
        before, upto, result = await asyncio.to_thread(self._apply, msgs, seqs)
        failpoint("projector.after_commit")
        if self._published < before:  # the start of a run left rows unpublished: the slow path
            await self.publish_changes()
        else:
            rows = sorted((cast(Designation, row) for kind, row in result.rows if kind == "designation"),
                          key=lambda d: (d.changed_at, d.key))
            await self._publish(rows, result.audit, result.stats)  # type: ignore[arg-type]
            self._published = upto
        self._next_seq = seqs[-1] + 1
        await msgs[-1].ack()  # AckPolicy.ALL: acknowledges the whole batch
        self.applied += len(msgs)

    async def _save_published(self) -> None:
        """The stream is idle: save the published position now rather than with a next batch."""
        if self._published > self._published_saved:
            upto = self._published
            await asyncio.to_thread(self.read_model.set_published_position, upto)
            self._published_saved = max(self._published_saved, upto)

    async def _next_batch(self) -> list[Any]:
        """The next messages: waits for one, then takes every other one already waiting
        (up to ``batch_size``) without waiting for the batch to fill.  How many wait is in
        the first one's delivery (``num_pending``): no round trip to ask the consumer."""
        first = await self._sub.fetch(1, timeout=self.fetch_timeout)
        waiting = min(first[0].metadata.num_pending, self.batch_size - 1)
        if waiting <= 0:
            return first
        return first + await self._sub.fetch(waiting, timeout=self.fetch_timeout)

    async def run(self, ready: asyncio.Event | None = None) -> None:
        from nats.errors import TimeoutError as NatsTimeout

        backoff = RETRY_FIRST
        while not self._stopping.is_set():
            try:
                if self._sub is None:
                    await self._subscribe()
                    await self.publish_changes()  # what a crash left unpublished
                    if ready:
                        ready.set()
                try:
                    msgs = await self._next_batch()
                except (TimeoutError, NatsTimeout):
                    await self._save_published()
                    continue
                if not msgs:
                    continue
                msgs.sort(key=lambda m: m.metadata.sequence.stream)
                await self.handle(msgs)
                backoff = RETRY_FIRST
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("projector: %s: %s; retrying", type(e).__name__, e)
                self._sub = None
                try:
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, RETRY_MAX)
        try:
            await self._save_published()
        except Exception as e:  # noqa: BLE001 - saved by the next run's first commit instead
            log.warning("projector: could not save the published position: %s", e)

    async def wait_for(self, position: int, timeout: float = 30.0) -> None:
        """Wait until the live read model has applied, and published, every event up to ``position``."""
        await wait_projected(self.read_model, position, timeout, published=lambda: self._published)

    def close(self) -> None:
        self.read_model.close()
