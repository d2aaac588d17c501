"""Rule 4 has one spelling (domain.validity) and every copy calls it: the answer does not
depend on how a caller holds its dates (dates, ISO text, ordinals), and the aggregate, the
pool rows and the generator's mirror agree with it."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.enterprise import Application
from domain.validity import end_of_validity, in_force_on, valid_on
from projections.pools import Designation, PoolMember, Version, in_force

BASE = date(2023, 1, 1)
# a short span of days, so that boundaries (d == valid_from, d == revoked_on ...) are hit often
days = st.integers(min_value=0, max_value=12).map(lambda n: BASE + timedelta(days=n))
maybe_days = st.none() | days
statuses = st.sampled_from(["approved", "approved", "applied", "noticed", "rejected", "annulled"])


def iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def ordinal(d: date | None) -> int | None:
    return None if d is None else d.toordinal()


@settings(max_examples=500, deadline=None)
@given(status=statuses, valid_from=maybe_days, valid_until=maybe_days, revoked_on=maybe_days, ended_on=maybe_days,
       d=days)
def test_the_rule_is_the_same_on_dates_text_and_ordinals_and_in_every_caller(status, valid_from, valid_until,
                                                                            revoked_on, ended_on, d) -> None:  # type: ignore[no-untyped-def]
    expected = (status == "approved" and valid_from is not None and valid_until is not None
                and valid_from <= d < valid_until
                and (revoked_on is None or d < revoked_on) and (ended_on is None or d < ended_on))
    assert valid_on(d, status=status, valid_from=valid_from, valid_until=valid_until, revoked_on=revoked_on,
                    ended_on=ended_on) is expected
    assert valid_on(d.isoformat(), status=status, valid_from=iso(valid_from), valid_until=iso(valid_until),
                    revoked_on=iso(revoked_on), ended_on=iso(ended_on)) is expected
    assert valid_on(d.toordinal(), status=status, valid_from=ordinal(valid_from), valid_until=ordinal(valid_until),
                    revoked_on=ordinal(revoked_on), ended_on=ordinal(ended_on)) is expected
    app = Application(id="a", programme="national", tier="specialized", level="provincial", product_id=None,
                      product_name=None, applied_on=BASE, status=status, valid_from=valid_from,
                      valid_until=valid_until, revoked_on=revoked_on, ended_on=ended_on)
    assert app.valid_on(d) is expected
    row = Designation(key="e/a", enterprise_id="e", uscc="U", name="n", region="211402", programme="national",
                      tier="specialized", level="provincial", application_id="a", status=status,
                      valid_from=iso(valid_from), valid_until=iso(valid_until), revoked_on=iso(revoked_on),
                      ended_on=iso(ended_on))
    assert row.valid_on(iso(d)) is expected  # type: ignore[arg-type]
    if status == "approved" and valid_from is not None and valid_until is not None:
        # the report's intervals: valid exactly from valid_from until the end of validity
        assert (valid_from <= d < end_of_validity(valid_until, revoked_on, ended_on)) is expected


def test_the_generator_mirrors_the_same_rule() -> None:
    from scenarios.generate import _App, _Round

    a = _App("a", "specialized", BASE.toordinal(), _Round("specialized", 2023, "", [0] * 6))
    a.status, a.valid_from, a.valid_until = "approved", BASE.toordinal(), (BASE + timedelta(days=10)).toordinal()
    a.revoked = (BASE + timedelta(days=5)).toordinal()
    assert [a.valid_on((BASE + timedelta(days=n)).toordinal()) for n in (-1, 0, 4, 5, 10)] == \
        [False, True, True, False, False]


@settings(max_examples=300, deadline=None)
@given(sinces=st.lists(days, min_size=1, max_size=5, unique=True), d=days)
def test_one_version_of_a_row_stands_on_each_day_from_the_first(sinces, d) -> None:  # type: ignore[no-untyped-def]
    sinces = sorted(iso(s) for s in sinces)  # type: ignore[misc]
    versions = [Version(PoolMember(key="k", enterprise_id="e", uscc="U", name=f"v{i}", region="211402",
                                   programme="national", tier="innovative", admitted_on=sinces[0], since=s),
                        sinces[i + 1] if i + 1 < len(sinces) else None) for i, s in enumerate(sinces)]
    standing = [v for v in versions if in_force_on(v.row.since, v.until, iso(d))]  # type: ignore[arg-type]
    assert len(standing) == (1 if iso(d) >= sinces[0] else 0)  # type: ignore[operator]
    found = in_force(reversed(versions), iso(d))  # type: ignore[arg-type]
    assert found is (standing[0].row if standing else None)
