"""The read model: projection rows in SQL tables beside the events, with a checkpoint.

The tables live in the same database as the event store (the SQLite file, or the
PostgreSQL database and schema).  :meth:`ReadModel.catch_up` reads the notification log
after the checkpoint in batches, folds each batch with the pure projection functions,
and writes the changed rows and the new checkpoint in one transaction: a crash repeats
nothing and skips nothing.  Queries first catch up, so they answer from every event
recorded so far.

A catch-up (and so a rebuild) reads only the topics the projections fold (the command
journal is skipped by the query; on SQLite as plain rows, see :func:`_page_reader`),
keeps the rows it folds in memory from batch to batch (bounded, least recently used
forgotten), and stores them with multi-row statements in a writer thread while it reads
and folds the next batch, in smaller batches near the head; each transaction first
checks that the checkpoint is the one its rows were folded from.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, lru_cache
from itertools import chain as chained
from itertools import islice, repeat
from operator import itemgetter
from typing import Any
from uuid import UUID

import msgspec

from domain.validity import approved_sql, designated_sql, first_approvals_sql, in_force_sql, newly_sql, valid_sql
from infra.heap import relaxed_gc
from infra.store import is_postgres, store_env
from projections.audit import AuditEntry, audit_values, tier_of
from projections.pools import (
    UNVERSIONED,
    BatchLine,
    Designation,
    EnterpriseRow,
    PoolMember,
    PoolState,
    Version,
    aggregate_key,
    batch_lines,
)
from projections.pools import fold as fold_pools
from projections.reviews import ReviewRow, ReviewState
from projections.reviews import fold as fold_review
from projections.rewards import BudgetRow, RewardRow, RewardState
from projections.rewards import handler_for as reward_fold

ROWS: dict[str, tuple[str, type[msgspec.Struct], str]] = {
    # kind: table suffix, row type, key column
    "enterprise": ("enterprises", EnterpriseRow, "enterprise_id"),
    "designation": ("designations", Designation, "key"),
    "member": ("pool_members", PoolMember, "key"),
    "reward": ("rewards", RewardRow, "key"),
    "budget": ("budgets", BudgetRow, "key"),
    "review": ("reviews", ReviewRow, "key"),
}
# Row kinds kept as versions over business time (projections.pools, "One time model"): the
# table of each holds the row's columns but UNVERSIONED ones, and ``until``; key (key, since).
VERSIONED = ("enterprise", "designation", "member")
# Row kinds loaded for a batch by the aggregate ids of its events: enterprise rows by
# enterprise_id, budgets by their own key (the SchemeBudget id).  Review rows are never
# loaded: no fold reads one back (each Reviewed event writes a row of its own).
LOAD_BY = {kind: ("key" if kind == "budget" else "enterprise_id") for kind in ROWS if kind != "review"}
# A catch-up keeps the rows of at most this many aggregates (enterprises, budgets) in memory
# between its batches; beyond it the least recently used are forgotten (and loaded again
# from the tables if they have another event).  Measured with tracemalloc on a store of
# 13,000 enterprises: about 2 KB of Python objects per enterprise (its row, designations,
# pool memberships, keys), so some 200 MB at the cap, whatever the size of the store.
CACHE_LIMIT = 100_000
# A catch-up commits after folding at least this many events (and at the end): fewer,
# larger transactions write a row changed by several events once; each holds SQLite's
# write lock for its writes only (some 0.2-0.4 s), the fold runs outside it.
COMMIT_EVERY = 25_000
# PostgreSQL: a catch-up analyzes its tables from this checkpoint on, each time it doubles
ANALYZE_FROM = 50_000
# Parameters of one multi-row INSERT: SQLite's default limit (PostgreSQL takes 65,535).
_MAX_PARAMETERS = 32_766
# PostgreSQL: from this many rows on, an INSERT goes through a binary COPY into a staging
# table (see ReadModel._insert).  Measured on 30,000 designation versions in transactions of
# 2,000 rows: 11-14 µs a row against 56-57 by unnest; in transactions of 10 or 100 rows the
# staging's two more round trips cost more than they save.
_COPY_FROM = 1_000
STATS_COLUMNS = ["province", "tier", "type", "year", "count"]
PROJECTION = "pools"
SKIPPED_TOPICS = frozenset({"services.ledger:HandledCommand.Handled"})
PUBLISHED = "pools.published"
STREAM_SEQ = "pools.stream_seq"
SCHEMA = "pools.schema"
# Raised whenever a projection gains row kinds or columns: a read model made by an older
# version is emptied on open and caught up again from the first event (see _create).
SCHEMA_VERSION = 5  # 4: designations keep approved_on, batch and recommended_batch; 5: enterprises keep chains
BOOL_COLUMNS = {"review_failed", "under_reconfirmation", "listed", "passed"}
INT_COLUMNS = {"changed_at", "batch", "recommended_batch", "year", "amount_fen", "clawed_back_fen", "tranche",
               "budget_fen", "spent_fen",
               "refunded_fen"}
AUDIT_COLUMNS = list(AuditEntry.__struct_fields__)


class BatchResult(msgspec.Struct):
    """What one applied batch changed: pool rows, audit entries, statistics deltas."""

    rows: list[tuple[str, msgspec.Struct]]
    audit: list[AuditEntry]
    stats: dict[tuple[str, str, str, int], int]


def _audit_sql(fields: list[Any]) -> list[Any]:
    """Audit entries' fields (flat, AUDIT_COLUMNS order) as SQL values: only ``corrects``
    (the last field of each) is not text."""
    values = fields.copy()
    n = len(AUDIT_COLUMNS)
    values[n - 1::n] = [None if c is None else str(c) for c in fields[n - 1::n]]
    return values


def _columns(row_type: type[msgspec.Struct]) -> list[str]:
    return list(row_type.__struct_fields__)


def _version_columns(row_type: type[msgspec.Struct]) -> list[str]:
    """The columns of a version table: the row's but those not versioned, then ``until``."""
    return [c for c in _columns(row_type) if c not in UNVERSIONED] + ["until"]


def index_sql(name: str, table: str, columns: str) -> str:
    """The statement making a secondary index of :meth:`ReadModel._indexes`: ``columns``, and
    where they end in ``WHERE …``, a partial index's condition.

    >>> index_sql("t_a", "t", "a, b")
    'CREATE INDEX IF NOT EXISTS t_a ON t (a, b)'
    >>> index_sql("t_ok", "t", "a WHERE status = 'approved'")
    "CREATE INDEX IF NOT EXISTS t_ok ON t (a) WHERE status = 'approved'"
    """
    cols, where, condition = columns.partition(" WHERE ")
    return f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({cols})" + (f" WHERE {condition}" if where else "")


def inside_sql(region: str) -> tuple[str, list[str]]:
    """Rows whose ``region`` is inside ``region``, as an SQL condition and its parameters:
    a range of codes, which an index on (…, region) serves (``LIKE 'prefix%'`` is not
    served by one in SQLite, so a province's pool read every version of its tier
    nationwide).  Codes are digits of one length: the range's end is the prefix plus one.

    >>> inside_sql("440000"), inside_sql("440300"), inside_sql("000000")
    (('region >= ? AND region < ?', ['44', '45']), ('region >= ? AND region < ?', ['4403', '4404']), ('1 = 1', []))
    >>> inside_sql("110109")
    ('region >= ? AND region < ?', ['110109', '110110'])
    """
    from domain.values import region_prefix

    prefix = region_prefix(region)
    if not prefix:
        return "1 = 1", []
    return "region >= ? AND region < ?", [prefix, str(int(prefix) + 1).zfill(len(prefix))]


