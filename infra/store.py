"""Where the events live: SQLite by default, PostgreSQL when asked.

The store is named by one string, from ``--db`` or ``CULTIVATION_DB``:

- a file path, or ``sqlite:///path/to/ledger.db``: SQLite through ``eventsourcing.sqlite``;
- ``postgresql://user:password@host:port/dbname?schema=name``: PostgreSQL through
  ``eventsourcing.postgres`` (psycopg 3 with a connection pool); the query takes
  ``schema``, ``pool_size``, ``max_overflow``, ``connect_timeout`` and ``lock_timeout``,
  nothing else.

Any other ``scheme://`` is refused (:class:`StoreError`), as is a bad query value: a
typo must not quietly make a SQLite file named after the URL or fall back to a default.
:func:`check_store` is what the CLI asks before opening a store: a read never creates a
ledger (a misspelt ``--db`` would look like an empty province), a directory or a file
that is not a ledger is named as such, and an unreachable server is one line
(:class:`StoreUnavailable`), not a traceback.

With neither, the ledger uses :data:`DEFAULT_SQLITE_PATH`:
``$CULTIVATION_HOME/ledger.db`` (``CULTIVATION_HOME`` defaults to
``~/.local/share/cultivation-ledger``).

>>> store_env("sqlite:////tmp/x.db")["SQLITE_DBNAME"]
'/tmp/x.db'
>>> env = store_env("postgresql://u:p@127.0.0.1:5432/test?schema=t1")
>>> env["PERSISTENCE_MODULE"], env["POSTGRES_HOST"], env["POSTGRES_DBNAME"], env["POSTGRES_SCHEMA"]
('eventsourcing.postgres', '127.0.0.1', 'test', 't1')
>>> store_env("mysql://u:p@db/ledger")
Traceback (most recent call last):
...
infra.store.StoreError: store mysql://u@db/ledger: unknown scheme 'mysql' (a SQLite path, sqlite:///PATH or postgresql://…)
>>> store_env("postgresql://u@db/ledger?pool_size=abc")
Traceback (most recent call last):
...
infra.store.StoreError: store postgresql://u@db:5432/ledger: pool_size 'abc' must be a whole number from 1 to 1000
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

CULTIVATION_HOME = Path(os.environ.get("CULTIVATION_HOME", Path.home() / ".local/share/cultivation-ledger"))
DEFAULT_SQLITE_PATH = CULTIVATION_HOME / "ledger.db"


class StoreError(ValueError):
    """The store named cannot be used as asked: an unknown scheme, a bad query value, a
    directory, no ledger where a read expects one.  The message is one line that names
    the store (password hidden) and what to do."""


class StoreUnavailable(StoreError):
    """The store's server did not answer (or refused the connection): the surroundings
    failed, not the name; trying again later may work."""


# The events table each library recorder keeps its log in: a store "has a ledger" when it exists.
EVENTS_TABLE = {"sqlite": "stored_events", "postgres": "ledger_events"}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# query parameter: (default, lowest, highest)
_PG_QUERY = {"pool_size": ("5", 1, 1000), "max_overflow": ("10", 0, 1000), "connect_timeout": ("5", 1, 3600),
             "lock_timeout": ("10", 0, 3600)}


def store_url(db: str | None = None) -> str:
    """The store the ledger uses: ``db``, else ``CULTIVATION_DB``, else the default SQLite file."""
    return db or os.environ.get("CULTIVATION_DB") or str(DEFAULT_SQLITE_PATH)


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def store_env(url: str) -> dict[str, str]:
    """The ``eventsourcing`` environment for the store named by ``url`` (:class:`StoreError`
    for a scheme or a query the ledger does not know)."""
    scheme = _SCHEME.match(url)
    if scheme and not is_postgres(url) and scheme.group(1).lower() != "sqlite":
        raise StoreError(f"store {describe(url)}: unknown scheme {scheme.group(1)!r} (a SQLite path, "
                         f"sqlite:///PATH or postgresql://…)")
    if is_postgres(url):
        parts = urlsplit(url)
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(query) - {"schema", *_PG_QUERY})
        if unknown:
            raise StoreError(f"store {describe(url)}: unknown query parameter(s) {', '.join(unknown)} "
                             f"(known: schema, {', '.join(_PG_QUERY)})")
        for key, values in query.items():
            if len(values) > 1:
                raise StoreError(f"store {describe(url)}: {key} is given {len(values)} times")
        numbers = {}
        for key, (default, lowest, highest) in _PG_QUERY.items():
            value = query.get(key, [default])[0]
            if not (value.isascii() and value.isdigit() and lowest <= int(value) <= highest):
                raise StoreError(f"store {describe(url)}: {key} {value!r} must be a whole number from {lowest} "
                                 f"to {highest}")
            numbers[key] = str(int(value))
        if "schema" in query and not _SCHEMA_NAME.fullmatch(query["schema"][0]):
            raise StoreError(f"store {describe(url)}: schema {query['schema'][0]!r} must be 1 to 63 lower-case "
                             f"letters, digits or underscores, not starting with a digit")
        try:
            port = parts.port or 5432
        except ValueError:
            raise StoreError(f"store {describe(url)}: the port is not a number from 1 to 65535") from None
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": "infra.event_store:JournalledPostgresApplicationRecorder",
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(port),
            "POSTGRES_USER": unquote(parts.username or os.environ.get("PGUSER", "postgres")),
            "POSTGRES_PASSWORD": unquote(parts.password or os.environ.get("PGPASSWORD", "")),
            "POSTGRES_POOL_SIZE": numbers["pool_size"],
            "POSTGRES_MAX_OVERFLOW": numbers["max_overflow"],
            "POSTGRES_CONNECT_TIMEOUT": numbers["connect_timeout"],
            "POSTGRES_LOCK_TIMEOUT": numbers["lock_timeout"],
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    path = sqlite_path(url)
    if path != ":memory:" and not path.startswith("file:"):
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"store {url}: cannot create its folder {Path(path).parent}: {e.strerror}") from None
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path, "SQLITE_LOCK_TIMEOUT": "30",
            "APPLICATION_RECORDER_TOPIC": "infra.event_store:JournalledSQLiteApplicationRecorder"}


def sqlite_path(url: str) -> str:
    """The file a SQLite store URL names (``~`` expanded), or ``:memory:`` / a ``file:`` URI as given."""
    path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url
    if path == ":memory:" or path.startswith("file:"):
        return path
    return str(Path(path).expanduser())


def describe(url: str) -> str:
    """The store's name for people, with any password hidden."""
    scheme = _SCHEME.match(url)
    if is_postgres(url) or scheme:
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            port = f":{parts.port or 5432}" if is_postgres(url) else (f":{parts.port}" if parts.port else "")
        except ValueError:
            port = ":?"
        user = f"{parts.username}@" if parts.username else ("@" if is_postgres(url) else "")
        return f"{parts.scheme}://{user}{host}{port}{parts.path}"
    return url


