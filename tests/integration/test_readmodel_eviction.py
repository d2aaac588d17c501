"""A rebuild that forgets rows between its commits (the national history holds more
aggregates than a catch-up keeps) and reads them back while its next write is in flight
makes the same read model as one that keeps every row, on each real store."""

from __future__ import annotations

from typing import Any

from infra.readmodel import ReadModel
from scenarios.generate import generate_commands
from services import commands as c
from services.ledger import Ledger


def every_table(rm: ReadModel) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of ``rm`` (rows, versions, audit, statistics), in key order."""
    tables = rm._row_tables() + [f"{rm.prefix}_audit", f"{rm.prefix}_stats"]
    out = {}
    with rm._tx(write=False) as cur:
        for table in tables:
            cur.execute(f"SELECT * FROM {table}")
            out[table.split("_", 1)[1]] = sorted(tuple(str(v) for v in r) for r in cur.fetchall())
    return out


def test_rebuild_with_a_small_cache_equals_one_keeping_every_row(any_ledger: Ledger) -> None:
    """Also, on PostgreSQL, the two ways rows are written make the same tables: ``small``
    writes every row by COPY into a staging table (``copy_from = 1``; its small commits
    upsert rows written before), the others by unnest, but for the tables of ``whole``'s one
    commit that reach ``copy_from`` rows."""
    cmds = [c.convert_command(d) for d in generate_commands(120, 10, 3, start_year=2016)]
    any_ledger.handle_many(cmds, batch_size=200)
    head = any_ledger.max_position()
    whole = ReadModel(any_ledger, prefix="whole")
    small = ReadModel(any_ledger, prefix="small", batch_size=40, commit_every=40, cache_limit=8)
    small.copy_from = 1
    try:
        assert whole.rebuild() == head
        assert small.rebuild() == head
        expected, got = every_table(whole), every_table(small)
        assert expected["enterprises"] and expected["designations_v"] and expected["audit"]
        for table in expected:
            assert got[table] == expected[table], table
        # caught up in two steps: the second starts from full tables, so every aggregate it
        # does not hold is read back, evicted or not
        steps = ReadModel(any_ledger, prefix="steps", batch_size=40, commit_every=40, cache_limit=8)
        try:
            assert steps.catch_up(upto=head // 2) == head // 2
            assert steps.catch_up() == head - head // 2
            assert every_table(steps) == expected
        finally:
            steps.close()
    finally:
        whole.close()
        small.close()


def test_a_query_does_not_wait_for_a_writer(ledger: Ledger) -> None:
    """A query of the read model reads in a read transaction: on SQLite it does not take the
    write lock, so it answers while a catch-up (here: another connection) holds it.  Before,
    ``on``, ``versions`` and ``designated`` began with BEGIN IMMEDIATE and waited for it."""
    import sqlite3

    cmds = [c.convert_command(d) for d in generate_commands(60, 10, 2, start_year=2016)]
    ledger.handle_many(cmds, batch_size=200)
    rm = ReadModel(ledger, follows_store=False)
    rm.catch_up()
    writer = sqlite3.connect(rm._dbname, isolation_level=None)
    try:
        rm.conn.execute("PRAGMA busy_timeout = 200")  # a wait would fail fast, not after 30 s
        writer.execute("BEGIN IMMEDIATE")
        valid = rm.pool(tier="innovative", as_of="2025-12-31")
        versions = rm.versions("designation", upto="2025-12-31")
        ever = rm.designated(tier="innovative", as_of="2025-12-31")
        assert valid and versions and ever
        assert rm.position() == ledger.max_position()
        writer.execute("ROLLBACK")
    finally:
        writer.close()
        rm.close()


def test_the_benchmark_drops_every_table_it_made(any_ledger: Ledger) -> None:
    """``benchmarks/run.py``'s rebuild read model leaves no table behind, versions included."""
    from benchmarks.run import drop_read_model

    cmds = [c.convert_command(d) for d in generate_commands(20, 4, 1, start_year=2016)]
    any_ledger.handle_many(cmds, batch_size=200)
    rm = ReadModel(any_ledger, prefix="benchdrop")
    rm.rebuild()
    probe = ReadModel(any_ledger, prefix="probe")
    try:
        drop_read_model(rm)
        sql = ("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'benchdrop%'" if not probe.pg else
               "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'benchdrop%'")
        with probe._tx(write=False) as cur:
            cur.execute(sql)
            assert cur.fetchall() == []
    finally:
        probe.close()


def _postgresql_read_model(ledger: Ledger, prefix: str, seed: int, why: str, **kw: Any) -> ReadModel:
    """A read model of small commits on a PostgreSQL ``ledger`` loaded with a small history
    (``seed``); the test is skipped on SQLite, saying ``why``."""
    import pytest

    rm = ReadModel(ledger, prefix=prefix, batch_size=40, commit_every=40, **kw)
    if not rm.pg:
        rm.close()
        pytest.skip(why)
    cmds = [c.convert_command(d) for d in generate_commands(60, 6, seed, start_year=2016)]
    ledger.handle_many(cmds, batch_size=200)
    return rm


def test_a_long_catch_up_on_postgresql_analyzes_its_tables(any_ledger: Ledger) -> None:
    """PostgreSQL: a catch-up analyzes its tables as they grow, so reading evicted rows back
    by ``enterprise_id IN (…)`` uses the index; never analyzed, the planner scanned the whole
    table for each read (a national rebuild fell to 300 events/s)."""
    rm = _postgresql_read_model(any_ledger, "grown", 4, "statistics for the planner: PostgreSQL's", cache_limit=8)
    rm.analyze_from = 100
    try:
        rm.rebuild()
        with rm._tx(write=False) as cur:
            cur.execute("SELECT relname, last_analyze FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                        "AND relname LIKE 'grown_%' AND relname NOT IN ('grown_audit', 'grown_stats', "
                        "'grown_checkpoints')")
            analyzed = dict(cur.fetchall())
        assert set(analyzed) == set(rm._row_tables())
        assert all(when is not None for when in analyzed.values()), analyzed
    finally:
        rm.close()


def test_a_rebuild_on_postgresql_leaves_its_tables_vacuumed(any_ledger: Ledger) -> None:
    """PostgreSQL: a rebuild ends with VACUUM ANALYZE of its tables, so the index-only scan
    of a pool page need not visit the table (the visibility map is set); before, a national
    pool page took 405 ms at p99 until someone vacuumed by hand."""
    rm = _postgresql_read_model(any_ledger, "swept", 5, "the visibility map: PostgreSQL's")
    try:
        rm.rebuild()
        with rm._tx(write=False) as cur:
            cur.execute("SELECT c.relname, s.last_vacuum, c.relpages, c.relallvisible FROM pg_class c "
                        "JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE s.schemaname = current_schema() "
                        "AND c.relname LIKE 'swept_%'")
            swept = {name: (when, pages, visible) for name, when, pages, visible in cur.fetchall()}
        rows = {name: swept[name] for name in rm._row_tables()}
        assert all(when is not None for when, _, _ in rows.values()), rows
        pages, visible = rows[f"{rm.tables['designation'][0]}_v"][1:]
        assert pages > 0 and visible == pages, rows
        assert rm.pool_page(tier="specialized", as_of="2021-12-31", pick=lambda keys: keys[:5])[0]
    finally:
        rm.close()
