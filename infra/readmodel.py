"""The read model: projection rows in SQL tables beside the events, with a checkpoint.

The tables live in the same database as the event store (the SQLite file, or the
PostgreSQL database and schema).  :meth:`ReadModel.catch_up` reads the notification log
after the checkpoint in batches, folds each batch with the pure projection functions,
and writes the changed rows and the new checkpoint in one transaction: a crash repeats
nothing and skips nothing.  Queries first catch up, so they answer from every event
recorded so far.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import msgspec

from infra.store import is_postgres, store_env
from projections.pools import Designation, EnterpriseRow, PoolMember, PoolState, apply_event

TABLES: dict[str, tuple[str, type[msgspec.Struct], str]] = {
    # table name, row type, key column
    "enterprise": ("rm_enterprises", EnterpriseRow, "enterprise_id"),
    "designation": ("rm_designations", Designation, "key"),
    "member": ("rm_pool_members", PoolMember, "key"),
}
PROJECTION = "pools"
BOOL_COLUMNS = {"review_failed", "under_reconfirmation", "listed"}


def _columns(row_type: type[msgspec.Struct]) -> list[str]:
    return list(row_type.__struct_fields__)


class ReadModel:
    """Pool rows and their checkpoint in the ledger's own database."""

    def __init__(self, ledger: Any, batch_size: int = 2000):
        self.ledger = ledger
        self.batch_size = batch_size
        self.pg = is_postgres(ledger.store)
        env = store_env(ledger.store)
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
            self.conn = sqlite3.connect(env["SQLITE_DBNAME"], timeout=30, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
        self._create()

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------------ SQL plumbing
    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.pg else statement

    @contextmanager
    def _tx(self) -> Iterator[Any]:
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
            for table, row_type, key in TABLES.values():
                cols = []
                for name in _columns(row_type):
                    sqltype = "BOOLEAN" if name in BOOL_COLUMNS else "TEXT"
                    cols.append(f"{name} {sqltype}{' PRIMARY KEY' if name == key else ''}")
                cur.execute(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(cols)})")
            cur.execute("CREATE TABLE IF NOT EXISTS rm_checkpoints (projection TEXT PRIMARY KEY, position BIGINT)")
            cur.execute("CREATE INDEX IF NOT EXISTS rm_designations_tier ON rm_designations (tier, level, region)")
            cur.execute("CREATE INDEX IF NOT EXISTS rm_designations_ent ON rm_designations (enterprise_id)")
            cur.execute("CREATE INDEX IF NOT EXISTS rm_pool_members_ent ON rm_pool_members (enterprise_id)")

    def position(self) -> int:
        with self._tx() as cur:
            cur.execute(self._sql("SELECT position FROM rm_checkpoints WHERE projection = ?"), (PROJECTION,))
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def _load(self, cur: Any, state: PoolState, enterprise_ids: set[str]) -> None:
        missing = [e for e in enterprise_ids if e not in state.enterprises]
        for i in range(0, len(missing), 500):
            chunk = missing[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for kind, attr in (("enterprise", "enterprises"), ("designation", "designations"),
                               ("member", "members")):
                table, row_type, key = TABLES[kind]
                cols = _columns(row_type)
                cur.execute(self._sql(f"SELECT {', '.join(cols)} FROM {table} WHERE enterprise_id IN ({marks})"),
                            chunk)
                rows = getattr(state, attr)
                for values in cur.fetchall():
                    row = row_type(**{c: bool(v) if c in BOOL_COLUMNS else v for c, v in zip(cols, values)})
                    rows[getattr(row, key)] = row

    def _store(self, cur: Any, state: PoolState) -> None:
        for kind, key_value in sorted(state.dirty):
            table, row_type, key = TABLES[kind]
            row = {"enterprise": state.enterprises, "designation": state.designations,
                   "member": state.members}[kind][key_value]
            cols = _columns(row_type)
            updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key)
            cur.execute(self._sql(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                                  f"ON CONFLICT ({key}) DO UPDATE SET {updates}"),
                        [getattr(row, c) for c in cols])
        state.dirty.clear()

    # ------------------------------------------------------------------ catching up
    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Apply every event recorded after the checkpoint; returns how many were read."""
        start = self.position()
        head = self.ledger.max_position()
        done = 0
        while start < head:
            notes = self.ledger.recorder.select_notifications(start=start + 1, limit=self.batch_size)
            if not notes:
                break
            events = [self.ledger.mapper.to_domain_event(n) for n in notes]
            state = PoolState()
            with self._tx() as cur:
                self._load(cur, state, {str(e.originator_id) for e in events})
                for ev in events:
                    apply_event(state, ev)
                self._store(cur, state)
                start = notes[-1].id
                cur.execute(self._sql("INSERT INTO rm_checkpoints (projection, position) VALUES (?, ?) "
                                      "ON CONFLICT (projection) DO UPDATE SET position = excluded.position"),
                            (PROJECTION, start))
            done += len(notes)
            if progress:
                progress(done, head)
        return done

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Drop the rows and the checkpoint, then catch up from the first event."""
        with self._tx() as cur:
            for table, _, _ in TABLES.values():
                cur.execute(f"DELETE FROM {table}")
            cur.execute(self._sql("DELETE FROM rm_checkpoints WHERE projection = ?"), (PROJECTION,))
        return self.catch_up(progress)

    # ------------------------------------------------------------------ queries
    def pool(self, *, tier: str, as_of: str, level: str | None = None, region: str | None = None,
             programme: str | None = None) -> list[Designation]:
        """Designations of ``tier`` valid on ``as_of`` (rule 4), inside ``region``."""
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
            cur.execute(self._sql(f"SELECT {', '.join(cols)} FROM rm_designations WHERE {' AND '.join(where)} "
                                  f"ORDER BY region, uscc, application_id"), params)
            rows = cur.fetchall()
        return [Designation(**{c: bool(v) if c in BOOL_COLUMNS else v for c, v in zip(cols, r)}) for r in rows]

    def pooled(self, *, tier: str, as_of: str, region: str | None = None,
               programme: str | None = None) -> list[PoolMember]:
        """Members of the cultivation pool (培育库) of ``tier`` on ``as_of``."""
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
            cur.execute(self._sql(f"SELECT {', '.join(cols)} FROM rm_pool_members WHERE {' AND '.join(where)} "
                                  f"ORDER BY region, uscc"), params)
            rows = cur.fetchall()
        return [PoolMember(**dict(zip(cols, r))) for r in rows]
