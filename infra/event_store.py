"""The ledger's bulk reads and writes of stored events, one adapter per SQL dialect.

The library's ``EventStore`` and ``Repository`` read one aggregate at a time; the ledger
decides a batch of commands against many aggregates, read at once.  What it needs of the
store beside the library's ports lives here, behind one interface, so the service layer
holds no SQL and asks no question about the dialect:

- :meth:`BulkEventStore.read_after`: the latest snapshot of the aggregates to be built
  afresh, and every aggregate's events after the version it starts from (two queries on
  one connection, per chunk of ids);
- :meth:`BulkEventStore.stored_versions`: the latest stored version of some aggregates;
- :meth:`BulkEventStore.insert`: stored events, the journal rows of the commands that
  produced them and the snapshots they make due, written in one transaction by the
  recorder itself (no recording or notification objects built for followers);
- :meth:`BulkEventStore.journal_entries`: the journal rows of some command ids, in one read;
- :meth:`BulkEventStore.fill_journal`: the upgrade of a store written before the journal
  had its table (its entries were ``HandledCommand`` events).

:func:`bulk_event_store` picks the adapter once, from the recorder's type:
:class:`SQLiteEventStore` or :class:`PostgresEventStore`.

The command journal is a table beside the events, ``<events table>_journal``: one row per
accepted command (:class:`JournalRow`), its id the primary key.  The recorders of the
ledger (:class:`JournalledSQLiteApplicationRecorder`,
:class:`JournalledPostgresApplicationRecorder`, the hash-chained ones of
:mod:`infra.integrity` plus that table) create it and insert the rows given to
``insert_events(..., journal=rows)`` in the events' transaction: a command id written
twice is refused like an event version written twice, with the library's ``IntegrityError``,
and nothing of the transaction is written.  Journal rows are not events: they are in no
notification, no hash chain, no stream.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import AggregateRecorder, ApplicationRecorder, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from infra.integrity import ChainedPostgresApplicationRecorder, ChainedSQLiteApplicationRecorder
from infra.store import read_rows, sql_table

# Ids per read: SQLite's bound on host parameters, and a statement of reasonable size.
CHUNK = 500
# Legacy journal events turned into rows per statement while a store is upgraded.
FILL_PAGE = 5000

Row = tuple[Any, int, str, Any]  # originator id (UUID or text), version, topic, state


class JournalRow(msgspec.Struct, frozen=True, array_like=True):
    """The journal entry of one accepted command, as its table holds it: what a repeated
    command id needs to be answered with the first outcome (``events``: that outcome's event
    references, JSON as the service layer encoded them), or refused when it names a
    different command (``digest``)."""

    command_id: str
    command: str
    digest: str
    events: bytes


def journal_table(events_table_name: str) -> str:
    """The journal's table beside an events table (unquoted).

    >>> journal_table("stored_events")
    'stored_events_journal'
    """
    return f"{events_table_name}_journal"


def _journal_params(rows: Iterable[JournalRow]) -> list[tuple[str, str, str, bytes]]:
    return [(r.command_id, r.command, r.digest, r.events) for r in rows]


# A snapshot is a cache of its aggregate at one version (the same state whoever takes it):
# one already stored at that version is left as it is.
_SNAPSHOT_CONFLICT = "ON CONFLICT (originator_id, originator_version) DO NOTHING"


class JournalledSQLiteApplicationRecorder(ChainedSQLiteApplicationRecorder):
    """The ledger's SQLite recorder: the chained one, plus the journal table, whose rows
    (``journal=``) are inserted in the events' transaction."""

    @property
    def journal_table(self) -> str:
        return journal_table(self.events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(),
                f"CREATE TABLE IF NOT EXISTS {self.journal_table} (command_id TEXT PRIMARY KEY, command TEXT NOT NULL, "
                f"digest TEXT NOT NULL, events BLOB NOT NULL) WITHOUT ROWID"]

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], *,
                       journal: Sequence[JournalRow] = (), snapshots: Sequence[StoredEvent] = (),
                       snapshots_table: str = "", **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if journal:
            c.executemany(f"INSERT INTO {self.journal_table} VALUES (?, ?, ?, ?)", _journal_params(journal))
        if snapshots:
            c.executemany(f"INSERT INTO {snapshots_table} VALUES (?, ?, ?, ?) {_SNAPSHOT_CONFLICT}",
                          [(s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
                           s.originator_version, s.topic, s.state) for s in snapshots])
        return ids


