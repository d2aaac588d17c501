"""The Chinese working-day calendar, for notice periods (公示期) counted in working days.

One home for the arithmetic of a notice's end: :func:`notice_end` is what ``open_notice``
records as ``notice_until``, what the generator's twin predicts and what every view of a
notice shows.  A notice opened on day ``d`` for ``n`` days runs over its first ``n`` days
counted from ``d`` itself, and ``notice_until`` is the first day after them: objections are
taken while ``notice_from <= day < notice_until`` and the approval may come from
``notice_until`` on.  Calendar days: ``notice_until = d + n``.  Working days: the same rule
counting only working days (工作日): the opening day counts when it is one, statutory holidays
(法定节假日) and weekends do not, and the weekend days worked in their place (调休上班) do;
``notice_until`` is the calendar day after the ``n``-th working day (it may itself be a
holiday: the notice is over, whatever the day).

Which days are worked is the State Council's yearly notice (国务院办公厅关于部分节假日安排的通知),
as the maintained package ``chinesecalendar`` ships it; a date outside the years it covers
is refused (``notice.outside_calendar``), never guessed.

>>> from datetime import date
>>> notice_end(date(2023, 11, 6), 5, "calendar"), notice_end(date(2023, 11, 6), 5, "working")
(datetime.date(2023, 11, 11), datetime.date(2023, 11, 11))
>>> notice_end(date(2023, 11, 9), 5, "calendar"), notice_end(date(2023, 11, 9), 5, "working")
(datetime.date(2023, 11, 14), datetime.date(2023, 11, 16))

Opened on Thursday 28 September 2023, before 中秋 and 国庆 (29 September to 6 October off,
Saturday 7 and Sunday 8 October worked): 28 Sep, 7, 8, 9, 10 Oct are its five working days.

>>> notice_end(date(2023, 9, 28), 5, "working")
datetime.date(2023, 10, 11)
>>> add_working_days(date(2023, 9, 28), 2), add_working_days(date(2023, 9, 29), 1)
(datetime.date(2023, 10, 8), datetime.date(2023, 10, 8))

春节 2024 (10 to 17 February off, Sunday 4 and Sunday 18 February worked):

>>> notice_end(date(2024, 2, 3), 5, "working"), notice_end(date(2024, 2, 8), 3, "working")
(datetime.date(2024, 2, 9), datetime.date(2024, 2, 19))
>>> add_working_days(date(2024, 2, 8), 0)
datetime.date(2024, 2, 8)
>>> add_working_days(date(2030, 1, 2), 5)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
domain.errors.RuleViolation: notice.outside_calendar [occurred_on]: ... 2030-01-02: ... covers 2004 to 2026 only ...
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

import chinese_calendar
from chinese_calendar import constants as _calendar_data

from domain.errors import RuleViolation

# The years the package's data covers (each a State Council notice), as it says itself.
COVERED_YEARS: tuple[int, int] = (min(d.year for d in _calendar_data.holidays),
                                  max(d.year for d in _calendar_data.holidays))


def _refuse(day: date, start: date, field: str) -> RuleViolation:
    first, last = COVERED_YEARS
    what = f"cannot start on {start}" if day == start else f"opened on {start} would run into {day}"
    return RuleViolation("order", "notice.outside_calendar",
                         f"a notice counted in working days {what}: the working-day calendar (chinesecalendar) "
                         f"covers {first} to {last} only", field=field)


def is_working_day(day: date, *, start: date | None = None, field: str = "occurred_on") -> bool:
    """Whether ``day`` is worked in China (weekday not a holiday, or a 调休 weekend day)."""
    if not COVERED_YEARS[0] <= day.year <= COVERED_YEARS[1]:
        raise _refuse(day, start or day, field)
    return bool(chinese_calendar.is_workday(day))


def add_working_days(start: date, n: int, *, field: str = "occurred_on") -> date:
    """The working-day twin of ``start + timedelta(days=n)``: the day after the ``n``-th
    working day counted from ``start`` (``start`` itself counts when it is worked);
    ``start`` for ``n == 0``."""
    day, left = start, n
    while left > 0:
        if is_working_day(day, start=start, field=field):
            left -= 1
        day += timedelta(days=1)
    return day


def notice_end(opened: date, days: int, kind: Literal["calendar", "working"], *,
               field: str = "occurred_on") -> date:
    """``notice_until`` of a notice opened on ``opened`` for ``days`` days of ``kind``: the
    first day on which the notice no longer runs (see the module docstring)."""
    if kind == "working":
        return add_working_days(opened, days, field=field)
    return opened + timedelta(days=days)
