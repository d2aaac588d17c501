"""The read model: projection rows in SQL tables beside the events, with a checkpoint.

The tables live in the same database as the event store (the SQLite file, or the
PostgreSQL database and schema).  :meth:`ReadModel.catch_up` reads the notification log
after the checkpoint in batches, folds each batch with the pure projection functions,
and writes the changed rows and the new checkpoint in one transaction: a crash repeats
nothing and skips nothing.  Queries first catch up, so they answer from every event
recorded so far.
"""

from __future__ import annotations

import gc
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import msgspec

from infra.store import is_postgres, store_env
from projections.audit import AuditEntry, audit_entry, stat_key
from projections.pools import Designation, EnterpriseRow, PoolMember, PoolState, aggregate_key, apply_event
from projections.reviews import ReviewRow, ReviewState
from projections.reviews import apply_event as apply_review
from projections.rewards import BudgetRow, RewardRow, RewardState
from projections.rewards import apply_event as apply_reward

ROWS: dict[str, tuple[str, type[msgspec.Struct], str]] = {
    # kind: table suffix, row type, key column
    "enterprise": ("enterprises", EnterpriseRow, "enterprise_id"),
    "designation": ("designations", Designation, "key"),
    "member": ("pool_members", PoolMember, "key"),
    "reward": ("rewards", RewardRow, "key"),
    "budget": ("budgets", BudgetRow, "key"),
    "review": ("reviews", ReviewRow, "key"),
}
# Row kinds loaded for a batch by the aggregate ids of its events: enterprise rows by
# enterprise_id, budgets by their own key (the SchemeBudget id).
LOAD_BY = {kind: ("key" if kind == "budget" else "enterprise_id") for kind in ROWS}
PROJECTION = "pools"
SKIPPED_TOPICS = frozenset({"services.ledger:HandledCommand.Handled"})
PUBLISHED = "pools.published"
STREAM_SEQ = "pools.stream_seq"
SCHEMA = "pools.schema"
# Raised whenever a projection gains row kinds or columns: a read model made by an older
# version is emptied on open and caught up again from the first event (see _create).
SCHEMA_VERSION = 2
BOOL_COLUMNS = {"review_failed", "under_reconfirmation", "listed", "passed"}
INT_COLUMNS = {"changed_at", "year", "amount_fen", "clawed_back_fen", "tranche", "budget_fen", "spent_fen",
               "refunded_fen"}