def ledger_files(url: str) -> list[Path]:
    """The files a SQLite ledger keeps (its database, journal and WAL files, the live read
    model's file beside it and that one's companions); none for PostgreSQL.  Nothing may
    write over these but the ledger."""
    if is_postgres(url) or _SCHEME.match(url) and not url.startswith("sqlite:///"):
        return []
    path = sqlite_path(url)
    if path == ":memory:" or path.startswith("file:"):
        return []
    files = []
    for base in (path, f"{path}.live"):
        files += [Path(base + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    return files


def check_store(url: str, *, create: bool) -> None:
    """Refuse, with one line naming the store (:class:`StoreError`), a store that cannot be
    used as asked: with ``create`` false (a read) there must already be a ledger there; a
    directory, a file that is not a SQLite database or an unreachable server never gets
    as far as the library's traceback.  A missing PostgreSQL schema is created by a write
    (see :func:`schema_lock`), refused by a read."""
    env = store_env(url)
    name = describe(url)
    if is_postgres(url):
        schema = env.get("POSTGRES_SCHEMA", "public")
        with _pg_connect(url, env) as conn:
            if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
                if create:
                    return  # schema_lock creates it
                raise StoreError(f"store {name}: no schema {schema!r} in database {env['POSTGRES_DBNAME']!r}, so "
                                 f"no ledger to read (a read never creates one: check the URL's schema=, or "
                                 f"write a command there to start a ledger)")
            if not create and not conn.execute("SELECT to_regclass(%s)",
                                               (f'"{schema}"."{EVENTS_TABLE["postgres"]}"',)).fetchone()[0]:
                raise StoreError(f"store {name}: schema {schema!r} holds no ledger (a read never creates one: "
                                 f"check the URL, or write a command there to start a ledger)")
        return
    path = env["SQLITE_DBNAME"]
    if path == ":memory:" or path.startswith("file:"):
        return
    p = Path(path)
    if p.is_dir():
        raise StoreError(f"store {path}: is a directory, not a ledger file (name the ledger's .db file)")
    if not p.exists():
        if create:
            return
        raise StoreError(f"store {path}: no ledger there (a read never creates one: check --db or "
                         f"CULTIVATION_DB, or write a command to start a ledger there)")
    import sqlite3

    try:
        with open(p, "rb") as fh:
            header = fh.read(16)
    except OSError as e:
        raise StoreError(f"store {path}: cannot be read: {e.strerror}") from None
    if header and header != b"SQLite format 3\x00":
        raise StoreError(f"store {path}: is not a SQLite database, so not a ledger (name the ledger's .db file)")
    if not create:
        try:
            conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True, timeout=30)
            try:
                found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                     (EVENTS_TABLE["sqlite"],)).fetchone()
            finally:
                conn.close()
        except sqlite3.Error as e:
            raise StoreError(f"store {path}: cannot be read as a ledger: {e}") from None
        if not found:
            raise StoreError(f"store {path}: is a SQLite file without a ledger in it (a read never creates one)")


@contextmanager
def _pg_connect(url: str, env: dict[str, str] | None = None) -> Iterator[Any]:
    """An autocommit connection to the store's server; :class:`StoreUnavailable` when it
    does not answer or refuses us, one line with the server's reason."""
    import psycopg

    env = env or store_env(url)
    try:
        conn = psycopg.connect(host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]),
                               dbname=env["POSTGRES_DBNAME"], user=env["POSTGRES_USER"],
                               password=env["POSTGRES_PASSWORD"] or None,
                               connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]), autocommit=True)
    except psycopg.OperationalError as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        raise StoreUnavailable(f"store {describe(url)}: cannot connect: {reason}") from None
    with conn:
        yield conn


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
    with _pg_connect(url, env) as conn:
        schema = env.get("POSTGRES_SCHEMA")
        if schema and conn.execute("SELECT 1 FROM pg_get_keywords() WHERE word = %s AND catcode <> 'U'",
                                   (schema.lower(),)).fetchone():
            raise StoreError(f"store: schema {schema!r} is an SQL keyword; the event store's types cannot be "
                             f"registered under it (choose another name)")
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
        try:
            if schema and not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
                try:  # a new ledger in a new schema: make its home (the name was checked by store_env)
                    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                except psycopg.Error as e:
                    raise StoreError(f"store {describe(url)}: schema {schema!r} does not exist and could not be "
                                     f"created ({' '.join(str(e).split())}): ask the database owner to run "
                                     f'CREATE SCHEMA "{schema}" AUTHORIZATION {env["POSTGRES_USER"]}') from None
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