class JournalledPostgresApplicationRecorder(ChainedPostgresApplicationRecorder):
    """The ledger's PostgreSQL recorder: the chained one, plus the journal table, whose
    rows (``journal=``) are inserted in the events' transaction, after the events (so
    while it holds the events table's lock: writers of journal rows never wait on each
    other's rows but in the order that lock gives them)."""

    @property
    def journal_table(self) -> str:
        return journal_table(self.events_table_name)

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events"):
        from psycopg.sql import SQL, Identifier

        super().__init__(datastore, events_table_name=events_table_name)
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {schema}.{table} (command_id text PRIMARY KEY, command text NOT NULL, "
            "digest text NOT NULL, events bytea NOT NULL)").format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.journal_table)))

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if (kwargs.get("journal") or kwargs.get("snapshots")) and self.datastore.enable_db_functions:
            raise NotImplementedError("the command journal and the snapshots are not written through the database "
                                      "function (POSTGRES_ENABLE_DB_FUNCTIONS): leave it off")
        return super().insert_events(stored_events, **kwargs)

    def _write_journal(self, curs: Any, journal: Sequence[JournalRow], snapshots: Sequence[StoredEvent] = (),
                       snapshots_table: str = "") -> None:
        table = f'"{self.datastore.schema}"."{self.journal_table}"'
        # In the library's pipeline: a nested one syncs when it ends, so a command id that
        # is already there raises (IntegrityError) here, before the commit.  The snapshots
        # come after, still under the events table's lock: rival writers never wait for each
        # other's snapshot rows.
        with curs.connection.pipeline():
            if journal:
                curs.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s)", _journal_params(journal))
            if snapshots:
                curs.executemany(f"INSERT INTO {snapshots_table} VALUES (%s, %s, %s, %s) {_SNAPSHOT_CONFLICT}",
                                 [(s.originator_id, s.originator_version, s.topic, s.state) for s in snapshots])

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], *,
                       journal: Sequence[JournalRow] = (), **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        if journal and not stored_events:  # (no events: the library skips the step below)
            self._write_journal(curs, journal)

    def _fetch_ids_after_insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], *,
                                       journal: Sequence[JournalRow] = (), snapshots: Sequence[StoredEvent] = (),
                                       snapshots_table: str = "", **kwargs: Any) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if journal or snapshots:
            self._write_journal(curs, journal, snapshots, snapshots_table)
        return ids


