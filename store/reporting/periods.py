"""Report periods: what a user typed read as UTC bounds, and timestamps read as aware UTC.

Periods are half-open: `start <= t < end`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, overload

from sqlalchemy import String, type_coerce

from store.errors import InvalidInput

DEFAULT_DAYS = 30
MAX_DAYS = 366
PERIOD_HELP = "today, week, month, Nd (N = 1–366), YYYY-MM or YYYY-MM-DD..YYYY-MM-DD"
_DAYS = re.compile(r"([0-9]{1,3})d")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_RANGE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})\s*\.\.\s*([0-9]{4}-[0-9]{2}-[0-9]{2})")


# --- timestamps ---------------------------------------------------------------------------


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: datetime | None) -> datetime | None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC, whatever the driver handed back (None stays None)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


def raw(column: Any) -> Any:
    """A timestamp column without SQLAlchemy's per-value result processing (on SQLite a
    regex parse per value: most of a report's time over tens of thousands of rows); read
    it back with `utc`. Labelled with the column's own name."""
    return type_coerce(column, String).label(column.key)


def utc(value: Any) -> datetime | None:
    """A `raw` timestamp as aware UTC: SQLite's stored text, or the driver's datetime."""
    if isinstance(value, str):
        # SQLite's text is UTC without an offset; parsing it with one is 8x faster than
        # replace(tzinfo=...) afterwards, which counts over tens of thousands of rows.
        return datetime.fromisoformat(value + "+00:00")
    moment: datetime | None = value  # otherwise the driver's datetime, or NULL
    return as_utc(moment)


# --- periods ------------------------------------------------------------------------------


def period_bounds(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """A period a caller passed, as aware UTC; InvalidInput unless it ends after it starts."""
    s, e = as_utc(start), as_utc(end)
    if e <= s:
        raise InvalidInput("period end must be after its start", start=s, end=e)
    return s, e


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def parse_period(text: str | None, now: datetime) -> tuple[datetime, datetime]:
    """(start, end) in aware UTC for a period the user typed; default the last 30 days.

    "today" starts at midnight in `now`'s own zone, so a caller passing campus-local
    `now` gets the campus day; calendar months and dates are UTC.
    """
    if now.utcoffset() is None:
        now = now.replace(tzinfo=UTC)
    spec = (text or "").strip().lower()
    try:
        return _parse(spec, now)
    except (ValueError, OverflowError) as exc:  # impossible dates such as 2026-02-30
        raise InvalidInput(
            f"not a valid period: {text!r}; use {PERIOD_HELP}", period=text
        ) from exc


def _parse(spec: str, now: datetime) -> tuple[datetime, datetime]:
    end = now.astimezone(UTC)
    if not spec:
        return end - timedelta(days=DEFAULT_DAYS), end
    if spec == "today":
        local_midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return local_midnight.astimezone(UTC), end
    if spec == "week":
        return end - timedelta(days=7), end
    if spec == "month":
        return end - timedelta(days=30), end
    if m := _DAYS.fullmatch(spec):
        days = int(m.group(1))
        if not 1 <= days <= MAX_DAYS:
            raise ValueError(days)
        return end - timedelta(days=days), end
    if m := _MONTH.fullmatch(spec):
        year, month = int(m.group(1)), int(m.group(2))
        first = _midnight(date(year, month, 1))
        following = date(year + month // 12, month % 12 + 1, 1)
        return first, _midnight(following)
    if m := _RANGE.fullmatch(spec):
        first_day, last_day = (date.fromisoformat(g) for g in m.groups())
        if last_day < first_day:
            raise ValueError("range ends before it starts")
        return _midnight(first_day), _midnight(last_day) + timedelta(days=1)
    raise ValueError(spec)
