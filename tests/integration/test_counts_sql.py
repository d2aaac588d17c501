"""The SQL spelling of "ever designated up to D" and "newly designated in year Y"
(domain.validity: designated_sql, newly_sql, first_approvals_sql) selects exactly the
subjects, and each subject's first approval, that the Python fold (first_designations,
newly_designated) gives, on real SQLite and PostgreSQL, over rows of the read model's
types (version rows: ``since``/``until``; dates as ISO text, NULL for "none")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.validity import (
    designated_sql,
    first_approvals_sql,
    first_designations,
    in_force_on,
    in_force_sql,
    newly_designated,
    newly_sql,
)
from tests.support.scratch import scratch_table

BASE = date(2015, 12, 1)
days = st.integers(min_value=0, max_value=800).map(lambda n: (BASE + timedelta(days=n)).isoformat())
maybe_days = st.none() | days
statuses = st.sampled_from(["approved", "approved", "approved", "applied", "noticed", "rejected", "annulled"])
# (uscc, product_id, status, approved_on, application_id, since, until): few subjects, so they repeat
rows_strategy = st.lists(st.tuples(st.sampled_from(["U1", "U2", "U3"]), st.sampled_from([None, "P1", "P2"]),
                                   statuses, maybe_days, st.sampled_from(["a1", "a2", "a3"]), days, maybe_days),
                         max_size=14)
COLUMNS = ["k", "uscc", "product_id", "status", "approved_on", "application_id", "since", "until"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, pg_base_url: str | None) -> Iterator[tuple[Callable[..., None], Any]]:
    """(load rows, run a query) on one real database."""
    columns = ", ".join(f"{c} {'BIGINT' if c == 'k' else 'TEXT'}" for c in COLUMNS)
    with scratch_table(request.param, pg_base_url, columns) as (load, query):
        yield load, query


def test_first_approvals_in_sql_are_the_python_fold(database: tuple[Callable[..., None], Any]) -> None:
    load, query = database

    @settings(max_examples=300, deadline=None)
    @given(rows=rows_strategy, d=days, year_back=st.integers(min_value=0, max_value=2))
    def check(rows: list[tuple[Any, ...]], d: str, year_back: int) -> None:
        keyed = [(k, *r) for k, r in enumerate(rows)]
        load(keyed)
        in_force, in_force_params = in_force_sql(d)
        ever, ever_params = designated_sql(d)
        where = f"{in_force} AND {ever}"
        got = query(first_approvals_sql(["k"], "d", where), (*in_force_params, *ever_params))
        # the fold: the rows as they stood on d, each subject's first approval on or before it
        standing = [SimpleNamespace(**dict(zip(COLUMNS, r))) for r in keyed if in_force_on(r[6], r[7], d)]
        expected = first_designations(standing, d)
        assert sorted(k for (k,) in got) == sorted(r.k for r in expected.values())
        year = int(d[:4]) - year_back
        new, new_params = newly_sql(year)
        got_new = query(first_approvals_sql(["k"], "d", where, new), (*in_force_params, *ever_params, *new_params))
        assert sorted(k for (k,) in got_new) == sorted(r.k for r in expected.values()
                                                       if newly_designated(year, r.approved_on))

    check()
