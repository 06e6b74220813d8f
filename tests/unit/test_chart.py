"""The digest's chart is a real PNG of the promised size, with or without data."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from datetime import date, timedelta

import pytest

from bot.chart import ChartFailed, digest_chart, render_apart
from store.reporting.digest import SERIES_DAYS, DayPoint

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LABELS = {
    "title": "Last 14 days",
    "received": "received",
    "completed": "completed",
    "median_label": "median repair time (h)",
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