class BulkEventStore(ABC):
    """What the ledger reads and writes in bulk on the store of ``recorder`` (the
    application's recorder; snapshots, if kept, are read from ``snapshot_recorder``'s
    table on the same database)."""

    def __init__(self, recorder: ApplicationRecorder, snapshot_recorder: AggregateRecorder | None = None):
        self.recorder: Any = recorder
        self.events_table = sql_table(recorder)
        self.journal_table = sql_table(recorder, journal_table(recorder.events_table_name))  # type: ignore[attr-defined]
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

    def aggregate_ids(self, limit: int) -> list[UUID]:
        """Up to ``limit`` ids of aggregates that have events, in the store's key order
        (for measurements that need some aggregates: ``benchmarks/cache.py``)."""
        rows = read_rows(self.recorder, f"SELECT DISTINCT originator_id FROM {self.events_table} "
                                        f"ORDER BY originator_id LIMIT ?", [limit])
        return [oid if isinstance(oid, UUID) else UUID(oid) for (oid,) in rows]

    def stored_versions(self, ids: Sequence[UUID]) -> dict[UUID, int]:
        """The latest stored version of each of ``ids`` that has any event, in one read."""
        if not ids:
            return {}
        rows = read_rows(self.recorder, f"SELECT originator_id, MAX(originator_version) FROM {self.events_table} "
                                        f"WHERE originator_id IN ({', '.join('?' * len(ids))}) GROUP BY originator_id",
                         [self._key(i) for i in ids])
        return {oid if isinstance(oid, UUID) else UUID(oid): version for oid, version in rows}

    def insert(self, stored_events: Sequence[StoredEvent], journal: Sequence[JournalRow] = (),
               snapshots: Sequence[StoredEvent] = ()) -> None:
        """Record ``stored_events``, the ``journal`` rows and the stored ``snapshots`` of
        aggregates those events brought to a snapshot's version, in one transaction: one
        commit (one ``fsync`` on SQLite) where the snapshots' own transaction after it made
        two, 7 % of a batch's time (issue 17).  The recorder refuses, with the library's
        ``IntegrityError``, a version or a command id that exists: nothing is then written,
        the snapshots neither.  A snapshot already stored at its version is kept."""
        if snapshots and self.snapshots_table is None:
            raise ValueError("this store keeps no snapshots")
        kwargs: dict[str, Any] = {}
        if journal:
            kwargs["journal"] = journal
        if snapshots:
            kwargs.update(snapshots=snapshots, snapshots_table=self.snapshots_table)
        self.recorder.insert_events(stored_events, **kwargs)

    def journal_entries(self, command_ids: Sequence[str]) -> dict[str, JournalRow]:
        """The journal rows of those of ``command_ids`` that were handled, one read per
        :data:`CHUNK` of them."""
        wanted = list(dict.fromkeys(command_ids))
        found: dict[str, JournalRow] = {}
        for i in range(0, len(wanted), CHUNK):
            chunk = wanted[i:i + CHUNK]
            rows = read_rows(self.recorder, f"SELECT command_id, command, digest, events FROM {self.journal_table} "
                                            f"WHERE command_id IN ({', '.join('?' * len(chunk))})", chunk)
            for cid, command, digest, events in rows:
                found[cid] = JournalRow(cid, command, digest, bytes(events))
        return found

    def journal_is_empty(self) -> bool:
        """Whether the journal table holds no row (a new store, or one to upgrade)."""
        return not read_rows(self.recorder, f"SELECT 1 FROM {self.journal_table} LIMIT 1", [])

    @abstractmethod
    def fill_journal(self, legacy_topic: str,
                     to_rows: Callable[[list[StoredEvent]], list[JournalRow]]) -> int | None:
        """Upgrade a store written while journal entries were events: if the journal table
        is empty, give it a row for each stored event of ``legacy_topic`` (``to_rows`` turns
        a page of them into rows), in one write transaction.  The events stay where they
        are.  Returns the rows written, or None when the table held rows already (a store
        is filled once, before its first command of the new kind: a second process
        upgrading it at the same time waits for the first, then does nothing)."""


