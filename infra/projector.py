"""Live projections: a durable JetStream consumer feeding the ``live`` read model.

For each fetched batch the projector

1. decodes the wire events back into domain events (the same bytes the store holds);
2. folds those after its checkpoint with the same pure functions the rebuild uses
   (:mod:`projections.pools`, :mod:`projections.audit`) and commits the rows, the audit
   entries, the statistics and the checkpoint in one database transaction;
3. publishes what changed since its *published* position: each changed designation
   into the KV bucket ``cultivation_pools`` and on
   ``cultivation.pool.<tier>.<province>.<city>.<county>``, each audit entry on
   ``cultivation.audit.<uscc>``, waits for the KV acknowledgements, and moves the
   published position; statistics deltas go out on ``cultivation.stats``;
4. acknowledges the messages.

A crash before the commit leaves the messages unacknowledged and the checkpoint where
it was: they are redelivered and applied once.  A crash after it redelivers events at or
before the checkpoint, which are skipped, and on restart the projector first publishes
every row changed after the published position (rows carry ``changed_at``), so nothing
committed goes unpublished.  The database lock is never held while talking to NATS.
So the live read model always equals a rebuild from zero.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

import msgspec
from eventsourcing.persistence import StoredEvent

from infra.failpoints import failpoint
from infra.nats import AUDIT_PREFIX, EVENTS_PREFIX, POOL_BUCKET, POOL_PREFIX, STATS_SUBJECT, STREAM
from infra.readmodel import SKIPPED_TOPICS, BatchResult, ReadModel
from infra.relay import wire_decoder
from projections.pools import Designation

log = logging.getLogger("cultivation.projector")
_enc = msgspec.json.Encoder()


class OutOfOrder(Exception):
    """A delivery that does not continue the stream where the checkpoint stands."""


class PoolChange(msgspec.Struct, frozen=True, kw_only=True):
    """A message on ``cultivation.pool.…``: the designation row as it now stands."""

    position: int
    designation: Designation


def kv_key(d: Designation) -> str:
    """KV key of a designation: ``<tier>.<uscc>.<digest of the application id>``."""
    return f"{d.tier}.{d.uscc}.{hashlib.sha1(d.key.encode()).hexdigest()[:16]}"


def pool_subject(d: Designation) -> str:
    r = d.region
    return f"{POOL_PREFIX}.{d.tier}.{r[:2]}0000.{r[:4]}00.{r}"


class LiveProjector:
    """Consumes ``CULTIVATION_EVENTS`` with the durable consumer ``durable``."""

    def __init__(self, ledger: Any, nc: Any, durable: str = "projector-pools", batch_size: int = 500,
                 prefix: str = "live", fetch_timeout: float = 1.0):
        self.ledger = ledger
        self.nc = nc
        self.js = nc.jetstream()
        self.durable = durable
        self.batch_size = batch_size
        self.fetch_timeout = fetch_timeout
        self.read_model = ReadModel(ledger, prefix=prefix, follows_store=False)
        self.applied = 0
        self._stopping = asyncio.Event()
        self._kv: Any = None
        self._sub: Any = None
        self._next_seq = 1

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

        self._kv = await self.js.key_value(POOL_BUCKET)
        seq = await asyncio.to_thread(self.read_model.stream_position)
        try:
            await self.js.delete_consumer(STREAM, self.durable)
        except NotFoundError:
            pass
        self._sub = await self.js.pull_subscribe(
            f"{EVENTS_PREFIX}.>", durable=self.durable, stream=STREAM,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
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
        move that position; returns how many designations went out.  Also the recovery
        path after a crash between commit and publish."""
        rm = self.read_model
        after = await asyncio.to_thread(rm.published_position)
        upto = await asyncio.to_thread(rm.position)
        if upto <= after:
            return 0
        rows, audit = await asyncio.to_thread(rm.changed_since, after, upto)
        puts = []
        for row in rows:
            puts.append(self._kv.put(kv_key(row), _enc.encode(row)))
            await self.nc.publish(pool_subject(row), _enc.encode(PoolChange(position=row.changed_at,
                                                                             designation=row)))
        for entry in audit:
            await self.nc.publish(f"{AUDIT_PREFIX}.{entry.uscc}", _enc.encode(entry))
        if puts:
            await asyncio.gather(*puts)
        await asyncio.to_thread(rm.set_published_position, upto)
        return len(rows)

    async def handle(self, msgs: list[Any]) -> None:
        """Apply a fetched batch once, commit it with the checkpoint, publish, then ack."""
        seqs = [m.metadata.sequence.stream for m in msgs]
        if seqs[0] != self._next_seq or seqs != list(range(seqs[0], seqs[0] + len(seqs))):
            raise OutOfOrder(f"expected stream sequence {self._next_seq}, got {seqs[0]}..{seqs[-1]}")
        events = await asyncio.to_thread(self._decode, msgs)
        last = max(wire_decoder.decode(msgs[-1].data).position, max((p for p, _ in events), default=0))
        rm = self.read_model

        def apply() -> BatchResult:
            with rm._tx() as cur:
                return rm.apply_batch(cur, events, last, stream_seq=seqs[-1])

        result = await asyncio.to_thread(apply)
        failpoint("projector.after_commit")
        await self.publish_changes()
        if result.stats:
            await self.nc.publish(STATS_SUBJECT, _enc.encode(
                [{"province": p, "tier": t, "type": k, "year": y, "delta": n}
                 for (p, t, k, y), n in result.stats.items()]))
        self._next_seq = seqs[-1] + 1
        for m in msgs:
            await m.ack()
        self.applied += len(events)

    async def run(self, ready: asyncio.Event | None = None) -> None:
        from nats.errors import TimeoutError as NatsTimeout

        backoff = 0.2
        while not self._stopping.is_set():
            try:
                if self._sub is None:
                    await self._subscribe()
                    await self.publish_changes()  # what a crash left unpublished
                    if ready:
                        ready.set()
                try:
                    msgs = await self._sub.fetch(self.batch_size, timeout=self.fetch_timeout)
                except (NatsTimeout, asyncio.TimeoutError):
                    continue
                if not msgs:
                    continue
                msgs.sort(key=lambda m: m.metadata.sequence.stream)
                await self.handle(msgs)
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("projector: %s: %s; retrying", type(e).__name__, e)
                self._sub = None
                try:
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                except asyncio.TimeoutError:
                    pass
                backoff = min(backoff * 2, 5.0)

    async def wait_for(self, position: int, timeout: float = 30.0) -> None:
        """Wait until the live read model has applied, and published, every event up to ``position``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        rm = self.read_model
        while min(await asyncio.to_thread(rm.position), await asyncio.to_thread(rm.published_position)) < position:
            if loop.time() > deadline:
                raise TimeoutError(f"live projection did not reach position {position}")
            await asyncio.sleep(0.05)

    def close(self) -> None:
        self.read_model.close()