AUDIT_COLUMNS = list(AuditEntry.__struct_fields__)


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """Fewer cyclic-GC passes while folding millions of short-lived, acyclic objects:
    the collector's full passes over a large heap cost more than the fold itself.
    Objects are still freed by reference counting; thresholds are restored after."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 50_000), old[1], max(old[2], 50))
    try:
        yield
    finally:
        gc.set_threshold(*old)


class BatchResult(msgspec.Struct):
    """What one applied batch changed: pool rows, audit entries, statistics deltas."""

    rows: list[tuple[str, msgspec.Struct]]
    audit: list[AuditEntry]
    stats: dict[tuple[str, str, str, int], int]


def _audit_row(entry: AuditEntry) -> tuple[Any, ...]:
    row = msgspec.structs.astuple(entry)  # fields in AUDIT_COLUMNS order; only `corrects` is not text
    return row if row[-1] is None else (*row[:-1], str(row[-1]))


def _columns(row_type: type[msgspec.Struct]) -> list[str]:
    return list(row_type.__struct_fields__)


def _targets(state: PoolState, rewards: RewardState, reviews: ReviewState) -> dict[str, dict[str, Any]]:
    """The rows of each kind a batch works on, keyed."""
    return {"enterprise": state.enterprises, "designation": state.designations, "member": state.members,
            "reward": rewards.rewards, "budget": rewards.budgets, "review": reviews.reviews}


class ReadModel:
    """Pool rows and their checkpoint in the ledger's own database.

    ``prefix`` names the table set: ``rm`` is the read model the CLI queries, caught up
    from the store; ``live`` is the one the stream-fed projector keeps (``cultivation
    serve``), so the two can be compared row by row.
    """

    def __init__(self, ledger: Any, batch_size: int = 5000, prefix: str = "rm", follows_store: bool = True,
                 target: str | None = None):
        """``target`` puts the tables in another SQLite file (or ``:memory:``) instead of the
        ledger's database: an auditor's scratch read model (as recorded at T, replays)."""
        self.ledger = ledger
        self.follows_store = follows_store  # queries first catch up from the store
        self.batch_size = batch_size
        self.prefix = prefix
        self._lock = threading.RLock()
        self.tables = {kind: (f"{prefix}_{suffix}", row_type, key) for kind, (suffix, row_type, key) in ROWS.items()}
        self.pg = target is None and is_postgres(ledger.store)
        env = store_env(ledger.store) if target is None else {"SQLITE_DBNAME": target}
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
    def _tx(self) -> Iterator[Any]:
        """One transaction on the read model's connection; threads take turns."""
        with self._lock:
            yield from self._tx_unlocked()

    def _tx_unlocked(self) -> Iterator[Any]:
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
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def _create(self) -> None:
        with self._tx() as cur:
            p = self.prefix
            cur.execute(f"CREATE TABLE IF NOT EXISTS {p}_checkpoints (projection TEXT PRIMARY KEY, position BIGINT)")
            if self._position(cur, SCHEMA) < SCHEMA_VERSION:
                # Made by an older projection (or new): start again from the first event.
                for table in [t for t, _, _ in self.tables.values()] + [f"{p}_audit", f"{p}_stats"]:
                    cur.execute(f"DROP TABLE IF EXISTS {table}")
                cur.execute(f"DELETE FROM {p}_checkpoints")
                self._set_position(cur, SCHEMA_VERSION, SCHEMA)
            for table, row_type, key in self.tables.values():
                cols = []
                for name in _columns(row_type):
                    sqltype = "BOOLEAN" if name in BOOL_COLUMNS else "BIGINT" if name in INT_COLUMNS else "TEXT"
                    cols.append(f"{name} {sqltype}{' PRIMARY KEY' if name == key else ''}")
                cur.execute(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(cols)})")
            cur.execute(f"CREATE INDEX IF NOT EXISTS {p}_designations_tier ON {p}_designations (tier, level, region)")
            cur.execute(f"CREATE INDEX IF NOT EXISTS {p}_designations_ent ON {p}_designations (enterprise_id)")
            cur.execute(f"CREATE INDEX IF NOT EXISTS {p}_designations_changed ON {p}_designations (changed_at)")
            cur.execute(f"CREATE INDEX IF NOT EXISTS {p}_pool_members_ent ON {p}_pool_members (enterprise_id)")
            cur.execute(f"CREATE INDEX IF NOT EXISTS {p}_rewards_ent ON {p}_rewards (enterprise_id)")
            cur.execute(f"CREATE INDEX IF NOT EXISTS {p}_reviews_ent ON {p}_reviews (enterprise_id)")
            cols = ", ".join(f"{c} {'BIGINT PRIMARY KEY' if c == 'position' else 'TEXT'}" for c in AUDIT_COLUMNS)
            cur.execute(f"CREATE TABLE IF NOT EXISTS {p}_audit ({cols})")
            cur.execute(f"CREATE INDEX IF NOT EXISTS {p}_audit_uscc ON {p}_audit (uscc, position)")
            cur.execute(f"CREATE TABLE IF NOT EXISTS {p}_stats (province TEXT, tier TEXT, type TEXT, year INTEGER, "
                        f"count BIGINT, PRIMARY KEY (province, tier, type, year))")

    def position(self) -> int:
        with self._tx() as cur:
            return self._position(cur)

    def _position(self, cur: Any, name: str = PROJECTION) -> int:
        cur.execute(self._sql(f"SELECT position FROM {self.prefix}_checkpoints WHERE projection = ?"), (name,))
        row = cur.fetchone()
        return int(row[0]) if row else 0

    def _set_position(self, cur: Any, position: int, name: str = PROJECTION) -> None:
        cur.execute(self._sql(f"INSERT INTO {self.prefix}_checkpoints (projection, position) VALUES (?, ?) "
                              "ON CONFLICT (projection) DO UPDATE SET position = excluded.position"),
                    (name, position))

    def published_position(self) -> int:
        """Position up to which changes were published (``serve``'s projector)."""
        with self._tx() as cur:
            return self._position(cur, PUBLISHED)

    def set_published_position(self, position: int) -> None:
        with self._tx() as cur:
            self._set_position(cur, position, PUBLISHED)

    def changed_since(self, after: int, upto: int) -> tuple[list[Designation], list[AuditEntry]]:
        """Designations and audit entries changed by events in ``(after, upto]``."""
        cols = _columns(Designation)
        with self._tx() as cur:
            cur.execute(self._sql(f"SELECT {', '.join(cols)} FROM {self.prefix}_designations "
                                  f"WHERE changed_at > ? AND changed_at <= ? ORDER BY changed_at, key"),
                        (after, upto))
            rows = [Designation(**{c: bool(v) if c in BOOL_COLUMNS else v for c, v in zip(cols, r)})
                    for r in cur.fetchall()]
            cur.execute(self._sql(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM {self.prefix}_audit "
                                  f"WHERE position > ? AND position <= ? ORDER BY position"), (after, upto))
            audit = [msgspec.convert(dict(zip(AUDIT_COLUMNS, r)), AuditEntry, strict=False)
                     for r in cur.fetchall()]
        return rows, audit

    def _load(self, cur: Any, state: PoolState, enterprise_ids: set[str], rewards: RewardState | None = None,
              reviews: ReviewState | None = None) -> None:
        """Load the rows of the aggregates ``enterprise_ids`` (enterprises and budgets)."""
        targets = _targets(state, rewards or RewardState(), reviews or ReviewState())
        missing = [e for e in enterprise_ids if e not in state.enterprises]
        for i in range(0, len(missing), 500):
            chunk = missing[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for kind, rows in targets.items():
                table, row_type, key = self.tables[kind]
                cols = _columns(row_type)
                cur.execute(self._sql(f"SELECT {', '.join(cols)} FROM {table} WHERE {LOAD_BY[kind]} IN ({marks})"),
                            chunk)
                for values in cur.fetchall():
                    row = row_type(**{c: bool(v) if c in BOOL_COLUMNS else v for c, v in zip(cols, values)})
                    rows[getattr(row, key)] = row

    def _store(self, cur: Any, state: PoolState, rewards: RewardState | None = None,
               reviews: ReviewState | None = None) -> list[tuple[str, msgspec.Struct]]:
        changed = []
        rewards, reviews = rewards or RewardState(), reviews or ReviewState()
        targets = _targets(state, rewards, reviews)
        by_kind: dict[str, list[msgspec.Struct]] = {}
        for kind, key_value in sorted(state.dirty | rewards.dirty | reviews.dirty):
            row = targets[kind][key_value]
            by_kind.setdefault(kind, []).append(row)
            changed.append((kind, row))
        for kind, rows in by_kind.items():
            table, row_type, key = self.tables[kind]
            cols = _columns(row_type)
            updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key)
            cur.executemany(self._sql(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                                      f"({', '.join('?' * len(cols))}) ON CONFLICT ({key}) DO UPDATE SET {updates}"),
                            [msgspec.structs.astuple(row) for row in rows])  # columns in field order
        state.dirty.clear()
        rewards.dirty.clear()
        reviews.dirty.clear()
        return changed

    def stream_position(self) -> int:
        """Stream sequence of the last message applied (stream-fed read models)."""
        with self._tx() as cur:
            return self._position(cur, STREAM_SEQ)

    def apply_batch(self, cur: Any, events: list[tuple[int, Any]], position: int,
                    stream_seq: int | None = None) -> BatchResult:
        """Inside transaction ``cur``: fold ``(position, event)`` pairs after the checkpoint,
        store the changed rows, audit entries and statistics, and move the checkpoint to
        ``position``.  Events at or before the checkpoint are skipped: applied at most once."""
        after = self._position(cur)
        state, rewards, reviews = PoolState(), RewardState(), ReviewState()
        fresh = [(p, e) for p, e in events if p > after]
        self._load(cur, state, {aggregate_key(e.originator_id) for _, e in fresh}, rewards, reviews)
        audit: list[AuditEntry] = []
        stats: dict[tuple[str, str, str, int], int] = {}
        for pos, ev in fresh:
            apply_review(reviews, ev, state, pos)  # before the pool fold: it reads the period reviewed
            apply_event(state, ev, pos)
            apply_reward(rewards, ev, state.enterprises, pos)
            entry = audit_entry(pos, ev, state)
            if entry is not None:
                audit.append(entry)
            key = stat_key(ev, state)
            if key is not None:
                stats[key] = stats.get(key, 0) + 1
        changed = self._store(cur, state, rewards, reviews)
        if audit:
            cur.executemany(self._sql(f"INSERT INTO {self.prefix}_audit ({', '.join(AUDIT_COLUMNS)}) VALUES "
                                      f"({', '.join('?' * len(AUDIT_COLUMNS))}) ON CONFLICT (position) DO NOTHING"),
                            [_audit_row(entry) for entry in audit])
        for (province, tier, kind, year), n in stats.items():
            cur.execute(self._sql(f"INSERT INTO {self.prefix}_stats (province, tier, type, year, count) "
                                  f"VALUES (?, ?, ?, ?, ?) ON CONFLICT (province, tier, type, year) "
                                  f"DO UPDATE SET count = {self.prefix}_stats.count + excluded.count"),
                        (province, tier, kind, year, n))
        self._set_position(cur, max(position, after))
        if stream_seq is not None:
            self._set_position(cur, stream_seq, STREAM_SEQ)
        return BatchResult(rows=changed, audit=audit, stats=stats)

    # ------------------------------------------------------------------ catching up
    def catch_up(self, progress: Callable[[int, int], None] | None = None, upto: int | None = None) -> int:
        """Apply every event recorded after the checkpoint (up to position ``upto``);
        returns how many were read."""
        start = self.position()
        head = self.ledger.max_position() if upto is None else upto
        done = 0
        with relaxed_gc():
            done = self._catch_up(start, head, progress)
        return done

    def _catch_up(self, start: int, head: int, progress: Callable[[int, int], None] | None) -> int:
        done = 0
        while start < head:
            notes = self.ledger.recorder.select_notifications(start=start + 1, limit=self.batch_size, stop=head)
            if not notes:
                break
            # The command journal feeds no projection: not even decoded.
            events = [(n.id, self.ledger.mapper.to_domain_event(n)) for n in notes if n.topic not in SKIPPED_TOPICS]
            with self._tx() as cur:
                self.apply_batch(cur, events, notes[-1].id)
            start = notes[-1].id
            done += len(notes)
            if progress:
                progress(done, head)
        return done

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Drop the rows and the checkpoint, then catch up from the first event."""
        with self._tx() as cur:
            for table, _, _ in self.tables.values():
                cur.execute(f"DELETE FROM {table}")
            cur.execute(f"DELETE FROM {self.prefix}_audit")
            cur.execute(f"DELETE FROM {self.prefix}_stats")
            cur.execute(self._sql(f"DELETE FROM {self.prefix}_checkpoints WHERE projection <> ?"), (SCHEMA,))
        return self.catch_up(progress)

    def rows(self, kind: str, region: str | None = None) -> list[msgspec.Struct]:
        """Every row of one kind (``enterprise``, ``designation``, ``member``, ``reward``,
        ``budget``, ``review``), by key; with ``region``, only rows inside it (kinds with a
        region column).  No catching up: call :meth:`catch_up` first where it matters."""
        table, row_type, key = self.tables[kind]
        cols = _columns(row_type)
        where, params = "", []
        if region:
            from domain.values import region_prefix

            if "region" not in cols:
                raise ValueError(f"{kind} rows have no region")
            where, params = "WHERE region LIKE ? ", [region_prefix(region) + "%"]
        with self._tx() as cur:
            cur.execute(self._sql(f"SELECT {', '.join(cols)} FROM {table} {where}ORDER BY {key}"), params)
            return [row_type(**{c: bool(v) if c in BOOL_COLUMNS else v for c, v in zip(cols, r)})
                    for r in cur.fetchall()]

    def audit_trail(self, uscc: str) -> list[AuditEntry]:
        with self._tx() as cur:
            cur.execute(self._sql(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM {self.prefix}_audit WHERE uscc = ? "
                                  f"ORDER BY position"), (uscc,))
            rows = cur.fetchall()
        return [msgspec.convert(dict(zip(AUDIT_COLUMNS, r)), AuditEntry, strict=False) for r in rows]

    def statistics(self) -> list[tuple[str, str, str, int, int]]:
        with self._tx() as cur:
            cur.execute(f"SELECT province, tier, type, year, count FROM {self.prefix}_stats "
                        f"ORDER BY province, tier, type, year")
            return [tuple(r) for r in cur.fetchall()]

    # ------------------------------------------------------------------ queries
    def overdue(self, *, as_of: str, data_year: int, region: str | None = None) -> list[dict[str, Any]]:
        """Rule 7's overdue lists on ``as_of``: designated enterprises whose yearly data for
        ``data_year`` is not filed, and enterprises that reported a change late."""
        if self.follows_store:
            self.catch_up()
        from domain.values import region_prefix

        prefix = region_prefix(region) if region else ""
        ent_table, row_type, _ = self.tables["enterprise"]
        cols = _columns(row_type)
        with self._tx() as cur:
            cur.execute(self._sql(
                f"SELECT {', '.join('e.' + c for c in cols)} FROM {ent_table} e WHERE e.region LIKE ? AND "
                f"(e.late_changes <> '' OR EXISTS (SELECT 1 FROM {self.prefix}_designations d "
                f"WHERE d.enterprise_id = e.enterprise_id AND d.status = 'approved' AND d.valid_from <= ? "
                f"AND d.valid_until > ? AND (d.revoked_on IS NULL OR d.revoked_on > ?) "
                f"AND (d.ended_on IS NULL OR d.ended_on > ?))) ORDER BY e.region, e.uscc"),
                (prefix + "%", as_of, as_of, as_of, as_of))
            rows = [EnterpriseRow(**{c: bool(v) if c in BOOL_COLUMNS else v for c, v in zip(cols, r)})
                    for r in cur.fetchall()]
            cur.execute(self._sql(
                f"SELECT DISTINCT enterprise_id FROM {self.prefix}_designations WHERE status = 'approved' "
                f"AND valid_from <= ? AND valid_until > ? AND (revoked_on IS NULL OR revoked_on > ?) "
                f"AND (ended_on IS NULL OR ended_on > ?)"), (as_of, as_of, as_of, as_of))
            designated = {r[0] for r in cur.fetchall()}
        out = []
        for e in rows:
            if e.enterprise_id in designated and not e.filed(data_year):
                out.append({"uscc": e.uscc, "name": e.name, "region": e.region, "kind": "yearly_data",
                            "detail": f"yearly data for {data_year} not filed"})
            for late in filter(None, e.late_changes.split(",")):
                kind, _, changed_on = late.partition(":")
                out.append({"uscc": e.uscc, "name": e.name, "region": e.region, "kind": "late_change_report",
                            "detail": f"{kind} of {changed_on} reported late"})
        return out

    def pool(self, *, tier: str, as_of: str, level: str | None = None, region: str | None = None,
             programme: str | None = None) -> list[Designation]:
        """Designations of ``tier`` valid on ``as_of`` (rule 4), inside ``region``."""
        if self.follows_store:
            self.catch_up()
        where = ["tier = ?", "status = 'approved'", "valid_from <= ?", "valid_until > ?",
                 "(revoked_on IS NULL OR revoked_on > ?)", "(ended_on IS NULL OR ended_on > ?)"]
        params: list[Any] = [tier, as_of, as_of, as_of, as_of]
        if level:
            where.append("level = ?")
            params.append(level)
        if programme:
            where.append("programme = ?")
            params.append(programme)
        if region:
            from domain.values import region_prefix

            prefix = region_prefix(region)
            if prefix:
                where.append("region LIKE ?")
                params.append(prefix + "%")
        cols = _columns(Designation)
        with self._tx() as cur:
            cur.execute(self._sql(f"SELECT {', '.join(cols)} FROM {self.prefix}_designations WHERE {' AND '.join(where)} "
                                  f"ORDER BY region, uscc, application_id"), params)
            rows = cur.fetchall()
        return [Designation(**{c: bool(v) if c in BOOL_COLUMNS else v for c, v in zip(cols, r)}) for r in rows]

    def pooled(self, *, tier: str, as_of: str, region: str | None = None,
               programme: str | None = None) -> list[PoolMember]:
        """Members of the cultivation pool (培育库) of ``tier`` on ``as_of``."""
        if self.follows_store:
            self.catch_up()
        where = ["tier = ?", "admitted_on <= ?", "(removed_on IS NULL OR removed_on > ?)"]
        params: list[Any] = [tier, as_of, as_of]
        if programme:
            where.append("programme = ?")
            params.append(programme)
        if region:
            from domain.values import region_prefix

            prefix = region_prefix(region)
            if prefix:
                where.append("region LIKE ?")
                params.append(prefix + "%")
        cols = _columns(PoolMember)
        with self._tx() as cur:
            cur.execute(self._sql(f"SELECT {', '.join(cols)} FROM {self.prefix}_pool_members WHERE {' AND '.join(where)} "
                                  f"ORDER BY region, uscc"), params)
            rows = cur.fetchall()
        return [PoolMember(**dict(zip(cols, r))) for r in rows]