class SQLiteEventStore(BulkEventStore):
    """:class:`BulkEventStore` on ``eventsourcing.sqlite``: ids are stored as hex text;
    both queries run in one read transaction."""

    def _key(self, oid: UUID) -> str:
        return oid.hex

    def _read_chunk(self, chunk: list[UUID], cold: list[UUID],
                    starts: Mapping[UUID, int]) -> tuple[list[StoredEvent], list[StoredEvent]]:
        floor = {oid: starts[oid] for oid in chunk}
        ids = {oid.hex: oid for oid in chunk}  # a row's id back to its UUID (``UUID(hex)`` is slow Python)
        snaps: list[StoredEvent] = []
        with self.recorder.datastore.transaction(commit=False) as cur:
            if cold:
                cur.execute(f"SELECT originator_id, originator_version, topic, state FROM {self.snapshots_table} "
                            f"WHERE originator_id IN ({','.join('?' * len(cold))}) "
                            f"ORDER BY originator_id, originator_version DESC", [u.hex for u in cold])
                snaps = self._latest([(ids[r[0]], r[1], r[2], r[3]) for r in cur.fetchall()], floor)
            # Only the events after each one's starting version, joined against (id, version) pairs.
            cur.execute(f"WITH w(id, v) AS (VALUES {','.join(['(?, ?)'] * len(floor))}) "
                        f"SELECT e.originator_id, e.originator_version, e.topic, e.state "
                        f"FROM w JOIN {self.events_table} e ON e.originator_id = w.id AND e.originator_version > w.v "
                        f"ORDER BY e.originator_id, e.originator_version",
                        [x for oid, v in floor.items() for x in (oid.hex, v)])
            rows = cur.fetchall()
        return snaps, [StoredEvent(originator_id=ids[oid], originator_version=version, topic=topic,
                                   state=state) for oid, version, topic, state in rows]

    def fill_journal(self, legacy_topic: str,
                     to_rows: Callable[[list[StoredEvent]], list[JournalRow]]) -> int | None:
        written = 0
        # The write transaction takes SQLite's write lock at once: a second process
        # upgrading the same file waits, then finds the rows and does nothing.
        with self.recorder.datastore.transaction(commit=True) as cur:
            cur.execute(f"DELETE FROM {self.journal_table} WHERE 0")  # a write: the lock is taken here
            cur.execute(f"SELECT 1 FROM {self.journal_table} LIMIT 1")
            if cur.fetchone():
                return None
            cur.execute(f"SELECT originator_id, originator_version, topic, state FROM {self.events_table} "
                        f"WHERE topic = ?", [legacy_topic])
            while page := cur.sqlite_cursor.fetchmany(FILL_PAGE):
                rows = to_rows([StoredEvent(originator_id=UUID(oid), originator_version=version, topic=topic,
                                            state=bytes(state)) for oid, version, topic, state in page])
                # (a second cursor: the first is still reading)
                cur.sqlite_cursor.connection.executemany(f"INSERT INTO {self.journal_table} VALUES (?, ?, ?, ?) "
                                                         f"ON CONFLICT DO NOTHING", _journal_params(rows))
                written += len(rows)
        return written


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

    def fill_journal(self, legacy_topic: str,
                     to_rows: Callable[[list[StoredEvent]], list[JournalRow]]) -> int | None:
        written = 0
        with self.recorder.datastore.transaction(commit=True) as curs:
            # Upgrades of one store take turns (and a command's journal rows wait for this one).
            curs.execute(f"LOCK TABLE {self.journal_table} IN EXCLUSIVE MODE")
            curs.execute(f"SELECT 1 FROM {self.journal_table} LIMIT 1")
            if curs.fetchone():
                return None
            curs.execute(f"SELECT originator_id, originator_version, topic, state FROM {self.events_table} "
                         f"WHERE topic = %s", [legacy_topic])
            events = [StoredEvent(originator_id=r["originator_id"], originator_version=r["originator_version"],
                                  topic=r["topic"], state=bytes(r["state"])) for r in curs.fetchall()]
            for i in range(0, len(events), FILL_PAGE):
                rows = to_rows(events[i:i + FILL_PAGE])
                curs.executemany(f"INSERT INTO {self.journal_table} VALUES (%s, %s, %s, %s) "
                                 f"ON CONFLICT DO NOTHING", _journal_params(rows))
                written += len(rows)
        return written


def bulk_event_store(recorder: ApplicationRecorder,
                     snapshot_recorder: AggregateRecorder | None = None) -> BulkEventStore:
    """The adapter for ``recorder``'s store, chosen by the recorder's type."""
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresEventStore(recorder, snapshot_recorder)
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SQLiteEventStore(recorder, snapshot_recorder)
    raise TypeError(f"the ledger keeps its events in SQLite or PostgreSQL, not with a {type(recorder).__name__}")
