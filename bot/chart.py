"""The digest's chart: 14 days of received against completed, and the median repair time.

The bot draws it in a short-lived child process (`render_apart`, `python -m bot.chart`):
matplotlib, numpy and their fonts take ~50 MiB that an import would keep in the bot for
good, for a chart drawn once a day per supervisor (issue 28: the start-up's digest
catch-up grew the bot's memory by that much).
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from bot.fonts import label_fonts
from store.reporting.digest import DayPoint

CHILD_TIMEOUT_S = 120.0


class ChartFailed(RuntimeError):
    """The child drawing the chart failed or took too long (the digest is retried)."""


async def render_apart(
    series: Sequence[DayPoint],
    *,
    title: str,
    received: str,
    completed: str,
    median_label: str,
    empty: str,
) -> bytes:
    """`digest_chart` drawn by a child process: the same PNG, and matplotlib never loaded
    in this one. The series and labels go in as JSON on stdin, the PNG comes back on
    stdout."""
    request = {
        "series": [
            [p.day.isoformat(), p.received, p.completed, p.median_completion_minutes]
            for p in series
        ],
        "labels": {
            "title": title,
            "received": received,
            "completed": completed,
            "median_label": median_label,
            "empty": empty,
        },
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.chart",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        png, err = await asyncio.wait_for(
            child.communicate(json.dumps(request).encode()), CHILD_TIMEOUT_S
        )
    except TimeoutError:
        child.kill()
        await child.wait()
        raise ChartFailed(f"no chart after {CHILD_TIMEOUT_S:.0f} s") from None
    if child.returncode != 0 or not png:
        said = err.decode(errors="replace").strip().splitlines()
        last = said[-1] if said else "no output"
        raise ChartFailed(f"chart child exited {child.returncode}: {last}")
    return png


def _serve_one() -> None:
    """The child's side of `render_apart`: one request on stdin, the PNG on stdout."""
    request = json.loads(sys.stdin.buffer.read())
    series = [
        DayPoint(date.fromisoformat(day), int(got), int(done), median)
        for day, got, done, median in request["series"]
    ]
    sys.stdout.buffer.write(digest_chart(series, **request["labels"]))
    sys.stdout.buffer.flush()


if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def digest_figure(
    series: Sequence[DayPoint],
    *,
    title: str,
    received: str,
    completed: str,
    median_label: str,
    empty: str,
) -> Figure:
    """The chart as a matplotlib Figure (the caller closes it). Counts are whole tickets:
    the count axis starts at 0 with whole-number ticks; a fortnight without a ticket draws
    that axis 0..1 with `empty` written across it, never negative ticks."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    from matplotlib import pyplot as plt

    # Chinese labels need a CJK font (Debian: fonts-noto-cjk), found on disk even when
    # installed after matplotlib built its cache; without one the figures stay readable
    # but Chinese shows as boxes.
    plt.rcParams["font.sans-serif"] = label_fonts()

    days = [p.day.strftime("%m-%d") for p in series]
    x = list(range(len(series)))
    fig, ax = plt.subplots(figsize=(10, 5), dpi=100)
    try:
        _draw(fig, ax, series, days, x, received, completed, title, median_label, empty)
    except BaseException:
        plt.close(fig)
        raise
    return fig


def _draw(
    fig: Figure,
    ax: Axes,
    series: Sequence[DayPoint],
    days: list[str],
    x: list[int],
    received: str,
    completed: str,
    title: str,
    median_label: str,
    empty: str,
) -> None:
    from matplotlib.ticker import MaxNLocator

    width = 0.4
    ax.bar(
        [i - width / 2 for i in x],
        [p.received for p in series],
        width,
        label=received,
        color="#8da0cb",
    )
    ax.bar(
        [i + width / 2 for i in x],
        [p.completed for p in series],
        width,
        label=completed,
        color="#66c2a5",
    )
    ax.set_xticks(x, days, rotation=45, ha="right")
    ax.set_ylabel("#")
    ax.set_title(title)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    highest = max((max(p.received, p.completed) for p in series), default=0)
    if highest == 0:
        ax.set_ylim(0, 1)
        ax.text(
            0.5,
            0.5,
            empty,
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=16,
            color="#666666",
        )
    else:
        ax.set_ylim(0, highest * 1.1)
    hours = [
        None if p.median_completion_minutes is None else p.median_completion_minutes / 60
        for p in series
    ]
    twin = ax.twinx()
    twin.plot(
        [i for i, h in zip(x, hours, strict=True) if h is not None],
        [h for h in hours if h is not None],
        color="#fc8d62",
        marker="o",
        label=median_label,
    )
    twin.set_ylabel("h")
    marked = [h for h in hours if h is not None]
    if marked:  # at least an hour high: a repair of seconds is not drawn on a µh scale
        twin.set_ylim(0, max(1.0, max(marked) * 1.15))
    else:  # no repair finished: no hours to mark
        twin.set_ylim(0, 1)
        twin.set_yticks([])
    handles = ax.get_legend_handles_labels()
    twin_handles = twin.get_legend_handles_labels()
    ax.legend(handles[0] + twin_handles[0], handles[1] + twin_handles[1], loc="upper left")
    fig.tight_layout()


def digest_chart(
    series: Sequence[DayPoint],
    *,
    title: str,
    received: str,
    completed: str,
    median_label: str,
    empty: str,
) -> bytes:
    """A PNG (about 1000×500 px) of the series; labels come from the caller's catalog."""
    from matplotlib import pyplot as plt

    fig = digest_figure(
        series,
        title=title,
        received=received,
        completed=completed,
        median_label=median_label,
        empty=empty,
    )
    try:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(fig)


if __name__ == "__main__":
    _serve_one()
