"""The SQL spelling of rule 4 and of "the version in force on D" (domain.validity) selects
exactly the rows the Python spelling accepts, on real SQLite and PostgreSQL, over columns
of the read model's types (dates as ISO text, NULL for "none")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.validity import in_force_on, in_force_sql, valid_on, valid_sql
from tests.support.scratch import scratch_table

BASE = date(2023, 1, 1)
days = st.integers(min_value=0, max_value=12).map(lambda n: (BASE + timedelta(days=n)).isoformat())
maybe_days = st.none() | days
statuses = st.sampled_from(["approved", "approved", "applied", "noticed", "rejected", "annulled"])
designations = st.lists(st.tuples(statuses, maybe_days, maybe_days, maybe_days, maybe_days), max_size=12)
versions = st.lists(st.tuples(days, maybe_days), max_size=12)

COLUMNS = "k BIGINT, status TEXT, valid_from TEXT, valid_until TEXT, revoked_on TEXT, ended_on TEXT, since TEXT, " \
          "until TEXT"

Query = Callable[[str, tuple[Any, ...]], set[int]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, pg_base_url: str | None) -> Iterator[tuple[Callable[..., None], Query]]:
    """(load rows, select keys WHERE condition) on one real database."""
    with scratch_table(request.param, pg_base_url, COLUMNS) as (load, run):
        def select(where: str, params: tuple[Any, ...]) -> set[int]:
            return {r[0] for r in run(f"SELECT k FROM d WHERE {where}", params)}

        yield load, select


def test_valid_sql_selects_what_valid_on_accepts(database: tuple[Callable[..., None], Query]) -> None:
    load, select = database

    @settings(max_examples=300, deadline=None)
    @given(rows=designations, d=days)
    def check(rows: list[tuple[Any, ...]], d: str) -> None:
        load([(k, *r, "2000-01-01", None) for k, r in enumerate(rows)])
        expected = {k for k, (status, vf, vu, rv, en) in enumerate(rows)
                    if valid_on(d, status=status, valid_from=vf, valid_until=vu, revoked_on=rv, ended_on=en)}
        assert select(*valid_sql(d)) == expected

    check()


def test_in_force_sql_selects_what_in_force_on_accepts(database: tuple[Callable[..., None], Query]) -> None:
    load, select = database

    @settings(max_examples=300, deadline=None)
    @given(rows=versions, d=days)
    def check(rows: list[tuple[str, str | None]], d: str) -> None:
        load([(k, "approved", since, until, None, None, since, until) for k, (since, until) in enumerate(rows)])
        expected = {k for k, (since, until) in enumerate(rows) if in_force_on(since, until, d)}
        assert select(*in_force_sql(d)) == expected
        # the same condition over other columns (as a pool membership: admitted_on .. removed_on)
        assert select(*in_force_sql(d, since="valid_from", until="valid_until")) == expected

    check()


def test_a_column_name_is_a_name() -> None:
    with pytest.raises(ValueError, match="not a column name"):
        in_force_sql("2023-01-01", since="since; DROP TABLE d")
