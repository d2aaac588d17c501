"""A scratch table on a real database, for the tests that hold an SQL form of a rule equal
to its Python form (tests/integration/test_validity_sql.py, test_counts_sql.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

Load = Callable[[list[tuple[Any, ...]]], None]
Run = Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]


@contextmanager
def scratch_table(kind: str, pg_base_url: str | None, columns: str) -> Iterator[tuple[Load, Run]]:
    """(load rows, run a query) on a temporary table ``d`` with ``columns`` on SQLite in
    memory (``kind`` "sqlite") or on PostgreSQL (skipped when none answers).  Queries are
    written with ``?`` placeholders; ``load`` replaces the table's rows."""
    if kind == "sqlite":
        conn: Any = sqlite3.connect(":memory:")
        mark = "?"
    else:
        if pg_base_url is None:
            pytest.skip("no PostgreSQL: set CULTIVATION_TEST_PG, run one on 127.0.0.1:5432, or start Docker")
        import psycopg

        conn = psycopg.connect(pg_base_url.split("?")[0], autocommit=True)
        mark = "%s"
    conn.execute(f"CREATE TEMPORARY TABLE d ({columns})")
    width = len(columns.split(","))

    def load(rows: list[tuple[Any, ...]]) -> None:
        conn.execute("DELETE FROM d")
        if rows:
            conn.cursor().executemany(f"INSERT INTO d VALUES ({', '.join([mark] * width)})", rows)

    def run(sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in conn.execute(sql.replace("?", mark), params).fetchall()]

    try:
        yield load, run
    finally:
        conn.close()
