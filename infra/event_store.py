"""The ledger's bulk reads and writes of stored events, one adapter per SQL dialect.

The library's ``EventStore`` and ``Repository`` read one aggregate at a time; the ledger
decides a batch of commands against many aggregates, read at once.  What it needs of the
store beside the library's ports lives here, behind one interface, so the service layer
holds no SQL and asks no question about the dialect:

- :meth:`BulkEventStore.read_after`: the latest snapshot of the aggregates to be built
  afresh, and every aggregate's events after the version it starts from (two queries on
  one connection, per chunk of ids);
- :meth:`BulkEventStore.stored_versions`: the latest stored version of some aggregates;
- :meth:`BulkEventStore.insert`: stored events written in one transaction by the
  recorder itself (no recording or notification objects built for followers).

:func:`bulk_event_store` picks the adapter once, from the recorder's type:
:class:`SQLiteEventStore` or :class:`PostgresEventStore`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, ApplicationRecorder, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from infra.store import read_rows, sql_table

# Ids per read: SQLite's bound on host parameters, and a statement of reasonable size.
CHUNK = 500

Row = tuple[Any, int, str, Any]  # originator id (UUID or text), version, topic, state


class BulkEventStore(ABC):
    """What the ledger reads and writes in bulk on the store of ``recorder`` (the
    application's recorder; snapshots, if kept, are read from ``snapshot_recorder``'s
    table on the same database)."""

    def __init__(self, recorder: ApplicationRecorder, snapshot_recorder: AggregateRecorder | None = None):
        self.recorder: Any = recorder
        self.events_table = sql_table(recorder)
        self.snapshots_table = sql_table(snapshot_recorder) if snapshot_recorder is not None else None

    def read_after(self, starts: Mapping[UUID, int],
                   snapshot_of: Collection[UUID] = ()) -> tuple[list[StoredEvent], list[StoredEvent]]:
        """The stored snapshots and events that bring the aggregates of ``starts`` up to date.

        ``starts`` gives each aggregate's version already known (0: none).  For an id of
        ``snapshot_of`` (each one's start must be 0) its latest snapshot, if it has one,
        is returned and becomes its start.  Then each aggregate's events after its start,
        in version order.  Per chunk of :data:`CHUNK` ids: one query finds the snapshots,
        one the events, on one connection.
        """
        wanted = list(starts)
        snapshot_set = set(snapshot_of)
        snapshots: list[StoredEvent] = []
        events: list[StoredEvent] = []
        for i in range(0, len(wanted), CHUNK):
            chunk = wanted[i:i + CHUNK]
            cold = [oid for oid in chunk if oid in snapshot_set] if self.snapshots_table else []
            snaps, rows = self._read_chunk(chunk, cold, starts)
            snapshots += snaps
            events += rows
        return snapshots, events

    @staticmethod
    def _latest(rows: Sequence[Row], floor: dict[UUID, int]) -> list[StoredEvent]:
        """The first (newest) snapshot row of each aggregate still at version 0 in
        ``floor``, as stored events; ``floor`` is raised to their versions."""
        latest = []
        for oid, version, topic, state in rows:  # newest first: each aggregate's latest
            uid = oid if isinstance(oid, UUID) else UUID(oid)
            if floor[uid]:
                continue
            latest.append(StoredEvent(originator_id=uid, originator_version=version, topic=topic, state=bytes(state)))
            floor[uid] = version
        return latest

    @abstractmethod
    def _read_chunk(self, chunk: list[UUID], cold: list[UUID],
                    starts: Mapping[UUID, int]) -> tuple[list[StoredEvent], list[StoredEvent]]:
        """:meth:`read_after` for one chunk: the snapshots of ``cold``, then the events."""

    @abstractmethod
    def _key(self, oid: UUID) -> Any:
        """An aggregate id as the store's ``originator_id`` column holds it."""

    def stored_versions(self, ids: Sequence[UUID]) -> dict[UUID, int]:
        """The latest stored version of each of ``ids`` that has any event, in one read."""
        if not ids:
            return {}
        rows = read_rows(self.recorder, f"SELECT originator_id, MAX(originator_version) FROM {self.events_table} "
                                        f"WHERE originator_id IN ({', '.join('?' * len(ids))}) GROUP BY originator_id",
                         [self._key(i) for i in ids])
        return {oid if isinstance(oid, UUID) else UUID(oid): version for oid, version in rows}

    def insert(self, stored_events: Sequence[StoredEvent]) -> None:
        """Record ``stored_events`` in one transaction (the recorder refuses, with the
        library's ``IntegrityError``, a version that exists: nothing is then written)."""
        self.recorder.insert_events(stored_events)


class SQLiteEventStore(BulkEventStore):
    """:class:`BulkEventStore` on ``eventsourcing.sqlite``: ids are stored as hex text;
    both queries run in one read transaction."""

    def _key(self, oid: UUID) -> str:
        return oid.hex

    def _read_chunk(self, chunk: list[UUID], cold: list[UUID],
                    starts: Mapping[UUID, int]) -> tuple[list[StoredEvent], list[StoredEvent]]:
        floor = {oid: starts[oid] for oid in chunk}
        snaps: list[StoredEvent] = []
        with self.recorder.datastore.transaction(commit=False) as cur:
            if cold:
                cur.execute(f"SELECT originator_id, originator_version, topic, state FROM {self.snapshots_table} "
                            f"WHERE originator_id IN ({','.join('?' * len(cold))}) "
                            f"ORDER BY originator_id, originator_version DESC", [u.hex for u in cold])
                snaps = self._latest([tuple(r) for r in cur.fetchall()], floor)
            # Only the events after each one's starting version, joined against (id, version) pairs.
            cur.execute(f"WITH w(id, v) AS (VALUES {','.join(['(?, ?)'] * len(floor))}) "
                        f"SELECT e.originator_id, e.originator_version, e.topic, e.state "
                        f"FROM w JOIN {self.events_table} e ON e.originator_id = w.id AND e.originator_version > w.v "
                        f"ORDER BY e.originator_id, e.originator_version",
                        [x for oid, v in floor.items() for x in (oid.hex, v)])
            rows = cur.fetchall()
        return snaps, [StoredEvent(originator_id=UUID(oid), originator_version=version, topic=topic,
                                   state=bytes(state)) for oid, version, topic, state in rows]


class PostgresEventStore(BulkEventStore):
    """:class:`BulkEventStore` on ``eventsourcing.postgres``: ids are ``uuid`` values;
    both queries run on one pooled connection, unprepared (see :meth:`_read_chunk`)."""

    def _key(self, oid: UUID) -> UUID:
        return oid

    def _read_chunk(self, chunk: list[UUID], cold: list[UUID],
                    starts: Mapping[UUID, int]) -> tuple[list[StoredEvent], list[StoredEvent]]:
        floor = {oid: starts[oid] for oid in chunk}
        snaps: list[StoredEvent] = []
        # prepare=False: psycopg prepares a statement after a few runs, and PostgreSQL's
        # generic plan for an array parameter was up to 10x slower than a custom one.
        with self.recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            if cold:
                curs.execute(f"SELECT DISTINCT ON (originator_id) originator_id, originator_version, topic, "
                             f"state FROM {self.snapshots_table} WHERE originator_id = ANY(%s) "
                             f"ORDER BY originator_id, originator_version DESC", (cold,), prepare=False)
                snaps = self._latest([(r["originator_id"], r["originator_version"], r["topic"], r["state"])
                                      for r in curs.fetchall()], floor)
            # Every event of these aggregates; those at or below each one's starting version
            # are skipped below, undecoded.  (Joining against (id, version) pairs made the
            # planner merge-join through the whole primary key index: 7x slower.)
            curs.execute(f"SELECT e.originator_id, e.originator_version, e.topic, e.state FROM {self.events_table} e "
                         f"WHERE e.originator_id = ANY(%s) ORDER BY e.originator_id, e.originator_version",
                         (list(floor),), prepare=False)
            rows = curs.fetchall()
        return snaps, [StoredEvent(originator_id=r["originator_id"], originator_version=r["originator_version"],
                                   topic=r["topic"], state=bytes(r["state"]))
                       for r in rows if r["originator_version"] > floor[r["originator_id"]]]


def bulk_event_store(recorder: ApplicationRecorder,
                     snapshot_recorder: AggregateRecorder | None = None) -> BulkEventStore:
    """The adapter for ``recorder``'s store, chosen by the recorder's type."""
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresEventStore(recorder, snapshot_recorder)
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SQLiteEventStore(recorder, snapshot_recorder)
    raise TypeError(f"the ledger keeps its events in SQLite or PostgreSQL, not with a {type(recorder).__name__}")
