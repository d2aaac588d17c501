"""Rule 4, validity on a date: the one home of the rule, in Python and in SQL.

The rule, as docs/domain.md ("The nine rules", 4. Validity) gives it:

    A designation is valid on day d when ``valid_from ≤ d < valid_until`` and it has not
    been revoked on or before d.  Expiry needs no event; every question carries a date.

Two things the ledger reads into it: only an *approved* application is a designation
(rejected, withdrawn or annulled ones never are: rule 9 treats an annulled approval as
never valid), and a designation *ended* when its re-confirmation was refused after a move
to another province (rule 7) counts from that day like a revocation.  The dates the rule
compares are those the approval, review and revocation events carry; the term itself
(three years, or Liaoning's whole calendar years) is policy (``Tier.validity`` in
``domain/policy.py``, ``validity_years`` and ``validity_start`` in ``policies/*.toml``).

:func:`valid_on` is the rule; the aggregate (``domain.enterprise.Application``), the pool
rows (``projections.pools.Designation``), the report's chart (:func:`end_of_validity`) and
the generator's mirror of the ledger (``scenarios.generate``) all call it.  It takes
``datetime.date`` values, ISO 8601 date text (``"2024-07-01"``, which orders as the dates
do: what the read-model rows hold) or date ordinals (the generator's), as long as one call
uses one kind.

**The same rule for the tables.**  :func:`valid_sql` is the condition "valid on d" over a
designation table's columns, and :func:`in_force_sql` the condition "this version stands on
d" over a version table's ``since``/``until`` (the time rule of docs/domain.md, "Two
clocks": the state on D is what the events dated on or before D made it; a row version
stands from ``since`` until the next version's ``since``, :func:`in_force_on` in Python).
Every query of the read model (``infra.readmodel``) builds its conditions with them.  They
live here, beside the Python rule, rather than in ``projections`` beside the rows: the SQL
is plain text (no driver, no I/O, so the domain stays pure), it is a second spelling of
this module's rule and must change with it in the same edit, and the property test that
holds the two spellings equal (``tests/unit/test_validity.py``, on real SQLite) then tests
one module.  The column names are the rule's own terms (``valid_from``, ``valid_until``,
``revoked_on``, ``ended_on``, ``status``), which the projection's rows repeat.

**Ever designated and newly designated** (the counts beside "valid on D", docs/domain.md,
"Three counts"): a subject (the enterprise, or for a product tier the product: :func:`subject_of`)
was *ever designated* up to D when one of its designations was approved on or before D, by the
approval's business date (``approved_on``), whatever happened after: expiry, revocation, a lapse
(:func:`designated_by`).  It was *newly designated* in year Y when its first such approval falls
in Y (:func:`newly_designated`).  Both judge the rows as they stood on D, like every question:
an approval annulled on or before D was never a designation (rule 9), one annulled after D still
counts on D.  :func:`designated_sql`, :data:`SUBJECT_SQL` and :func:`newly_sql` are the same rules
for the tables; the read model takes, per subject, its first approval (``ROW_NUMBER() OVER
(PARTITION BY subject ORDER BY approved_on)``).

>>> from datetime import date
>>> approved = dict(status="approved", valid_from=date(2021, 7, 1), valid_until=date(2024, 7, 1),
...                 revoked_on=None, ended_on=None)
>>> valid_on(date(2021, 7, 1), **approved), valid_on(date(2024, 6, 30), **approved)
(True, True)
>>> valid_on(date(2024, 7, 1), **approved)   # valid_until is the first day no longer valid
False
>>> valid_on(date(2023, 1, 1), **{**approved, "revoked_on": date(2023, 1, 1)})   # revoked on d
False
>>> valid_on("2023-06-29", status="approved", valid_from="2021-07-01", valid_until="2024-07-01",
...          revoked_on="2023-07-01", ended_on=None)   # ISO text, as the rows hold it
True
>>> valid_on(date(2023, 1, 1), **{**approved, "status": "annulled"})
False
>>> valid_sql("2023-06-29")
("status = 'approved' AND valid_from <= ? AND valid_until > ? AND (revoked_on IS NULL OR revoked_on > ?) AND (ended_on IS NULL OR ended_on > ?)", ('2023-06-29', '2023-06-29', '2023-06-29', '2023-06-29'))
>>> in_force_sql("2023-06-29")
('since <= ? AND (until IS NULL OR until > ?)', ('2023-06-29', '2023-06-29'))
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any, TypeVar

# A business date in one of the three forms the callers hold: a date, ISO 8601 text, or an
# ordinal (date.toordinal()).  Each orders as the calendar does.
D = TypeVar("D", date, str, int)
R = TypeVar("R", bound=Any)  # a designation row (projections.pools.Designation, or anything with its columns)

APPROVED = "approved"  # the status of an application that is a designation


def valid_on(d: D, *, status: str, valid_from: D | None, valid_until: D | None, revoked_on: D | None,
             ended_on: D | None) -> bool:
    """Rule 4: a designation is valid on ``d`` when it is approved, ``valid_from <= d <
    valid_until``, and it was neither revoked nor ended on or before ``d``.

    >>> valid_on(5, status="approved", valid_from=1, valid_until=9, revoked_on=6, ended_on=None)
    True
    >>> valid_on(6, status="approved", valid_from=1, valid_until=9, revoked_on=6, ended_on=None)
    False
    >>> valid_on(5, status="approved", valid_from=None, valid_until=None, revoked_on=None, ended_on=None)
    False
    """
    if status != APPROVED or valid_from is None or valid_until is None:
        return False
    if not (valid_from <= d < valid_until):
        return False
    if revoked_on is not None and revoked_on <= d:
        return False
    return not (ended_on is not None and ended_on <= d)


def end_of_validity(valid_until: D, revoked_on: D | None, ended_on: D | None) -> D:
    """The first day an approved designation is no longer valid: ``valid_until``, or an
    earlier revocation or end.  So :func:`valid_on` is ``valid_from <= d <
    end_of_validity(...)`` for an approved designation (the report counts intervals).

    >>> end_of_validity("2024-07-01", "2023-03-01", None), end_of_validity("2024-07-01", None, None)
    ('2023-03-01', '2024-07-01')
    """
    end = valid_until
    for x in (revoked_on, ended_on):
        if x is not None and x < end:
            end = x
    return end


def in_force_on(since: D, until: D | None, d: D) -> bool:
    """Whether a version that stands from ``since`` until ``until`` (exclusive; None: still)
    stands on ``d``: ``since <= d < until``.

    >>> in_force_on("2021-01-05", "2024-03-01", "2024-02-29"), in_force_on("2021-01-05", "2024-03-01", "2024-03-01")
    (True, False)
    >>> in_force_on("2021-01-05", None, "2099-01-01"), in_force_on("2021-01-05", None, "2021-01-04")
    (True, False)
    """
    return since <= d and (until is None or d < until)


_COLUMN = re.compile(r"\A[a-z_][a-z0-9_]*\Z")


def _col(name: str) -> str:
    if not _COLUMN.match(name):  # column names come from code, never from a request; still, refuse anything else
        raise ValueError(f"not a column name: {name!r}")
    return name


def approved_sql(status: str = "status") -> str:
    """An approved application (a designation), as an SQL condition with its value written in,
    not a parameter: :func:`valid_sql` and :func:`designated_sql` begin with it, and the read
    model's index of pools is partial on it (``infra.readmodel``), which a planner uses only
    where a query's condition holds the same term.

    >>> approved_sql()
    "status = 'approved'"
    """
    return f"{_col(status)} = '{APPROVED}'"


def valid_sql(d: str, *, status: str = "status", valid_from: str = "valid_from", valid_until: str = "valid_until",
              revoked_on: str = "revoked_on", ended_on: str = "ended_on") -> tuple[str, tuple[str, ...]]:
    """:func:`valid_on` ``d`` as an SQL condition over a table's columns (named as the rule
    names them unless told), with its ``?`` parameters.  NULL dates compare as unknown,
    so a designation without ``valid_from`` or ``valid_until`` is not valid, as in Python."""
    sql = (f"{approved_sql(status)} AND {_col(valid_from)} <= ? AND {_col(valid_until)} > ? "
           f"AND ({_col(revoked_on)} IS NULL OR {revoked_on} > ?) AND ({_col(ended_on)} IS NULL OR {ended_on} > ?)")
    return sql, (d, d, d, d)


def in_force_sql(d: str, *, since: str = "since", until: str = "until") -> tuple[str, tuple[str, ...]]:
    """:func:`in_force_on` ``d`` as an SQL condition over the columns ``since`` and
    ``until`` (a version table's, unless told: a pool membership stands from
    ``admitted_on`` until ``removed_on``), with its ``?`` parameters.

    >>> in_force_sql("2023-06-29", since="admitted_on", until="removed_on")[0]
    'admitted_on <= ? AND (removed_on IS NULL OR removed_on > ?)'
    """
    return f"{_col(since)} <= ? AND ({_col(until)} IS NULL OR {until} > ?)", (d, d)


# ---------------------------------------------------------------------------- ever / newly designated
def subject_of(uscc: str, product_id: str | None) -> str:
    """What a designation designates, the unit the counts count: the enterprise (its USCC), or
    for a product tier (``subject = "product"``) the product of that enterprise.

    >>> subject_of("91370211MA00000000", None), subject_of("91370211MA00000000", "Q01-P1")
    ('91370211MA00000000/', '91370211MA00000000/Q01-P1')
    """
    return f"{uscc}/{product_id or ''}"


# :func:`subject_of` over a designation table's columns (text concatenation in SQLite and PostgreSQL).
SUBJECT_SQL = "uscc || '/' || COALESCE(product_id, '')"


def designated_by(d: D, *, status: str, approved_on: D | None) -> bool:
    """Whether a designation, as it stood on ``d``, was approved on or before ``d``: it makes
    its subject *ever designated* up to ``d``, whatever happened after its approval.

    >>> designated_by("2016-12-31", status="approved", approved_on="2013-06-15")   # long expired: still counts
    True
    >>> designated_by("2016-12-31", status="annulled", approved_on="2013-06-15")   # annulled by then: never was
    False
    >>> designated_by("2016-12-31", status="noticed", approved_on=None)
    False
    """
    return status == APPROVED and approved_on is not None and approved_on <= d


def newly_designated(year: int, first_approved_on: str | date) -> bool:
    """Whether a subject whose first approval was on ``first_approved_on`` (ISO text or a
    date) was *newly designated* in ``year``.

    >>> newly_designated(2017, "2017-06-20"), newly_designated(2017, date(2016, 12, 31))
    (True, False)
    """
    first = first_approved_on if isinstance(first_approved_on, str) else first_approved_on.isoformat()
    return first[:4] == f"{year:04d}"


def year_bounds(year: int) -> tuple[str, str]:
    """The first and the last day of ``year``, as ISO text."""
    return f"{year:04d}-01-01", f"{year:04d}-12-31"


def designated_sql(d: str, *, status: str = "status", approved_on: str = "approved_on") -> tuple[str, tuple[str, ...]]:
    """:func:`designated_by` ``d`` as an SQL condition, with its ``?`` parameter.

    >>> designated_sql("2016-12-31")
    ("status = 'approved' AND approved_on <= ?", ('2016-12-31',))
    """
    return f"{approved_sql(status)} AND {_col(approved_on)} <= ?", (d,)


def newly_sql(year: int, *, first_approved_on: str = "approved_on") -> tuple[str, tuple[str, ...]]:
    """:func:`newly_designated` ``year`` as an SQL condition over the column holding a subject's
    first approval date, with its ``?`` parameters.

    >>> newly_sql(2017)
    ('approved_on >= ? AND approved_on <= ?', ('2017-01-01', '2017-12-31'))
    """
    col = _col(first_approved_on)
    return f"{col} >= ? AND {col} <= ?", year_bounds(year)


def first_approvals_sql(columns: list[str], table: str, where: str, outer: str = "") -> str:
    """The SELECT of ``columns`` of each subject's first approval (:data:`SUBJECT_SQL`, earliest
    ``approved_on``, then ``application_id``) among the rows of ``table`` that satisfy ``where``
    (:func:`designated_sql` among its conditions), kept when it satisfies ``outer`` too
    (:func:`newly_sql`); parameters in that order.  :func:`first_designations` in SQL.

    >>> first_approvals_sql(["uscc"], "d", "status = 'approved'", "approved_on >= ?")
    "SELECT uscc FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY uscc || '/' || COALESCE(product_id, '') ORDER BY approved_on, application_id) AS first_approval FROM d WHERE status = 'approved') AS firsts WHERE first_approval = 1 AND approved_on >= ?"
    """  # noqa: E501 (a doctest's expected output is one line)
    cols = ", ".join(_col(c) for c in columns)
    return (f"SELECT {cols} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY {SUBJECT_SQL} "
            f"ORDER BY approved_on, application_id) AS first_approval FROM {_col(table)} WHERE {where}) AS firsts "
            f"WHERE first_approval = 1{f' AND {outer}' if outer else ''}")


def first_designations(rows: Iterable[R], d: str) -> dict[str, R]:
    """The Python fold the read model's SQL is held equal to: among ``rows`` (designations as
    they stood on ``d``: ``uscc``, ``product_id``, ``status``, ``approved_on``,
    ``application_id``), each subject's first approval on or before ``d``, by subject."""
    first: dict[str, R] = {}
    for r in rows:
        if not designated_by(d, status=r.status, approved_on=r.approved_on):
            continue
        key = subject_of(r.uscc, r.product_id)
        best = first.get(key)
        if best is None or (r.approved_on, r.application_id) < (best.approved_on, best.application_id):
            first[key] = r
    return first
