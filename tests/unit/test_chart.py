"""The digest's chart is a real PNG of the promised size, with or without data."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from datetime import date, timedelta

import pytest

from bot.chart import ChartFailed, digest_chart, digest_figure, render_apart
from store.reporting.digest import SERIES_DAYS, DayPoint

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LABELS = {
    "title": "Last 14 days",
    "received": "received",
    "completed": "completed",
    "median_label": "median repair time (h)",
    "empty": "No tickets in these 14 days",
}


def series(*, empty: bool = False) -> list[DayPoint]:
    last = date(2026, 3, 10)
    points = []
    for k in range(SERIES_DAYS):
        day = last - timedelta(days=SERIES_DAYS - 1 - k)
        if empty:
            points.append(DayPoint(day, 0, 0, None))
        else:
            done = k % 4
            points.append(DayPoint(day, 3 + k % 5, done, 45.0 + 20 * k if done else None))
    return points


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk, each checked against its CRC."""
    found = []
    pos = len(PNG_SIGNATURE)
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + data) == crc, f"bad CRC in {kind!r}"
        found.append((kind, data))
        pos += 12 + length
    return found


@pytest.mark.parametrize("empty", [False, True], ids=["data", "quiet fortnight"])
def test_digest_chart_is_a_png_of_about_1000_by_500(empty: bool) -> None:
    png = digest_chart(series(empty=empty), **LABELS)
    assert png.startswith(PNG_SIGNATURE)
    found = chunks(png)
    kind, header = found[0]
    assert kind == b"IHDR"
    width, height, bit_depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert (width, height) == (1000, 500)
    assert bit_depth == 8 and colour_type in (2, 6)  # truecolour (with alpha)
    assert found[-1] == (b"IEND", b"")
    assert any(kind == b"IDAT" for kind, _ in found)
    assert 10_000 <= len(png) <= 500_000


def test_the_bot_draws_the_chart_in_a_child_and_never_loads_matplotlib() -> None:
    # The same PNG as drawn in process, and the bot's own memory keeps no matplotlib
    # (~50 MiB for good after one chart): run in a fresh interpreter, since other tests in
    # this one may have imported it.
    code = (
        "import asyncio, json, sys; from tests.unit.test_chart import LABELS, series; "
        "from bot.chart import render_apart; "
        "png = asyncio.run(render_apart(series(), **LABELS)); "
        "sys.stdout.buffer.write(png); "
        "sys.stderr.write(json.dumps('matplotlib' in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, timeout=180
    )
    assert json.loads(done.stderr.decode().strip().splitlines()[-1]) is False
    assert done.stdout == digest_chart(series(), **LABELS)


async def test_a_chart_child_that_fails_says_so() -> None:
    # A broken request (a label the chart does not know) ends the child with an error:
    # the digest sees ChartFailed, logs it and is retried by its stale claim.
    broken = [DayPoint(date(2026, 3, 10), "many", 0, None)]  # type: ignore[arg-type]
    with pytest.raises(ChartFailed, match="exited 1: ValueError"):
        await render_apart(broken, **LABELS)


def count_axis(points: list[DayPoint]) -> tuple[tuple[float, float], list[float], list[str]]:
    """The drawn figure's count axis: its limits, the ticks shown within them, and every
    text written on it."""
    from matplotlib import pyplot as plt  # here: the child test imports this module

    fig = digest_figure(points, **LABELS)
    try:
        fig.canvas.draw()
        ax = fig.axes[0]
        low, high = ax.get_ylim()
        shown = [t for t in ax.get_yticks() if low <= t <= high]
        return (low, high), shown, [text.get_text() for text in ax.texts]
    finally:
        plt.close(fig)


def test_a_fortnight_without_tickets_draws_0_to_1_and_says_so() -> None:
    (low, high), ticks, texts = count_axis(series(empty=True))
    assert (low, high) == (0, 1)  # not -0.04..0.04
    assert ticks == [0, 1]
    assert texts == ["No tickets in these 14 days"]


@pytest.mark.parametrize("most", [1, 3, 7, 250])
def test_counts_start_at_0_with_whole_number_ticks(most: int) -> None:
    last = date(2026, 3, 10)
    points = [
        DayPoint(last - timedelta(days=SERIES_DAYS - 1 - k), most if k == 5 else 0, 0, None)
        for k in range(SERIES_DAYS)
    ]
    (low, high), ticks, texts = count_axis(points)
    assert low == 0 and high >= most
    assert len(ticks) >= 2 and all(t >= 0 and t == int(t) for t in ticks)
    assert texts == []  # the empty-chart label only on an empty chart


def test_the_hours_axis_is_at_least_an_hour_high() -> None:
    last = date(2026, 3, 10)
    quick = [  # a repair done in seconds, and one of 30 hours
        DayPoint(last - timedelta(days=SERIES_DAYS - 1 - k), 1, 1, minutes)
        for k, minutes in enumerate([0.02] + [None] * (SERIES_DAYS - 2) + [1800.0])
    ]
    from matplotlib import pyplot as plt

    for points, top in (([*quick[:-1], DayPoint(last, 0, 0, None)], 1.0), (quick, 30.0)):
        fig = digest_figure(points, **LABELS)
        try:
            low, high = fig.axes[1].get_ylim()
        finally:
            plt.close(fig)
        assert low == 0 and top <= high <= top * 1.2