@cache
def _versioned(row_type: type[msgspec.Struct]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """From a row's values (field order), those of its version table but ``until``: the
    row's columns but those not versioned (:data:`projections.pools.UNVERSIONED`).

    >>> from projections.pools import Designation
    >>> cols = _columns(Designation)
    >>> _versioned(Designation)(tuple(cols)) == tuple(_version_columns(Designation)[:-1])
    True
    """
    fields = row_type.__struct_fields__
    keep = [i for i, f in enumerate(fields) if f not in UNVERSIONED]
    if len(keep) == len(fields):
        return lambda values: values
    if len(keep) == 1:
        i = keep[0]
        return lambda values: (values[i],)
    return itemgetter(*keep)


def _rows(row_type: type[msgspec.Struct], cols: list[str], values: list[Any]) -> list[Any]:
    """Rows of ``row_type``, one from each of ``values`` (SQL values of ``cols``; booleans
    from SQLite integers), in order."""
    return _maker(row_type, tuple(cols))(values)


@cache
def _maker(row_type: type[msgspec.Struct], cols: tuple[str, ...]) -> Callable[[list[Any]], list[Any]]:
    """:func:`_rows` for one row type and column list, its work per row done in C: one dict
    per row (``map`` of ``zip``), then one ``msgspec.convert`` of the list (a province's pool
    makes thousands of rows: a comprehension per row, then a dict and a keyword call per row,
    took half its time).  Not strict: SQLite's 0 and 1 of a boolean column become booleans.
    ``until``, a version table's, is not a field of the row: it comes last or not at all.

    >>> from projections.pools import PoolMember
    >>> cols = _version_columns(PoolMember)
    >>> [m] = _maker(PoolMember, tuple(cols))([[f"x{i}" for i in range(len(cols))]])
    >>> (m.key, m.since)
    ('x0', 'x9')
    >>> from projections.pools import EnterpriseRow
    >>> cols = ["enterprise_id", "uscc", "name", "region", "listed"]
    >>> [e.listed for e in _maker(EnterpriseRow, tuple(cols))([["e", "u", "n", "r", 1], ["e", "u", "n", "r", 0]])]
    [True, False]
    """
    names = tuple(c for c in cols if c != "until")
    if "until" in cols and cols[-1] != "until":
        raise ValueError(f"until must be the last of the columns, not in {cols}")
    list_type = list[row_type]  # type: ignore[valid-type]

    def make(rows: list[Any]) -> list[Any]:
        # zip stops at the shorter: a version's ``until``, the last value, is left out
        return msgspec.convert(list(map(dict, map(zip, repeat(names), rows))), list_type, strict=False)

    return make


def _sqltype(column: str) -> str:
    """The SQL type of a column of the row, audit and statistics tables (those of the
    audit table but ``position`` are text)."""
    if column in BOOL_COLUMNS:
        return "BOOLEAN"
    return "BIGINT" if column in INT_COLUMNS or column in ("position", "count") else "TEXT"


def _targets(state: PoolState, rewards: RewardState, reviews: ReviewState) -> dict[str, dict[str, Any]]:
    """The rows of each kind a batch works on, keyed."""
    return {"enterprise": state.enterprises, "designation": state.designations, "member": state.members,
            "reward": rewards.rewards, "budget": rewards.budgets, "review": reviews.reviews}


def folded_topics() -> list[str]:
    """The topics of every event the projections fold: those of enterprises and scheme
    budgets (the command journal, :data:`SKIPPED_TOPICS`, feeds none).  A catch-up selects
    only these, so the journal's rows are skipped by the database, not read and dropped.
    Classes are found by subclassing, so an event class added to either aggregate is
    included; topics registered for renamed classes are too."""
    from eventsourcing import utils

    from domain.budget import SchemeBudget
    from domain.enterprise import Enterprise

    classes: set[type] = set()
    todo: list[type] = [Enterprise.Event, SchemeBudget.Event]
    while todo:
        cls = todo.pop()
        if cls not in classes:
            classes.add(cls)
            todo.extend(cls.__subclasses__())
    # An event class declared in the aggregate's body (``Enterprise.Approved``) is replaced there
    # by the library's subclass of it that ``@event`` makes, under the same name: the topic is
    # that subclass's (asking the library for the declared class's would clash with it).
    def replaced(cls: type) -> bool:
        subs: list[type] = cls.__subclasses__()
        return any((sub.__module__, sub.__qualname__) == (cls.__module__, cls.__qualname__) for sub in subs)

    topics = {utils.get_topic(cls) for cls in classes if not replaced(cls)}
    registered = getattr(utils, "_topic_cache", {})  # register_topic(): old names of renamed classes
    topics.update(t for t, obj in list(registered.items()) if isinstance(obj, type) and obj in classes)
    return sorted(topics - SKIPPED_TOPICS)


def _page_reader(ledger: Any, topics: list[str]) -> Callable[[int, int, int], list[tuple[int, Any, str]]]:
    """``read(start, stop, limit)``: at most ``limit`` events of ``topics`` at positions
    ``start`` to ``stop``, in order, as (position, domain event, aggregate key).

    On SQLite (ids stored as ``UUID.hex``) one query for plain tuples, as the relay reads
    the log, decoded by the ledger's mapper: the recorder's ``select_notifications`` makes
    a ``sqlite3.Row``, a ``UUID`` and a frozen ``Notification`` of every row, which took
    longer than the query and the decoding together.  Elsewhere ``select_notifications``."""
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    recorder, decode = ledger.recorder, ledger.mapper.to_domain_event
    if not (isinstance(recorder, SQLiteApplicationRecorder)
            and getattr(recorder.datastore, "originator_id_type", "uuid") == "uuid"):
        def select_notifications(start: int, stop: int, limit: int) -> list[tuple[int, Any, str]]:
            keyed = []
            for note in recorder.select_notifications(start=start, limit=limit, stop=stop, topics=topics):
                ev = decode(note)
                keyed.append((note.id, ev, aggregate_key(ev.originator_id)))
            return keyed

        return select_notifications

    datastore = recorder.datastore
    sql = (f"SELECT rowid, originator_id, originator_version, topic, state FROM {recorder.events_table_name} "
           f"WHERE rowid >= ? AND rowid <= ? AND topic IN ({', '.join('?' * len(topics))}) ORDER BY rowid LIMIT ?")

    def select(start: int, stop: int, limit: int) -> list[tuple[int, Any, str]]:
        with datastore.transaction(commit=False) as cur:
            raw = getattr(cur, "sqlite_cursor", None)
            if raw is not None:
                raw.row_factory = None  # plain tuples: cheaper to make and to unpack than sqlite3.Row
            cur.execute(sql, (start, stop, *topics, limit))
            rows = cur.fetchall()
        keyed = []
        for position, hex_id, version, topic, state in rows:
            oid, key = _aggregate_id(hex_id)
            keyed.append((position, decode(StoredEvent(originator_id=oid, originator_version=version, topic=topic,
                                                       state=state)), key))
        return keyed

    return select


@lru_cache(maxsize=65536)
def _aggregate_id(hex_id: str) -> tuple[UUID, str]:
    """The aggregate id stored as ``UUID.hex`` and its key (``str(UUID)``), made once for
    the many events of an aggregate (cached: ``UUID()`` is slow Python code)."""
    oid = UUID(hex_id)
    return oid, str(oid)


class _Rows:
    """The rows a fold works on, and what is known of the tables they come from.

    :meth:`ReadModel.apply_batch` starts each batch with empty rows and loads those of the
    batch's aggregates.  A catch-up keeps one ``_Rows`` across its batches: the rows stay
    in memory between them, so a batch loads only the aggregates not yet held.
    ``position`` is the checkpoint the rows stand for once the writes handed over so far
    commit; a write (or a load) that finds another checkpoint in the tables (another writer
    went on) drops them, and so does any failure.  ``complete``: the tables held no row
    when these rows were started, so an aggregate never seen has no row to load (a rebuild
    loads nothing), and only those forgotten (``evicted``) have to be read back.
    """

    def __init__(self, limit: int | None = None):
        self.limit = limit
        self.reset()

    def reset(self, position: int = -1) -> None:
        self.pools, self.rewards, self.reviews = PoolState(), RewardState(), ReviewState()
        self.loaded: dict[str, None] = {}  # aggregates whose rows are all held, least recently used first
        self.evicted: set[str] = set()
        self.complete = False
        self.position = position
        self.stored = position  # the checkpoint before the write in flight, if one is

    def evict(self, writing: set[str] | frozenset[str] = frozenset()) -> None:
        """Beyond ``limit`` aggregates, forget the rows of the least recently used (to 3/4
        of it), but those of ``writing``, the aggregates whose rows the write in flight
        stores: every aggregate forgotten is then in the tables as committed, and reading
        it back need not wait for that write.  Only between batches: the rows held are then
        clean (stored, or being stored)."""
        if self.limit is None or len(self.loaded) <= self.limit:
            return
        gone = set(islice((oid for oid in self.loaded if oid not in writing),
                          len(self.loaded) - self.limit * 3 // 4))
        for oid in gone:
            del self.loaded[oid]
            self.pools.forget(oid)
        self.rewards.forget(gone)
        if self.complete:
            self.evicted |= gone


class _Batch:
    """What the events folded since the last commit add: audit entries and statistics
    deltas (the changed rows are the ``dirty`` marks of the rows).  The entries' fields
    are kept in one flat list, an entry after another, not a tuple each: a tuple per event
    kept until the commit is one more object for each pass of the cyclic GC to trace."""

    def __init__(self) -> None:
        self.audit: list[Any] = []  # AUDIT_COLUMNS of each entry, one after another
        self.stats: dict[tuple[str, str, str, int], int] = {}
        self.events = 0


class _Write:
    """SQL values to store, each table's a flat list (its columns, a row after another):
    changed rows by kind, audit entries, statistics deltas."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Any]] = {}
        self.versions: dict[str, list[Any]] = {}  # by kind, version-table columns
        self.refolded: list[str] = []  # enterprises whose stored versions are all replaced
        self.aggregates: set[str] = set()  # the aggregates (enterprises, budgets) of the rows
        self.changed: list[tuple[str, msgspec.Struct]] = []  # the row objects (apply_batch's result)
        self.audit: list[Any] = []
        self.stats: list[Any] = []


class _Writer:
    """A catch-up's write transactions, each in a thread of its own while the next pages
    are read and folded; at most one in flight, so they commit in order.  The database
    does the work of a statement without the GIL (see ``ReadModel._insert``)."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        self.join()

        def run() -> None:
            try:
                fn(*args)
            except BaseException as e:  # re-raised by join() in the catch-up's thread
                self._error = e

        self._thread = threading.Thread(target=run, name="readmodel-writer", daemon=True)
        self._thread.start()

    def join(self, raising: bool = True) -> None:
        """Wait for the write in flight; raise what it raised."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        error, self._error = self._error, None
        if error is not None and raising:
            raise error


class _Moved(Exception):
    """The checkpoint is not the one the rows held were folded from: another writer."""


class ReadModel:
    """Pool rows and their checkpoint in the ledger's own database.

    ``prefix`` names the table set: ``rm`` is the read model the CLI queries, caught up
    from the store; ``live`` is the one the stream-fed projector keeps (``cultivation
    serve``), so the two can be compared row by row.
    """

    def __init__(self, ledger: Any, batch_size: int = 5000, prefix: str = "rm", follows_store: bool = True,
                 target: str | None = None, cache_limit: int = CACHE_LIMIT, commit_every: int = COMMIT_EVERY):
        """``target`` puts the tables in another SQLite file (or ``:memory:``) instead of the
        ledger's database: an auditor's scratch read model (as recorded at T, replays).
        A catch-up reads pages of ``batch_size`` events, commits every ``commit_every``
        events, and keeps the rows of at most ``cache_limit`` aggregates between commits."""
        self.ledger = ledger
        self.follows_store = follows_store  # queries first catch up from the store
        self.batch_size = batch_size
        self.cache_limit = cache_limit
        self._statements: dict[tuple[str, int, str], str] = {}  # multi-row INSERTs by table and rows
        self._copy_types: dict[str, list[int]] = {}  # PostgreSQL: column type oids of each staging table
        self.copy_from = _COPY_FROM  # PostgreSQL: rows from which an INSERT is a COPY (tests set 1)
        self.commit_every = max(batch_size, commit_every)
        self.analyze_from = ANALYZE_FROM
        self._analyzed = 0  # the checkpoint of this process's last ANALYZE (PostgreSQL)
        self.prefix = prefix
        self._lock = threading.RLock()
        self.tables = {kind: (f"{prefix}_{suffix}", row_type, key) for kind, (suffix, row_type, key) in ROWS.items()}
        self.pg = target is None and is_postgres(ledger.store)
        env = store_env(ledger.store) if target is None else {"SQLITE_DBNAME": target}
        self._dbname = env.get("SQLITE_DBNAME", "")
        if self.pg:
            import psycopg

            self.schema = env.get("POSTGRES_SCHEMA")
            self.conn: Any = psycopg.connect(host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]),
                                             dbname=env["POSTGRES_DBNAME"], user=env["POSTGRES_USER"],
                                             password=env["POSTGRES_PASSWORD"] or None, autocommit=False)
            if self.schema:
                with self.conn.cursor() as cur:
                    cur.execute(f'SET search_path TO "{self.schema}"')
                self.conn.commit()
        else:
            self.conn = sqlite3.connect(env["SQLITE_DBNAME"], timeout=30, isolation_level=None,
                                        check_same_thread=False)
            if env["SQLITE_DBNAME"] != ":memory:":
                self.conn.execute("PRAGMA journal_mode=WAL")
        self._create()

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------------ SQL plumbing
    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.pg else statement

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[Any]:
        """One transaction on the read model's connection; threads take turns.  Not
        ``write``: a read-only one (SQLite: no write lock taken)."""
        with self._lock:
            yield from self._tx_unlocked(write)

    def _tx_unlocked(self, write: bool = True) -> Iterator[Any]:
        if self.pg:
            with self.conn.cursor() as cur:
                try:
                    yield cur
                    self.conn.commit()
                except BaseException:
                    self.conn.rollback()
                    raise
        else:
            cur = self.conn.cursor()
            cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def _create(self) -> None:
        """Make what is missing of the tables and indexes (all of them for a new read model or
        one of an older schema version), and drop the indexes no longer kept.  What exists
        is found in the catalog and left alone: on PostgreSQL ``CREATE INDEX IF NOT EXISTS``
        locks its table before it finds the index there, so a reader opening the live read
        model while the projector wrote into it (the benchmark, serve's shutdown) deadlocked
        with the projector's transaction.  Nor does the open of one in place take a write
        lock (SQLite: it queued behind the projector's commits)."""
        p = self.prefix
        retired = (f"{p}_designations_v_tier",  # (tier, region): now _v_valid
                   f"{p}_designations_v_on",  # (tier, region, since, until): now _v_valid
                   f"{p}_designations_v_pool",  # without level, programme, key: now _v_valid
                   f"{p}_designations_v_pools")  # every status: now _v_valid, the approved versions
        wanted = {f"{p}_checkpoints", f"{p}_audit", f"{p}_stats", *self._row_tables(), *self._indexes()}
        with self._tx(write=False) as cur:
            made = self._relations(cur)
            if wanted <= made and not made.intersection(retired) and self._position(cur, SCHEMA) >= SCHEMA_VERSION:
                return
        with self._tx() as cur:
            made = self._relations(cur)

            def create(name: str, statement: str) -> None:
                if name not in made:
                    cur.execute(statement)

            create(f"{p}_checkpoints",
                   f"CREATE TABLE IF NOT EXISTS {p}_checkpoints (projection TEXT PRIMARY KEY, position BIGINT)")
            if self._position(cur, SCHEMA) < SCHEMA_VERSION:
                # Made by an older projection (or new): start again from the first event.
                for table in self._row_tables() + [f"{p}_audit", f"{p}_stats"]:
                    cur.execute(f"DROP TABLE IF EXISTS {table}")
                cur.execute(f"DELETE FROM {p}_checkpoints")
                self._set_position(cur, SCHEMA_VERSION, SCHEMA)
                made = self._relations(cur)
            for table, row_type, key in self.tables.values():
                cols = []
                for name in _columns(row_type):
                    cols.append(f"{name} {_sqltype(name)}{' PRIMARY KEY' if name == key else ''}")
                create(table, f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(cols)})")
            for kind in VERSIONED:
                table, row_type, key = self.tables[kind]
                cols = [f"{name} {_sqltype(name)}" for name in _version_columns(row_type)]
                create(f"{table}_v",
                       f"CREATE TABLE IF NOT EXISTS {table}_v ({', '.join(cols)}, PRIMARY KEY ({key}, since))")
            cols = ", ".join(f"{c} {'BIGINT PRIMARY KEY' if c == 'position' else 'TEXT'}" for c in AUDIT_COLUMNS)
            create(f"{p}_audit", f"CREATE TABLE IF NOT EXISTS {p}_audit ({cols})")
            create(f"{p}_stats", f"CREATE TABLE IF NOT EXISTS {p}_stats (province TEXT, tier TEXT, type TEXT, "
                                 f"year INTEGER, count BIGINT, PRIMARY KEY (province, tier, type, year))")
            for old in retired:
                if old in made:
                    cur.execute(f"DROP INDEX IF EXISTS {old}")
            for name, (table, columns, _) in self._indexes().items():
                create(name, index_sql(name, table, columns))

    def _relations(self, cur: Any) -> set[str]:
        """The names of the tables and indexes in the read model's database (on PostgreSQL, in
        its schema), from the catalog: no lock on any of them."""
        if self.pg:
            cur.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = current_schema()")
        else:
            cur.execute("SELECT name FROM sqlite_master")
        return {r[0] for r in cur.fetchall()}

    def _indexes(self) -> dict[str, tuple[str, str, bool]]:
        """The secondary indexes of the tables: name -> (table, columns, whether only queries
        use it).  A catch-up reads the tables by key and by ``enterprise_id`` (an evicted
        aggregate's rows, an enterprise's versions replaced by a refold); the others serve
        queries only, and a rebuild makes those after its last write (see :meth:`rebuild`)."""
        p = self.prefix
        out: dict[str, tuple[str, str, bool]] = {}
        for kind in VERSIONED:
            table = self.tables[kind][0]
            out[f"{table}_v_ent"] = (f"{table}_v", "enterprise_id", False)
            out[f"{table}_v_since"] = (f"{table}_v", "since", True)
        out.update({
            # a pool as of a date within a region: read in the pool's order (region, uscc,
            # application_id: no sort of whole rows), with the version's dates and the columns
            # of rule 4 (domain.validity.valid_sql) in the index, so that only the versions in
            # force and valid are read from the table (a province's tier has some five times as
            # many versions as rows in force on a date, and half of those are valid); with the
            # level, the programme and the key too, a page of the pool finds its keys, and the
            # pool's size, in the index alone (ReadModel.pool_page).  Partial: approved
            # versions only, the only ones a pool or a count of designations reads (both
            # conditions begin with approved_sql): 46,480 of Guangdong's 209,547 innovative
            # versions on the national store, where the whole index made a page's keys read
            # every one of them (87 ms on PostgreSQL; 17 ms partial)
            f"{p}_designations_v_valid": (f"{p}_designations_v", "tier, region, uscc, application_id, since, until, "
                                          "valid_from, valid_until, revoked_on, ended_on, level, programme, key "
                                          f"WHERE {approved_sql()}", True),
            # every version in a region (the report's chart, ReadModel.versions): without it a
            # city's report walked all the versions in key order (3.2 s of a national store's
            # 3.6 s for Shenzhen; 1.3 s with it)
            f"{p}_designations_v_region": (f"{p}_designations_v", "region", True),
            f"{p}_designations_tier": (f"{p}_designations", "tier, level, region", True),
            f"{p}_designations_ent": (f"{p}_designations", "enterprise_id", False),
            f"{p}_designations_changed": (f"{p}_designations", "changed_at", True),
            f"{p}_pool_members_ent": (f"{p}_pool_members", "enterprise_id", False),
            f"{p}_rewards_ent": (f"{p}_rewards", "enterprise_id", False),
            f"{p}_reviews_ent": (f"{p}_reviews", "enterprise_id", True),
            f"{p}_audit_uscc": (f"{p}_audit", "uscc, position", True),
        })
        return out

    def position(self) -> int:
        with self._tx(write=False) as cur:
            return self._position(cur)

    def _position(self, cur: Any, name: str = PROJECTION, lock: bool = False) -> int:
        """A checkpoint; ``lock``: hold its row until the transaction ends (PostgreSQL: a
        second writer waits, then reads the position the first one committed)."""
        lock_row = " FOR UPDATE" if lock and self.pg else ""
        cur.execute(self._sql(f"SELECT position FROM {self.prefix}_checkpoints WHERE projection = ?{lock_row}"),
                    (name,))
        row = cur.fetchone()
        return int(row[0]) if row else 0

    def _set_position(self, cur: Any, position: int, name: str = PROJECTION) -> None:
        cur.execute(self._sql(f"INSERT INTO {self.prefix}_checkpoints (projection, position) VALUES (?, ?) "
                              "ON CONFLICT (projection) DO UPDATE SET position = excluded.position"),
                    (name, position))

    def published_position(self) -> int:
        """Position up to which changes were published (``serve``'s projector)."""
        with self._tx(write=False) as cur:
            return self._position(cur, PUBLISHED)

    def set_published_position(self, position: int) -> None:
        with self._tx() as cur:
            self._set_position(cur, position, PUBLISHED)

    def changed_since(self, after: int, upto: int) -> tuple[list[Designation], list[AuditEntry]]:
        """Designations and audit entries changed by events in ``(after, upto]``."""
        cols = _columns(Designation)
        with self._tx(write=False) as cur:
            cur.execute(self._sql(f"SELECT {', '.join(cols)} FROM {self.prefix}_designations "
                                  f"WHERE changed_at > ? AND changed_at <= ? ORDER BY changed_at, key"),
                        (after, upto))
            rows = _rows(Designation, cols, cur.fetchall())
            cur.execute(self._sql(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM {self.prefix}_audit "
                                  f"WHERE position > ? AND position <= ? ORDER BY position"), (after, upto))
            audit = [msgspec.convert(dict(zip(AUDIT_COLUMNS, r)), AuditEntry, strict=False)
                     for r in cur.fetchall()]
        return rows, audit

    def _load(self, cur: Any, rows: _Rows, aggregate_ids: list[str]) -> None:
        """Load the rows of the aggregates ``aggregate_ids`` (enterprises and budgets)."""
        state, rewards = rows.pools, rows.rewards
        add = {"enterprise": lambda r: state.enterprises.__setitem__(r.enterprise_id, r),
               "designation": state.add_designation, "member": state.add_member,
               "reward": lambda r: rewards.rewards.__setitem__(r.key, r),
               "budget": lambda r: rewards.budgets.__setitem__(r.key, r)}
        for i in range(0, len(aggregate_ids), 500):
            chunk = aggregate_ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for kind, by in LOAD_BY.items():
                table, row_type, key = self.tables[kind]
                cols = _columns(row_type)
                cur.execute(self._sql(f"SELECT {', '.join(cols)} FROM {table} WHERE {by} IN ({marks})"), chunk)
                for row in _rows(row_type, cols, cur.fetchall()):
                    add[kind](row)

    def _empty(self, cur: Any) -> bool:
        """No row in any row table (a fresh or just emptied read model)."""
        for table, _, _ in self.tables.values():
            cur.execute(f"SELECT 1 FROM {table} LIMIT 1")
            if cur.fetchone() is not None:
                return False
        return True

    def _take(self, rows: _Rows, batch: _Batch, changed: bool = False) -> _Write:
        """What to store of the events folded into ``rows`` and ``batch`` since the last
        take: the changed rows as column tuples (taken now: the fold goes on changing the
        row objects), the audit entries and statistics.  Clears the changed marks."""
        state, rewards, reviews = rows.pools, rows.rewards, rows.reviews
        targets = _targets(state, rewards, reviews)
        write = _Write()
        astuple = msgspec.structs.astuple
        # Version-table values of each version, by (kind, key, since): those the fold closed,
        # then the one each changed row now stands as, open-ended (it replaces a closed one of
        # the same start).  Taken as tuples here, once per row: a national history changes
        # about one row per event, so this loop runs for nearly every event folded.
        versions: dict[tuple[str, str, str], tuple[Any, ...]] = {
            k: (*_versioned(type(v.row))(astuple(v.row)), v.until) for k, v in state.versions.items()}
        # the changed rows by kind, each kind's in key order (strings sort faster than the
        # (kind, key) pairs); an enterprise whose only change is ``dated_to`` stores its row,
        # not its version again (the version holds no ``dated_to``)
        dirty: dict[str, list[str]] = {}
        for kind, key_value in chained(state.dirty, rewards.dirty, reviews.dirty):
            dirty.setdefault(kind, []).append(key_value)
        dated = state.dated.difference(dirty.get("enterprise", ()))
        if dated:
            dirty.setdefault("enterprise", []).extend(dated)
        for kind in sorted(dirty):
            keys = dirty[kind]
            keys.sort()
            table = targets[kind]
            out = write.rows.setdefault(kind, [])
            cut = _versioned(self.tables[kind][1]) if kind in VERSIONED else None
            for key_value in keys:
                row = table[key_value]
                values = astuple(row)  # columns in field order
                out.extend(values)
                if cut is not None and key_value not in dated:
                    versions[(kind, key_value, row.since)] = (*cut(values), None)
                if changed:
                    write.changed.append((kind, row))
            if kind in ("enterprise", "budget"):
                write.aggregates.update(keys)
            else:
                write.aggregates.update(table[k].enterprise_id for k in keys)
        for (kind, _, _), vvalues in sorted(versions.items()):
            write.versions.setdefault(kind, []).extend(vvalues)
        state.versions.clear()
        write.refolded = sorted(state.refolded)
        state.refolded.clear()
        state.dirty.clear()
        state.dated.clear()
        rewards.dirty.clear()
        reviews.dirty.clear()
        reviews.reviews.clear()  # stored; never read back by a fold
        write.audit = _audit_sql(batch.audit)
        write.stats = [value for key, n in batch.stats.items() for value in (*key, n)]
        return write

    def _put(self, cur: Any, write: _Write, checkpoint: int, stream_seq: int | None = None) -> None:
        """Store ``write`` and move the checkpoint, in transaction ``cur``."""
        for i in range(0, len(write.refolded), 500):
            chunk = write.refolded[i:i + 500]
            for kind in VERSIONED:
                cur.execute(self._sql(f"DELETE FROM {self.tables[kind][0]}_v WHERE enterprise_id IN "
                                      f"({','.join('?' * len(chunk))})"), chunk)
        for kind, values in write.versions.items():
            table, row_type, key = self.tables[kind]
            cols = _version_columns(row_type)
            updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in (key, "since"))
            self._insert(cur, f"{table}_v", cols, values, f"ON CONFLICT ({key}, since) DO UPDATE SET {updates}")
        for kind, values in write.rows.items():
            table, row_type, key = self.tables[kind]
            cols = _columns(row_type)
            updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key)
            self._insert(cur, table, cols, values, f"ON CONFLICT ({key}) DO UPDATE SET {updates}")
        if write.audit:
            self._insert(cur, f"{self.prefix}_audit", AUDIT_COLUMNS, write.audit, "ON CONFLICT (position) DO NOTHING")
        if write.stats:
            self._insert(cur, f"{self.prefix}_stats", STATS_COLUMNS, write.stats,
                         f"ON CONFLICT (province, tier, type, year) "
                         f"DO UPDATE SET count = {self.prefix}_stats.count + excluded.count")
        self._set_position(cur, checkpoint)
        if stream_seq is not None:
            self._set_position(cur, stream_seq, STREAM_SEQ)

    def _insert(self, cur: Any, table: str, cols: list[str], values: list[Any], conflict: str) -> None:
        """INSERT rows of unique keys, ``values`` being their ``cols`` one row after another,
        with few statements of many rows each: one call into the database per statement,
        not one per row (a catch-up's writer thread also lets go of the GIL for the whole
        statement).  SQLite: multi-row VALUES of a power of two rows (few distinct
        statements to prepare and cache), their parameters a slice of ``values``;
        PostgreSQL: one array per column, unnested (a short statement: the driver parses
        it once); from ``copy_from`` rows on (a catch-up's commits), a binary COPY into a
        staging table, then one INSERT … SELECT of them, which empties it."""
        width = len(cols)
        if self.pg and len(values) >= self.copy_from * width:
            self._insert_copied(cur, table, cols, values, conflict)
            return
        if self.pg:
            arrays = ", ".join(f"%s::{_sqltype(c)}[]" for c in cols)
            cur.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT * FROM unnest({arrays}) {conflict}",
                        [values[j::width] for j in range(width)])
            return
        limit = max(1, _MAX_PARAMETERS // width)
        i, n = 0, len(values) // width
        while i < n:
            size = 1 << (min(n - i, limit).bit_length() - 1)
            statement = self._statements.get((table, size, conflict))
            if statement is None:
                one = f"({', '.join('?' * width)})"
                statement = f"INSERT INTO {table} ({', '.join(cols)}) VALUES {', '.join([one] * size)} {conflict}"
                self._statements[(table, size, conflict)] = statement
            cur.execute(statement, values[i * width:(i + size) * width])
            i += size

    def _insert_copied(self, cur: Any, table: str, cols: list[str], values: list[Any], conflict: str) -> None:
        """PostgreSQL: the rows of :meth:`_insert` by a binary COPY into a temporary table of
        the same columns (this connection's; made when missing, emptied at each commit), then
        moved into ``table`` by one statement that deletes them from the staging table, so
        a second call in the same transaction starts from an empty one.  The unnest of
        :meth:`_insert` measured four to five times as much per row at these sizes (see
        ``_COPY_FROM``; where its time goes was not profiled)."""
        stage = f"{table}__copy"
        names = ", ".join(cols)
        cur.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DELETE ROWS")
        types = self._copy_types.get(stage)
        if types is None:
            cur.execute(f"SELECT {names} FROM {stage} LIMIT 0")
            types = self._copy_types[stage] = [column.type_code for column in cur.description]
        width = len(cols)
        with cur.copy(f"COPY {stage} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for i in range(0, len(values), width):
                copy.write_row(values[i:i + width])
        cur.execute(f"WITH moved AS (DELETE FROM {stage} RETURNING {names}) "
                    f"INSERT INTO {table} ({names}) SELECT {names} FROM moved {conflict}")

    def stream_position(self) -> int:
        """Stream sequence of the last message applied (stream-fed read models)."""
        with self._tx(write=False) as cur:
            return self._position(cur, STREAM_SEQ)

    def apply_batch(self, cur: Any, events: list[tuple[int, Any]], position: int,
                    stream_seq: int | None = None) -> BatchResult:
        """Inside transaction ``cur``: fold ``(position, event)`` pairs after the checkpoint,
        store the changed rows, audit entries and statistics, and move the checkpoint to
        ``position``.  Events at or before the checkpoint are skipped: applied at most once."""
        after = self._position(cur)
        rows = _Rows()
        self._start(cur, rows, after)
        keyed = [(p, e, aggregate_key(e.originator_id)) for p, e in events if p > after]
        self._prepare(cur, rows, keyed)
        batch = _Batch()
        self._fold(rows, keyed, batch)
        write = self._take(rows, batch, changed=True)
        self._put(cur, write, max(position, after), stream_seq)
        width = len(AUDIT_COLUMNS)
        return BatchResult(rows=write.changed, stats=batch.stats,
                           audit=[AuditEntry(**dict(zip(AUDIT_COLUMNS, batch.audit[i:i + width])))
                                  for i in range(0, len(batch.audit), width)])

    def _start(self, cur: Any, rows: _Rows, position: int) -> None:
        """Start ``rows`` afresh as those of the tables at checkpoint ``position``."""
        rows.reset(position)
        rows.complete = position == 0 and self._empty(cur)

    def _prepare(self, cur: Any | None, rows: _Rows, keyed: list[tuple[int, Any, str]],
                 settle: Callable[[], None] | None = None, reader: Any | None = None) -> None:
        """Make sure ``rows`` hold every row of the aggregates of ``keyed`` events (position,
        event, aggregate key): load those not held (with ``cur``; else on ``reader``, a
        connection of its own, without waiting for the write in flight, which stores none of
        them (see :meth:`_Rows.evict`); else in a read transaction of its own, after
        ``settle``: the write in flight is committed), mark them most recently used."""
        loaded = rows.loaded
        batch_ids = dict.fromkeys(oid for _, _, oid in keyed)
        missing = [oid for oid in batch_ids if oid not in loaded]
        wanted = [oid for oid in missing if oid in rows.evicted] if rows.complete else missing
        if wanted:
            if cur is not None:
                self._load(cur, rows, wanted)
            elif reader is not None:
                read = reader.cursor()
                read.execute("BEGIN")
                try:
                    # the write in flight may have committed or not: either checkpoint is ours
                    if self._position(read) not in (rows.stored, rows.position):
                        raise _Moved()
                    self._load(read, rows, wanted)
                finally:
                    read.execute("COMMIT")
            else:
                if settle is not None:
                    settle()
                with self._tx(write=False) as read:
                    if self._position(read) != rows.position:
                        raise _Moved()
                    self._load(read, rows, wanted)
            rows.evicted.difference_update(wanted)
        for oid in batch_ids:
            loaded.pop(oid, None)
            loaded[oid] = None

    def _fold(self, rows: _Rows, keyed: list[tuple[int, Any, str]], batch: _Batch) -> None:
        """Fold events (with their aggregate keys) into ``rows``, which hold every row they
        touch, and their audit entries and statistics into ``batch``."""
        state, rewards, reviews = rows.pools, rows.rewards, rows.reviews
        state.history = self._history
        enterprises = state.enterprises
        audit, stats = batch.audit, batch.stats
        for pos, ev, eid in keyed:
            cls = type(ev)
            kind = cls.__name__
            if kind == "Reviewed":
                fold_review(reviews, ev, eid, state, pos)  # before the pool fold: it reads the period reviewed
            fold_pools(state, ev, eid, kind, pos)
            reward = reward_fold(cls)
            if reward is not None:
                reward(rewards, ev, eid, enterprises, pos)
            ent = enterprises.get(eid)
            if ent is None:
                continue  # budgets: no audit entry, no statistics
            tier = tier_of(state, eid, ev)
            audit.extend(audit_values(pos, ev, eid, ent, tier))
            occurred = getattr(ev, "occurred_on", None)
            if occurred is not None:
                key = (ent.region[:2] + "0000", tier or "_", kind, occurred.year)
                stats[key] = stats.get(key, 0) + 1
        batch.events += len(keyed)

    def _history(self, eid: str, version: int) -> list[Any]:
        """The events of enterprise ``eid`` up to ``version``, from the store: for an event
        dated before facts already folded (``projections.pools.refold``).  A read model
        behind the store, or as recorded by T, sees no later event."""
        return list(self.ledger.events.get(UUID(eid), lte=version))

    # ------------------------------------------------------------------ catching up
    def catch_up(self, progress: Callable[[int, int], None] | None = None, upto: int | None = None) -> int:
        """Apply every event recorded after the checkpoint (up to position ``upto``);
        returns how many positions of the log it went through (events folded, and the
        command journal's skipped)."""
        start = self.position()
        head = self.ledger.max_position()
        if upto is not None:
            head = min(head, upto)
        if start >= head:
            return 0
        with relaxed_gc():
            return self._catch_up(start, head, progress)

    def _catch_up(self, start: int, head: int, progress: Callable[[int, int], None] | None) -> int:
        """Read the events of the folded topics in pages of ``batch_size`` (the journal's
        rows are skipped by the query), fold them into rows held in memory from page to
        page (:class:`_Rows`, at most ``cache_limit`` aggregates), and every
        ``commit_every`` events (and at the end) store what changed with the checkpoint in
        one transaction.  The checkpoint of a page is its last event if the page is full,
        else ``head``: every position up to it was read.

        The transaction runs in a thread of its own while the next pages are read and
        folded; one at a time, in order.  It first checks that the checkpoint is still the
        one the rows were folded from: if another writer moved it, nothing is written, the
        rows are dropped and the catch-up goes on from the tables as they are."""
        rows = _Rows(self.cache_limit)
        writer = _Writer()
        read = _page_reader(self.ledger, folded_topics())
        position = self._restart(rows)
        batch = _Batch()
        reader = self._reader()
        try:
            while True:
                try:
                    if position >= head:
                        writer.join()
                        break
                    keyed = read(position + 1, head, self.batch_size)
                    end = keyed[-1][0] if len(keyed) >= self.batch_size else head
                    self._prepare(None, rows, keyed, writer.join, reader)
                    self._fold(rows, keyed, batch)
                    if self._commit_due(batch, rows.position, end, head):
                        write = self._take(rows, batch)
                        writer.submit(self._commit, write, rows.position, end)  # after the last one
                        rows.stored, rows.position = rows.position, end  # once that write commits
                        batch = _Batch()
                        rows.evict(write.aggregates)
                    position = end
                except _Moved:  # another writer moved the checkpoint: go on from the tables
                    position = self._restart(rows)
                    batch = _Batch()
                if progress:
                    progress(max(position - start, 0), head)
        except BaseException:
            writer.join(raising=False)
            rows.reset()
            raise
        finally:
            if reader is not None:
                reader.close()
        return max(position - start, 0)

    def _reader(self) -> sqlite3.Connection | None:
        """A second connection to the read model's SQLite file, for a catch-up to read rows
        back while its writer thread holds the first one in a write transaction (WAL: the
        reader sees the last commit).  None on PostgreSQL and in memory: reads wait."""
        if self.pg or self._dbname == ":memory:":
            return None
        return sqlite3.connect(self._dbname, timeout=30, isolation_level=None, check_same_thread=False)

    def _commit_due(self, batch: _Batch, since: int, end: int, head: int) -> bool:
        """Whether to store what was folded from position ``since`` to ``end`` now: every
        ``commit_every`` events, at ``head``, and, near the head, once the batch spans as
        many positions as are left to read.  A write runs while the next pages are folded,
        but the catch-up waits for the last one: the commits get smaller toward the head
        (halving), so the wait at the end is for a short write, not a full one."""
        return batch.events >= self.commit_every or end >= head or end - since >= head - end

    def _restart(self, rows: _Rows) -> int:
        """Start ``rows`` afresh from the tables; returns their checkpoint."""
        with self._tx(write=False) as cur:
            position = self._position(cur)
            self._start(cur, rows, position)
        return position

    def _commit(self, write: _Write, expected: int, checkpoint: int) -> None:
        """Store ``write`` with ``checkpoint`` if the checkpoint is still ``expected``."""
        with self._tx() as cur:
            if self._position(cur, lock=True) != expected:
                raise _Moved()
            self._put(cur, write, checkpoint)
        self._analyze_if_grown(checkpoint)

    def _analyze_if_grown(self, checkpoint: int) -> None:
        """PostgreSQL: ANALYZE the row and version tables each time a catch-up's checkpoint
        has doubled since the last time (from ``analyze_from`` events on).  A catch-up reads
        evicted rows back by ``enterprise_id IN (500 ids)``; on tables never analyzed the
        planner took those for 386,000 rows of 623,000 and scanned the whole table for each
        read: a national rebuild fell to 300 events/s near its end (issue 17).  Autovacuum
        had not analyzed them after half an hour of inserts."""
        if not self.pg or checkpoint < max(self.analyze_from, 2 * self._analyzed):
            return
        with self._tx() as cur:
            for table in self._row_tables():
                cur.execute(f"ANALYZE {table}")
        self._analyzed = checkpoint

    def _row_tables(self) -> list[str]:
        """The tables of rows and of their versions (``rm_designations``, ``rm_designations_v`` …)."""
        tables = [table for table, _, _ in self.tables.values()]
        return tables + [f"{self.tables[kind][0]}_v" for kind in VERSIONED]

    def _vacuum(self) -> None:
        """PostgreSQL, after a rebuild: VACUUM ANALYZE the row and version tables.  A pool
        page reads its keys by an index-only scan, which visits the table for every row
        until a VACUUM has set the visibility map; autovacuum had not come by half an hour
        after a national rebuild, and a province's page took 405 ms at p99 against 174 ms
        after a VACUUM (issue 17).  VACUUM runs outside a transaction: autocommit for it."""
        if not self.pg:
            return
        with self._lock:
            self.conn.autocommit = True
            try:
                with self.conn.cursor() as cur:
                    for table in self._row_tables():
                        cur.execute(f"VACUUM ANALYZE {table}")
            finally:
                self.conn.autocommit = False

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Drop the rows and the checkpoint, then catch up from the first event.

        The indexes only queries use are dropped first and made again at the end, from the
        finished tables (or when the read model is next opened, if the rebuild stopped):
        kept up row by row, each insert of a large rebuild lands on a random page of each
        index, and the rebuild slowed down as the tables grew (issue 17)."""
        query_only = [name for name, (_, _, query) in self._indexes().items() if query]
        with self._tx() as cur:
            for table in self._row_tables():
                cur.execute(f"DELETE FROM {table}")
            cur.execute(f"DELETE FROM {self.prefix}_audit")
            cur.execute(f"DELETE FROM {self.prefix}_stats")
            cur.execute(self._sql(f"DELETE FROM {self.prefix}_checkpoints WHERE projection <> ?"), (SCHEMA,))
            for name in query_only:
                cur.execute(f"DROP INDEX IF EXISTS {name}")
        try:
            folded = self.catch_up(progress)
        finally:
            with self._tx() as cur:
                for name in query_only:
                    table, columns, _ = self._indexes()[name]
                    cur.execute(index_sql(name, table, columns))
        self._vacuum()
        return folded

    def rows(self, kind: str, region: str | None = None) -> list[msgspec.Struct]:
        """Every row of one kind (``enterprise``, ``designation``, ``member``, ``reward``,
        ``budget``, ``review``), by key; with ``region``, only rows inside it (kinds with a
        region column).  No catching up: call :meth:`catch_up` first where it matters."""
        table, row_type, key = self.tables[kind]
        cols = _columns(row_type)
        where, params = "", []
        if region:
            if "region" not in cols:
                raise ValueError(f"{kind} rows have no region")
            cond, bounds = inside_sql(region)
            where, params = f"WHERE {cond} ", bounds
        with self._tx(write=False) as cur:
            cur.execute(self._sql(f"SELECT {', '.join(cols)} FROM {table} {where}ORDER BY {key}"), params)
            return _rows(row_type, cols, cur.fetchall())

    def has_rows(self, kind: str) -> bool:
        """Whether the table of ``kind`` holds any row."""
        with self._tx(write=False) as cur:
            cur.execute(f"SELECT 1 FROM {self.tables[kind][0]} LIMIT 1")
            return cur.fetchone() is not None

    def audit_trail(self, uscc: str) -> list[AuditEntry]:
        with self._tx(write=False) as cur:
            cur.execute(self._sql(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM {self.prefix}_audit WHERE uscc = ? "
                                  f"ORDER BY position"), (uscc,))
            rows = cur.fetchall()
        return [msgspec.convert(dict(zip(AUDIT_COLUMNS, r)), AuditEntry, strict=False) for r in rows]

    def statistics(self) -> list[tuple[str, str, str, int, int]]:
        with self._tx(write=False) as cur:
            cur.execute(f"SELECT province, tier, type, year, count FROM {self.prefix}_stats "
                        f"ORDER BY province, tier, type, year")
            return [tuple(r) for r in cur.fetchall()]

    # ------------------------------------------------------------------ queries
    def on(self, kind: str, as_of: str, *, where: str = "", params: tuple[Any, ...] = (),
           region: str | None = None, order: str | None = None) -> list[Any]:
        """The rows of ``kind`` (``enterprise``, ``designation``, ``member``) as they stood on
        business date ``as_of`` -- each row's version in force then (the one answer to "this
        row on D", :func:`domain.validity.in_force_sql`) -- inside ``region`` (the region
        the row had on that date), with an extra SQL condition ``where``.  No catching up."""
        with self._tx(write=False) as cur:
            return self._on(cur, kind, as_of, where=where, params=params, region=region, order=order)

    def _on(self, cur: Any, kind: str, as_of: str, *, where: str = "", params: tuple[Any, ...] = (),
            region: str | None = None, order: str | None = None, keys: list[str] | None = None) -> list[Any]:
        """:meth:`on` in transaction ``cur``; with ``keys``, only the rows of those keys."""
        table, row_type, key = self.tables[kind]
        cols = _version_columns(row_type)
        conds, values = self._on_conditions(as_of, where, params, region)
        if keys is not None:
            if not keys:
                return []
            conds += f" AND {key} IN ({', '.join('?' * len(keys))})"
            values.extend(keys)
        cur.execute(self._sql(f"SELECT {', '.join(cols)} FROM {table}_v WHERE {conds} ORDER BY {order or key}"),
                    values)
        return _rows(row_type, cols, cur.fetchall())

    def _on_keys(self, cur: Any, kind: str, as_of: str, *, where: str = "", params: tuple[Any, ...] = (),
                 region: str | None = None) -> list[str]:
        """The keys of the rows :meth:`on` answers with, in key order, and nothing else of
        them: where an index covers ``where`` (the pool's, ``_v_valid``), read from the
        index alone, a few bytes a row instead of the row's thirty columns."""
        table, _, key = self.tables[kind]
        conds, values = self._on_conditions(as_of, where, params, region)
        cur.execute(self._sql(f"SELECT {key} FROM {table}_v WHERE {conds}"), values)
        return sorted(k for (k,) in cur.fetchall())

    @staticmethod
    def _on_conditions(as_of: str, where: str, params: tuple[Any, ...],
                       region: str | None) -> tuple[str, list[Any]]:
        """The condition of :meth:`on` and its parameters."""
        in_force, in_force_params = in_force_sql(as_of)
        conds, values = [in_force], list(in_force_params)
        if region:
            cond, bounds = inside_sql(region)
            conds.append(cond)
            values.extend(bounds)
        if where:
            conds.append(where)
            values.extend(params)
        return " AND ".join(conds), values

    def versions(self, kind: str, *, upto: str, region: str | None = None) -> list[Version]:
        """Every version of the rows of ``kind`` that began on or before ``upto`` (the report's
        chart), inside ``region`` (the region of each version)."""
        table, row_type, key = self.tables[kind]
        cols = _version_columns(row_type)
        conds, values = ["since <= ?"], [upto]
        if region:
            cond, bounds = inside_sql(region)
            conds.append(cond)
            values.extend(bounds)
        with self._tx(write=False) as cur:
            cur.execute(self._sql(f"SELECT {', '.join(cols)} FROM {table}_v WHERE {' AND '.join(conds)} "
                                  f"ORDER BY {key}, since"), values)
            found = cur.fetchall()
        return [Version(row, r[-1]) for row, r in zip(_rows(row_type, cols, found), found)]

    def overdue(self, *, as_of: str, data_year: int, region: str | None = None) -> list[dict[str, Any]]:
        """Rule 7's overdue lists on ``as_of``, each enterprise as it stood then (name, region,
        filings and change reports dated up to ``as_of``): designated enterprises whose yearly
        data for ``data_year`` is not filed, and enterprises that reported a change late."""
        if self.follows_store:
            self.catch_up()
        valid, params = valid_sql(as_of)
        designated = {d.enterprise_id for d in self.on("designation", as_of, where=valid, params=params)}
        out = []
        for e in self.on("enterprise", as_of, region=region, order="region, uscc"):
            if e.enterprise_id in designated and not e.filed(data_year):
                out.append({"uscc": e.uscc, "name": e.name, "region": e.region, "kind": "yearly_data",
                            "detail": f"yearly data for {data_year} not filed"})
            for late in filter(None, e.late_changes.split(",")):
                kind, _, changed_on = late.partition(":")
                out.append({"uscc": e.uscc, "name": e.name, "region": e.region, "kind": "late_change_report",
                            "detail": f"{kind} of {changed_on} reported late"})
        return out

    def on_chain(self, chain: str, as_of: str, region: str | None = None) -> set[str]:
        """The enterprise ids tagged on industrial chain ``chain`` ("programme/chain" or a
        chain id) on ``as_of``, as they stood then.  No catching up."""
        return {e.enterprise_id for e in self.on("enterprise", as_of, where="chains <> ''", region=region)
                if e.on_chain(chain)}

    def pool(self, *, tier: str, as_of: str, level: str | None = None, region: str | None = None,
             programme: str | None = None, chain: str | None = None) -> list[Designation]:
        """Designations of ``tier`` valid on ``as_of`` (rule 4), as they stood on ``as_of``,
        inside ``region``; with ``chain``, of enterprises tagged on that chain on ``as_of``."""
        if self.follows_store:
            self.catch_up()
        where, params = self._pool_where(tier, as_of, level, programme)
        rows = self.on("designation", as_of, where=where, params=params, region=region,
                       order="region, uscc, application_id")
        if chain:
            tagged = self.on_chain(chain, as_of, region)
            rows = [d for d in rows if d.enterprise_id in tagged]
        return rows

    def pool_page(self, *, tier: str, as_of: str, pick: Callable[[list[str]], list[str]], level: str | None = None,
                  region: str | None = None, programme: str | None = None) -> tuple[list[str], list[Designation]]:
        """Every key of :meth:`pool`'s designations (without ``chain``), in key order, and the
        rows of the keys ``pick`` picks of them, in key order, read from one snapshot.  The
        keys come from the pool's index alone: a page of a province's pool reads the rows
        of its own keys, not the whole pool's."""
        if self.follows_store:
            self.catch_up()
        where, params = self._pool_where(tier, as_of, level, programme)
        with self._tx(write=False) as cur:
            if self.pg:  # both reads in one snapshot (SQLite's read transaction is one)
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            keys = self._on_keys(cur, "designation", as_of, where=where, params=params, region=region)
            return keys, self._on(cur, "designation", as_of, keys=pick(keys))

    @staticmethod
    def _pool_where(tier: str, as_of: str, level: str | None, programme: str | None) -> tuple[str, tuple[Any, ...]]:
        """The condition of a pool (:meth:`pool`) beside the version in force and the region."""
        valid, valid_params = valid_sql(as_of)
        where, params = ["tier = ?", valid], [tier, *valid_params]
        if level:
            where.append("level = ?")
            params.append(level)
        if programme:
            where.append("programme = ?")
            params.append(programme)
        return " AND ".join(where), tuple(params)

    def pooled(self, *, tier: str, as_of: str, region: str | None = None,
               programme: str | None = None, chain: str | None = None) -> list[PoolMember]:
        """Members of the cultivation pool (培育库) of ``tier`` on ``as_of``."""
        if self.follows_store:
            self.catch_up()
        # a member from its admission until its removal: the same half-open interval as a version
        member, member_params = in_force_sql(as_of, since="admitted_on", until="removed_on")
        where, params = ["tier = ?", member], [tier, *member_params]
        if programme:
            where.append("programme = ?")
            params.append(programme)
        rows = self.on("member", as_of, where=" AND ".join(where), params=tuple(params), region=region,
                       order="region, uscc")

        if chain:
            tagged = self.on_chain(chain, as_of, region)
            rows = [m for m in rows if m.enterprise_id in tagged]
        return rows

    def designated(self, *, tier: str, as_of: str, count: str = "ever", year: int | None = None,
                   level: str | None = None, region: str | None = None, programme: str | None = None,
                   batch: int | None = None, chain: str | None = None) -> list[Designation]:
        """Subjects (enterprises, or products of a product tier) ever designated for ``tier``
        up to ``as_of`` (``count="ever"``), or newly designated in ``year`` (``count="new"``:
        their first approval falls in it), each as its first approval (on or before
        ``as_of``) stood on ``as_of``, inside ``region`` (docs/domain.md, "Three counts";
        the rules are :func:`domain.validity.designated_sql` and :func:`~domain.validity.newly_sql`).
        ``batch``: only subjects whose first approval was announced in that batch; ``chain``: only
        enterprises tagged on that industrial chain on ``as_of``."""
        if count not in ("ever", "new"):
            raise ValueError(f"count {count!r}: ever or new")
        if count == "new" and year is None:
            raise ValueError("a count of new designations needs its year")
        if self.follows_store:
            self.catch_up()
        table, row_type, key = self.tables["designation"]
        cols = _version_columns(row_type)
        in_force, in_force_params = in_force_sql(as_of)
        ever, ever_params = designated_sql(as_of)
        conds, values = [in_force, ever, "tier = ?"], [*in_force_params, *ever_params, tier]
        for column, value in (("level", level), ("programme", programme)):
            if value:
                conds.append(f"{column} = ?")
                values.append(value)
        if region:
            cond, bounds = inside_sql(region)
            conds.append(cond)
            values.extend(bounds)
        outer: list[str] = []
        outer_values: list[Any] = []
        if count == "new":
            assert year is not None
            new, new_params = newly_sql(year)
            outer.append(new)
            outer_values.extend(new_params)
        if batch is not None:
            outer.append("batch = ?")
            outer_values.append(batch)
        sql = (first_approvals_sql(cols, f"{table}_v", " AND ".join(conds), " AND ".join(outer))
               + " ORDER BY region, uscc, application_id")
        with self._tx(write=False) as cur:
            cur.execute(self._sql(sql), [*values, *outer_values])
            rows = _rows(row_type, cols, cur.fetchall())
        if chain:
            tagged = self.on_chain(chain, as_of, region)
            rows = [d for d in rows if d.enterprise_id in tagged]
        return rows

    def batches(self, *, as_of: str, region: str | None = None, programme: str | None = None,
                tier: str | None = None) -> list[BatchLine]:
        """Per programme, tier, level and batch (第N批), as the rows stood on ``as_of`` inside
        ``region``: the applications recommended in the batch (the latest recommendation naming
        one) and the approvals it announced (approved on or before ``as_of``, whatever happened
        after), with the first and the last approval date."""
        if self.follows_store:
            self.catch_up()
        where, params = [], []
        for column, value in (("programme", programme), ("tier", tier)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        rows = self.on("designation", as_of, where=" AND ".join(where), params=tuple(params), region=region)
        return batch_lines(rows, as_of)
