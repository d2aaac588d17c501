"""The review history (复核): one row per ``Reviewed`` event, so a designation's state on a
past business date can be told apart from its state now.

A designation row (:class:`projections.pools.Designation`) holds the *current* state: a
review passed after a date D has already extended its ``valid_until`` (or set
``replaced_by``), a review failed after D has set ``review_failed``.  The report's lists
"expiring within 90 days" and "due for review" as of D need the state on D, which these
rows give back: the ``period_until`` a review was for is the ``valid_until`` the
designation had until that review (:func:`state_on`).

A pure fold: :func:`apply_event` must see each ``Reviewed`` event *before* the pool fold
applies it, while the designation row still has the period's ``valid_until``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from projections.pools import Designation, PoolState, aggregate_key


class ReviewRow(msgspec.Struct, kw_only=True):
    key: str  # enterprise_id#version of the Reviewed event
    enterprise_id: str
    application_id: str  # the designation reviewed
    occurred_on: str  # business date of the review
    passed: bool
    period_until: str | None  # the designation's valid_until before the review: the period reviewed
    valid_until: str | None = None  # after a pass: the new end of validity
    new_application_id: str | None = None  # after a pass recorded as a new designation (Liaoning)
    changed_at: int = 0


class ReviewState:
    def __init__(self) -> None:
        self.reviews: dict[str, ReviewRow] = {}
        self.dirty: set[tuple[str, str]] = set()  # ("review", key)


def apply_event(state: ReviewState, ev: Any, pools: PoolState, position: int = 0) -> None:
    """Fold a ``Reviewed`` event (others are ignored).  Call it before
    :func:`projections.pools.apply_event` folds the same event."""
    if type(ev).__name__ == "Reviewed":
        fold(state, ev, aggregate_key(ev.originator_id), pools, position)


def fold(state: ReviewState, ev: Any, eid: str, pools: PoolState, position: int) -> None:
    """:func:`apply_event` of a ``Reviewed`` event of aggregate ``eid``."""
    d = pools.designations[f"{eid}/{ev.application_id}"]
    key = f"{eid}#{ev.originator_version}"
    state.reviews[key] = ReviewRow(
        key=key, enterprise_id=eid, application_id=ev.application_id, occurred_on=ev.occurred_on.isoformat(),
        passed=ev.passed, period_until=d.valid_until,
        valid_until=ev.valid_until.isoformat() if ev.valid_until else None,
        new_application_id=ev.new_application_id, changed_at=position)
    state.dirty.add(("review", key))


class StateOn(msgspec.Struct, frozen=True):
    """A designation as it stood on a date: its end of validity then, and whether it had
    been reviewed (passed or failed) for the period ending there."""

    valid_until: str | None
    reviewed: bool
    renewed: bool  # reviewed with a pass


def state_on(d: Designation, reviews: Iterable[ReviewRow], on: str) -> StateOn:
    """``d`` on business date ``on``, given the review rows of ``d`` (any order).

    >>> d = Designation(key="e/a", enterprise_id="e", uscc="U", name="n", region="211402", programme="national",
    ...     tier="specialized", level="provincial", application_id="a", status="approved",
    ...     valid_from="2020-07-01", valid_until="2026-07-01")
    >>> r = ReviewRow(key="e#9", enterprise_id="e", application_id="a", occurred_on="2023-03-01", passed=True,
    ...     period_until="2023-07-01", valid_until="2026-07-01")
    >>> state_on(d, [r], "2023-02-01")  # before the review: the period ending 2023-07-01, not reviewed
    StateOn(valid_until='2023-07-01', reviewed=False, renewed=False)
    >>> state_on(d, [r], "2023-03-01")  # after it: a new period, not reviewed yet
    StateOn(valid_until='2026-07-01', reviewed=False, renewed=False)
    """
    mine = sorted((r for r in reviews if r.application_id == d.application_id),
                  key=lambda r: (r.occurred_on, r.changed_at))
    later = [r for r in mine if r.occurred_on > on]
    until = later[0].period_until if later else d.valid_until
    done = [r for r in mine if r.occurred_on <= on and r.period_until == until]
    return StateOn(valid_until=until, reviewed=bool(done), renewed=any(r.passed for r in done))
