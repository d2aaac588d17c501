"""Where the events live: SQLite by default, PostgreSQL when asked.

The store is named by one string, from ``--db`` or ``CULTIVATION_DB``:

- a file path, or ``sqlite:///path/to/ledger.db``: SQLite through ``eventsourcing.sqlite``;
- ``postgresql://user:password@host:port/dbname?schema=name``: PostgreSQL through
  ``eventsourcing.postgres`` (psycopg 3 with a connection pool).

With neither, the ledger uses :data:`DEFAULT_SQLITE_PATH`:
``$CULTIVATION_HOME/ledger.db`` (``CULTIVATION_HOME`` defaults to
``~/.local/share/cultivation-ledger``).

>>> store_env("sqlite:////tmp/x.db")["SQLITE_DBNAME"]
'/tmp/x.db'
>>> env = store_env("postgresql://u:p@127.0.0.1:5432/test?schema=t1")
>>> env["PERSISTENCE_MODULE"], env["POSTGRES_HOST"], env["POSTGRES_DBNAME"], env["POSTGRES_SCHEMA"]
('eventsourcing.postgres', '127.0.0.1', 'test', 't1')
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

CULTIVATION_HOME = Path(os.environ.get("CULTIVATION_HOME", Path.home() / ".local/share/cultivation-ledger"))
DEFAULT_SQLITE_PATH = CULTIVATION_HOME / "ledger.db"


def store_url(db: str | None = None) -> str:
    """The store the ledger uses: ``db``, else ``CULTIVATION_DB``, else the default SQLite file."""
    return db or os.environ.get("CULTIVATION_DB") or str(DEFAULT_SQLITE_PATH)


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def store_env(url: str) -> dict[str, str]:
    """The ``eventsourcing`` environment for the store named by ``url``."""
    if is_postgres(url):
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": "infra.integrity:ChainedPostgresApplicationRecorder",
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or os.environ.get("PGUSER", "postgres")),
            "POSTGRES_PASSWORD": unquote(parts.password or os.environ.get("PGPASSWORD", "")),
            "POSTGRES_POOL_SIZE": query.get("pool_size", ["5"])[0],
            "POSTGRES_MAX_OVERFLOW": query.get("max_overflow", ["10"])[0],
            "POSTGRES_CONNECT_TIMEOUT": query.get("connect_timeout", ["5"])[0],
            "POSTGRES_LOCK_TIMEOUT": query.get("lock_timeout", ["10"])[0],
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url
    if path != ":memory:" and not path.startswith("file:"):
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        path = str(Path(path).expanduser())
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path, "SQLITE_LOCK_TIMEOUT": "30",
            "APPLICATION_RECORDER_TOPIC": "infra.integrity:ChainedSQLiteApplicationRecorder"}


def describe(url: str) -> str:
    """The store's name for people, with any password hidden."""
    if is_postgres(url):
        parts = urlsplit(url)
        host = parts.hostname or ""
        return f"postgresql://{parts.username or ''}@{host}:{parts.port or 5432}{parts.path}"
    return url


def sql_table(recorder: Any, table: str | None = None) -> str:
    """``table`` (by default the recorder's events table) as SQL names it on the
    recorder's store: quoted and schema-qualified on PostgreSQL.

    >>> class Recorder:
    ...     events_table_name = "stored_events"
    >>> sql_table(Recorder()), sql_table(Recorder(), "stored_events_chain")
    ('stored_events', 'stored_events_chain')
    """
    from eventsourcing.postgres import PostgresAggregateRecorder

    table = table or recorder.events_table_name
    if isinstance(recorder, PostgresAggregateRecorder):
        schema = recorder.datastore.schema
        return f'"{schema}"."{table}"' if schema else f'"{table}"'
    return table


def read_rows(recorder: Any, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of one read-only query (``?`` placeholders) on the recorder's store, as tuples."""
    from eventsourcing.postgres import PostgresAggregateRecorder

    if isinstance(recorder, PostgresAggregateRecorder):
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql.replace("?", "%s"), list(params))
            return [tuple(r.values()) for r in curs.fetchall()]
    with recorder.datastore.transaction(commit=False) as cur:
        cur.execute(sql, list(params))
        return [tuple(r) for r in cur.fetchall()]


@contextmanager
def schema_lock(url: str) -> Iterator[None]:
    """Make processes that create the store's tables take turns (PostgreSQL only).

    The library's PostgreSQL recorder runs ``CREATE TABLE IF NOT EXISTS`` and ``CREATE OR
    REPLACE FUNCTION`` each time an application starts; two service processes starting at
    the same moment fail with ``tuple concurrently updated``.  A session advisory lock,
    keyed by database and schema, serialises that step.  SQLite needs nothing.
    """
    if not is_postgres(url):
        yield
        return
    import psycopg

    env = store_env(url)
    key = f"cultivation-ledger:schema:{env['POSTGRES_DBNAME']}:{env.get('POSTGRES_SCHEMA', 'public')}"
    with psycopg.connect(host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]), dbname=env["POSTGRES_DBNAME"],
                         user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"] or None,
                         connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]), autocommit=True) as conn:
        schema = env.get("POSTGRES_SCHEMA")
        if schema and conn.execute("SELECT 1 FROM pg_get_keywords() WHERE word = %s AND catcode <> 'U'",
                                   (schema.lower(),)).fetchone():
            raise ValueError(f"store: schema {schema!r} is an SQL keyword; the event store's types cannot be "
                             f"registered under it (choose another name)")
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
