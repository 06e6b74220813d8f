"""Parsing the period a supervisor types after /stats or /export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.errors import InvalidInput
from store.reporting.periods import parse_period

NOW = datetime(2026, 3, 15, 10, 30, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        (None, 30),
        ("", 30),
        ("  ", 30),
        ("7d", 7),
        ("30D", 30),
        (" 1d ", 1),
        ("366d", 366),
        ("week", 7),
        ("WEEK", 7),
        ("month", 30),
    ],
)
def test_relative_periods_end_now(text: str | None, days: int) -> None:
    assert parse_period(text, NOW) == (NOW - timedelta(days=days), NOW)


def test_today_starts_at_midnight_of_nows_zone() -> None:
    assert parse_period("today", NOW) == (utc(2026, 3, 15), NOW)
    # Campus-local "now": the day starts at local midnight, returned in UTC.
    local = NOW.astimezone(ZoneInfo("Asia/Taipei"))  # 18:30 on the 15th in Taipei
    assert parse_period("today", local) == (utc(2026, 3, 14, 16), NOW)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-02", utc(2026, 2, 1), utc(2026, 3, 1)),
        ("2024-02", utc(2024, 2, 1), utc(2024, 3, 1)),
        ("2025-12", utc(2025, 12, 1), utc(2026, 1, 1)),
        ("2026-03-01..2026-03-07", utc(2026, 3, 1), utc(2026, 3, 8)),
        ("2026-03-01 .. 2026-03-01", utc(2026, 3, 1), utc(2026, 3, 2)),
        ("2025-12-31..2026-01-01", utc(2025, 12, 31), utc(2026, 1, 2)),
    ],
)
def test_calendar_periods_are_utc_and_end_exclusive(
    text: str, start: datetime, end: datetime
) -> None:
    assert parse_period(text, NOW) == (start, end)


def test_naive_now_is_taken_as_utc() -> None:
    assert parse_period("7d", NOW.replace(tzinfo=None)) == (NOW - timedelta(days=7), NOW)


@pytest.mark.parametrize(
    "text",
    [
        "0d",
        "367d",
        "1000d",
        "-7d",
        "7",
        "d",
        "7 days",
        "yesterday",
        "2026-13",
        "2026-00",
        "0000-01",
        "26-03",
        "2026-02-30..2026-03-01",
        "2026-03-07..2026-03-01",
        "2026-03-01..",
        "..2026-03-01",
        "2026-03-01",
        "9999-12",
        "9999-12-31..9999-12-31",
        "７d",  # full-width digit
        "٧d",  # Arabic-Indic digit
    ],
)
def test_garbage_is_refused_with_a_clear_message(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_period(text, NOW)
    message = str(info.value)
    assert repr(text) in message
    assert "YYYY-MM" in message and "today" in message
    assert info.value.code == "error.invalid"


@given(st.text(max_size=40))
def test_any_text_gives_a_period_or_invalid_input(text: str) -> None:
    try:
        start, end = parse_period(text, NOW)
    except InvalidInput:
        return
    assert start.utcoffset() == timedelta(0) and end.utcoffset() == timedelta(0)
    assert start < end


@given(st.from_regex(r"\A[0-9]{4}-[0-9]{2}(-[0-9]{2}\.\.[0-9]{4}-[0-9]{2}-[0-9]{2})?\Z"))
def test_date_shaped_text_gives_a_period_or_invalid_input(text: str) -> None:
    try:
        start, end = parse_period(text, NOW)
    except InvalidInput:
        return
    assert start < end
