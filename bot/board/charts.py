"""The board's charts as inline SVG, drawn on the server: no script and nothing from
elsewhere (the board's CSP), readable without colour.

Each chart is an `<svg role="img">` with a <title>, a <desc> and an aria-label giving its
figures; the page puts the same figures in a table beside it. Lines differ by dash and
marker shape and are named at their ends; bars carry their numbers; the building bars
tell received (hatched) from completed (solid) by pattern. Count axes start at 0 with
whole-number ticks. Colours and sizes come from board.css (classes), and the rest are SVG
presentation attributes, which the CSP's style-src does not govern.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from babel.dates import format_skeleton
from markupsafe import Markup, escape

from bot.i18n import BABEL_LOCALE, Texts
from bot.ui import duration
from store.reporting.charts import Charts, Part

WIDTH = 640
LEFT, RIGHT, TOP, BOTTOM = 44, 96, 12, 26
# Minute steps a duration axis may take (up to a week).
MINUTE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 4320, 10080)
MAX_TICKS = 5
LABEL_CHARS = 14  # a bar's name in the chart; the table beside it has the whole name


def count_ticks(top: int) -> list[int]:
    """Whole-number ticks from 0 covering `top`: steps of 1, 2 or 5 times a power of ten,
    at most MAX_TICKS + 1 of them."""
    top = max(top, 1)
    step = 1
    while -(-top // step) > MAX_TICKS:
        step = _next_step(step)
    return list(range(0, -(-top // step) * step + 1, step))


def _next_step(step: int) -> int:
    digits = str(step)
    lead, zeros = int(digits[0]), len(digits) - 1
    factor: int = {1: 2, 2: 5, 5: 10}[lead]
    return factor * int(10**zeros)


def minute_ticks(top: float) -> list[int]:
    """Ticks in whole minutes from 0 covering `top` minutes, on MINUTE_STEPS."""
    for step in MINUTE_STEPS:
        if -(-max(top, 1) // step) <= MAX_TICKS:
            break
    last = int(-(-max(top, 1) // step) * step)
    return list(range(0, last + 1, step))


def minutes_label(t: Texts, minutes: int) -> str:
    if minutes and minutes % 60 == 0:
        return t("charts.axis_hours", h=minutes // 60)
    return t("charts.axis_minutes", m=minutes)


def day_label(t: Texts, day: date) -> str:
    """A day as "7/12" or "12/7" in the viewer's language's order."""
    return format_skeleton("Md", day, locale=BABEL_LOCALE[t.language])


@dataclass(frozen=True, slots=True)
class _Line:
    name: str
    values: Sequence[float | None]
    kind: str  # css class: "a" (solid, circles) or "b" (dashed, squares)


def _open(ident: str, height: int, title: str, desc: str, label: str, css: str) -> list[str]:
    return [
        f'<svg class="chart {css}" id="{ident}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(label)}" aria-labelledby="{ident}-t {ident}-d" '
        'preserveAspectRatio="xMinYMin meet">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<desc id="{ident}-d">{escape(desc)}</desc>',
    ]


def _y_axis(ticks: list[int], labels: Iterable[str], y: object, right: int) -> list[str]:
    out = []
    for tick, text in zip(ticks, labels, strict=True):
        at = y(tick)  # type: ignore[operator]
        out.append(f'<line class="grid" x1="{LEFT}" x2="{right}" y1="{at:.1f}" y2="{at:.1f}"/>')
        out.append(f'<text class="tick" x="{LEFT - 4}" y="{at + 4:.1f}" text-anchor="end">')
        out.append(f"{escape(text)}</text>")
    return out


def _lines(
    ident: str,
    height: int,
    title: str,
    desc: str,
    label: str,
    x_labels: Sequence[str],
    lines: Sequence[_Line],
    ticks: list[int],
    tick_labels: Sequence[str],
    css: str,
) -> Markup:
    """A line chart: a point per x label, gaps for None, each line named at its end."""
    n = len(x_labels)
    right = WIDTH - RIGHT
    bottom = height - BOTTOM
    top_value = ticks[-1] or 1

    def x(i: int) -> float:
        return LEFT + (right - LEFT) * (i + 0.5) / max(n, 1)

    def y(v: float) -> float:
        return bottom - (bottom - TOP) * v / top_value

    out = _open(ident, height, title, desc, label, css)
    out += _y_axis(ticks, tick_labels, y, right)
    out.append(f'<line class="axis" x1="{LEFT}" x2="{right}" y1="{bottom}" y2="{bottom}"/>')
    every = max(1, -(-n // 6))
    for i, text in enumerate(x_labels):
        if i % every == 0:
            out.append(
                f'<text class="tick" x="{x(i):.1f}" y="{bottom + 16}" text-anchor="middle">'
                f"{escape(text)}</text>"
            )
    ends: list[tuple[float, str, str]] = []
    markers = n <= 31
    for line in lines:
        segments: list[list[str]] = [[]]
        for i, v in enumerate(line.values):
            if v is None:
                segments.append([])
                continue
            segments[-1].append(f"{x(i):.1f},{y(v):.1f}")
            if markers and line.kind == "a":
                out.append(f'<circle class="m-a" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3"/>')
            elif markers:
                out.append(
                    f'<rect class="m-b" x="{x(i) - 3:.1f}" y="{y(v) - 3:.1f}" '
                    'width="6" height="6"/>'
                )
        for points in segments:
            if len(points) > 1:
                out.append(f'<polyline class="l-{line.kind}" points="{" ".join(points)}"/>')
        last = [(i, v) for i, v in enumerate(line.values) if v is not None]
        if last:
            i, v = last[-1]
            ends.append((y(v), line.name, line.kind))
    # Names at the line ends, pushed apart when they would overlap.
    ends.sort()
    placed: list[float] = []
    for at, name, kind in ends:
        at = max(at, placed[-1] + 14) if placed else at
        placed.append(at)
        out.append(
            f'<text class="end e-{kind}" x="{right + 6}" y="{at + 4:.1f}">{escape(name)}</text>'
        )
    out.append("</svg>")
    # Every text put in above went through escape(); the rest is numbers and fixed markup.
    return Markup("".join(out))  # noqa: S704


def daily(t: Texts, c: Charts, *, ident: str = "daily", compact: bool = False) -> Markup:
    """Received and completed per campus day."""
    received = t("charts.received")
    completed = t("charts.completed")
    title = t("charts.per_day", days=c.days)
    desc = t(
        "charts.per_day_desc",
        first=day_label(t, c.first_day),
        last=day_label(t, c.last_day),
        received=c.received,
        completed=c.completed,
        peak=max((d.received for d in c.daily), default=0),
    )
    top = max([d.received for d in c.daily] + [d.completed for d in c.daily] + [1])
    ticks = count_ticks(top)
    return _lines(
        ident,
        150 if compact else 220,
        title,
        desc,
        f"{title}. {desc}",
        [day_label(t, d.day) for d in c.daily],
        [
            _Line(f"{received} {c.daily[-1].received}", [d.received for d in c.daily], "a"),
            _Line(f"{completed} {c.daily[-1].completed}", [d.completed for d in c.daily], "b"),
        ],
        ticks,
        [str(n) for n in ticks],
        "compact" if compact else "",
    )


def _minutes(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds() / 60


def weekly(t: Texts, c: Charts, *, ident: str = "weekly") -> Markup:
    """Report-to-completion time per week: the median (solid) and p90 (dashed)."""
    title = t("charts.weekly")
    desc = sample(t, c.completed, c.median, c.p90)
    p50 = [_minutes(w.p50) for w in c.weekly]
    p90 = [_minutes(w.p90) for w in c.weekly]
    top = max([v for v in p50 + p90 if v is not None] + [1])
    ticks = minute_ticks(top)
    return _lines(
        ident,
        220,
        title,
        desc,
        f"{title}. {desc}",
        [day_label(t, w.week) for w in c.weekly],
        [_Line(t("charts.p50"), p50, "a"), _Line(t("charts.p90"), p90, "b")],
        ticks,
        [minutes_label(t, m) for m in ticks],
        "",
    )


def part_name(t: Texts, part: Part, *, category: bool) -> str:
    """A bar's name: the category's label, the building's name, or "other buildings"."""
    if category:
        return t.category(part.key)
    return part.name if part.key else t("charts.others")


