"""Calendar arithmetic for schedules: month steps and day counts. Pure."""

from __future__ import annotations

import calendar
from datetime import date
from enum import StrEnum
from functools import lru_cache


class DayCount(StrEnum):
    """Day-count conventions for interest."""

    THIRTY_360 = "30/360"
    ACT_365 = "act/365"
    ACT_360 = "act/360"

    @property
    def basis(self) -> int:
        return 365 if self is DayCount.ACT_365 else 360


# cached: schedules ask for the same few thousand (anchor, k) pairs millions of times
@lru_cache(maxsize=1 << 16)
def add_months(anchor: date, months: int) -> date:
    """``anchor`` moved by ``months``, its day clamped to the month's end (Jan 31 → Feb 28)."""
    month_index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(month_index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(anchor.day, last))


def days_30_360(start: date, end: date) -> int:
    """Days between two dates under the 30/360 (bond basis) convention."""
    d1 = min(start.day, 30)
    d2 = end.day
    if d1 == 30 and d2 == 31:
        d2 = 30
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)


def period_days(start: date, end: date, day_count: DayCount) -> int:
    """Days of interest between ``start`` and ``end`` under ``day_count``."""
    if day_count is DayCount.THIRTY_360:
        return days_30_360(start, end)
    return (end - start).days
