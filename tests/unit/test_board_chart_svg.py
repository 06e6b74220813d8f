"""The board's SVG charts (bot/board/charts.py): count axes from 0 in whole numbers, names
escaped, the figures in words for screen readers, and figures that say what they rest on."""

from __future__ import annotations

import itertools
import re
from datetime import date, timedelta

import pytest

from bot.board import charts as svg
from bot.i18n import Texts
from store.reporting.charts import Charts, DayCount, Part, WeekTimes

EN = Texts("en", "Asia/Shanghai")


@pytest.mark.parametrize("top", [0, 1, 3, 5, 6, 7, 11, 23, 99, 101, 1234, 98765])
def test_count_axes_start_at_zero_with_whole_steps_covering_the_top(top: int) -> None:
    ticks = svg.count_ticks(top)
    assert ticks[0] == 0 and ticks[-1] >= top and 2 <= len(ticks) <= svg.MAX_TICKS + 1
    steps = {b - a for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1 and steps.pop() >= 1


def _charts(received: list[int], names: list[str]) -> Charts:
    first = date(2026, 11, 1)
    daily = [DayCount(first + timedelta(days=i), n, n // 2) for i, n in enumerate(received)]
    return Charts(
        days=len(received),
        first_day=first,
        last_day=daily[-1].day,
        received=sum(received),
        completed=sum(d.completed for d in daily),
        median=timedelta(minutes=42),
        p90=None,
        daily=daily,
        weekly=[WeekTimes(date(2026, 10, 27), 3, timedelta(minutes=42), None)],
        by_category=[Part("water", "water", 4, 0)],
        by_building=[Part(str(i), name, 3, 1) for i, name in enumerate(names, 1)],
    )


def test_a_chart_says_its_figures_in_words_and_escapes_names() -> None:
    c = _charts([0, 2, 5, 1] * 7 + [3, 0], ['<script>alert("x")</script>', "E1 & E2"])
    daily = str(svg.daily(EN, c))
    assert daily.startswith("<svg") and 'role="img"' in daily
    assert "<title" in daily and "<desc" in daily
    label = re.search(r'aria-label="([^"]*)"', daily)
    assert label is not None and f"{c.received} received, {c.completed} completed" in label[1]
    # The count axis: 0 up to the busiest day in whole numbers.
    ticks = re.findall(r'<text class="tick" x="40" [^>]*>(\d+)</text>', daily)
    assert ticks[0] == "0" and int(ticks[-1]) >= 5
    # Lines told apart without colour: solid with circles, dashed with squares, named.
    assert 'class="l-a"' in daily and 'class="l-b"' in daily
    assert "received 0" in daily and "completed 0" in daily
    bars = str(svg.bars(EN, c.by_building, category=False, ident="b"))
    assert "<script>" not in bars and "&lt;script&gt;" in bars
    assert "E1 &amp; E2: 3 received, 1 completed" in bars
    assert 'fill="url(#b-hatch)"' in bars  # received hatched, completed solid


def test_figures_say_how_many_tickets_they_rest_on() -> None:
    minutes = timedelta(minutes=42)
    assert svg.sample(EN, 0, None, None) == "no completed tickets yet"
    assert svg.sample(EN, 1, minutes, None) == "median 42 min · 1 ticket"
    assert svg.sample(EN, 12, minutes, timedelta(hours=2)) == (
        "median 42 min · p90 2 h 0 min · 12 tickets"
    )
    assert svg.share_sample(EN, None, 0) == "no completed tickets yet"
    assert svg.share_sample(EN, 2 / 3, 3) == "67% · of 3 tickets"
    zh = Texts("zh_Hans", "Asia/Shanghai")
    assert svg.sample(zh, 3, minutes, None) == "中位数 42 分钟 · 3 张工单"


def test_a_timeline_note_holding_a_moment_is_shown_in_campus_time() -> None:
    assert EN.event_note("visit_proposed", "2026-12-07T08:00:00+00:00") == "2026-12-07 16:00"
    assert EN.event_note("promise_missed", "2026-12-07T20:30:00+00:00") == "2026-12-08 04:30"
    # Other notes as written, a note that is not a moment too.
    assert EN.event_note("comment", "2026-12-07T08:00:00+00:00") == "2026-12-07T08:00:00+00:00"
    assert EN.event_note("visit_proposed", "tomorrow") == "tomorrow"
    assert EN.event_note("visit_proposed", None) is None