def bars(t: Texts, parts: Sequence[Part], *, category: bool, ident: str) -> Markup:
    """Horizontal bars, a row per category (received) or building (received, hatched, and
    completed, solid), each with its number."""
    received, completed = t("charts.received"), t("charts.completed")
    pairs = not category
    row = 34 if pairs else 22
    legend = 22 if pairs else 0
    height = TOP + legend + row * max(len(parts), 1) + 4
    title = t("charts.by_category") if category else t("charts.by_building")
    figures = "; ".join(
        f"{part_name(t, p, category=category)}: {p.received} {received}"
        + (f", {p.completed} {completed}" if pairs else "")
        for p in parts
    )
    desc = figures or t("charts.no_data")
    out = _open(ident, height, title, desc, f"{title}. {desc}", "bars")
    if pairs:
        out.append(
            f'<pattern id="{ident}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect class="hatch-bg" width="6" height="6"/>'
            '<line class="hatch" x1="0" y1="0" x2="0" y2="6" stroke-width="3"/></pattern>'
        )
        out.append(
            f'<rect x="0" y="{TOP}" width="14" height="10" fill="url(#{ident}-hatch)" '
            f'class="bar-r"/><text class="tick" x="18" y="{TOP + 9}">{escape(received)}</text>'
            f'<rect class="bar-c" x="120" y="{TOP}" width="14" height="10"/>'
            f'<text class="tick" x="138" y="{TOP + 9}">{escape(completed)}</text>'
        )
    start, span = 170, WIDTH - 170 - 50
    top = max([p.received for p in parts] + [p.completed for p in parts] + [1])
    for i, p in enumerate(parts):
        y = TOP + legend + i * row
        name = part_name(t, p, category=category)
        short = name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"
        out.append(f'<text class="name" x="0" y="{y + 13}">{escape(short)}</text>')
        width = span * p.received / top
        fill = f' fill="url(#{ident}-hatch)"' if pairs else ""
        out.append(
            f'<rect class="bar-r" x="{start}" y="{y + 2}" width="{width:.1f}" height="14"{fill}/>'
            f'<text class="num" x="{start + width + 4:.1f}" y="{y + 13}">{p.received}</text>'
        )
        if pairs:
            width = span * p.completed / top
            out.append(
                f'<rect class="bar-c" x="{start}" y="{y + 17}" width="{width:.1f}" height="12"/>'
                f'<text class="num" x="{start + width + 4:.1f}" y="{y + 28}">{p.completed}</text>'
            )
    out.append("</svg>")
    # Every text put in above went through escape(); the rest is numbers and fixed markup.
    return Markup("".join(out))  # noqa: S704


def sample(t: Texts, count: int, median: timedelta | None, p90: timedelta | None) -> str:
    """Report-to-completion figures with what they rest on: "median 42 min · 3 tickets"
    (and the p90 once there are enough), or "no completed tickets yet"."""
    if not count or median is None:
        return t("board.no_completed")
    if p90 is None:
        return t("board.median_sample", median=duration(t, median), count=count)
    return t(
        "board.median_p90_sample", median=duration(t, median), p90=duration(t, p90), count=count
    )


def share_sample(t: Texts, share: float | None, count: int) -> str:
    """A share with the tickets it is of: "67% · 3 tickets"; none: "no completed tickets yet"."""
    if share is None or not count:
        return t("board.no_completed")
    return t("board.share_sample", share=f"{share:.0%}", count=count)
