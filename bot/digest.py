"""The daily digest as a supervisor sees it: text in their language plus the chart; sent
by the scheduler at the set local time (once per day) and by /digest on demand."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from telegram import Bot, InlineKeyboardMarkup, InputFile
from telegram.error import TelegramError

from bot.chart import render_apart
from bot.flows.board import board_markup
from bot.i18n import Texts
from bot.ratelimit import bulk
from bot.settings import Settings
from bot.ui import average_rating, clip, duration, share, stars
from store.directory.profiles import get_person_view
from store.reporting import digest as digest_service
from store.reporting.digest import Digest
from store.uow import Store

log = logging.getLogger(__name__)
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def asked_day(text: str, today: date, texts: Texts) -> date:
    """The local day `/digest TEXT` names: nothing or "yesterday" (what the morning digest
    covers), "today" (either word in English or the asker's language), or an ISO date
    (YYYY-MM-DD). ValueError for anything else, an impossible date included."""
    spec = text.strip().lower()
    if not spec or spec in ("yesterday", texts("digest.word_yesterday").lower()):
        return today - timedelta(days=1)
    if spec in ("today", texts("digest.word_today").lower()):
        return today
    if ISO_DAY.fullmatch(spec):
        return date.fromisoformat(spec)
    raise ValueError(f"not a day: {text!r}")


def day_examples(today: date, texts: Texts) -> str:
    """`/digest today · /digest yesterday · /digest 2026-12-06`: forms that work today."""
    words = (
        texts("digest.word_today"),
        texts("digest.word_yesterday"),
        (today - timedelta(days=1)).isoformat(),
    )
    return " · ".join(f"/digest {word}" for word in words)


def render_text(d: Digest, texts: Texts) -> str:
    """The digest's text (under Telegram's 4096 characters)."""
    o = d.office
    within_hour = share(o.within_hour_share)
    rating = average_rating(o.average_rating)
    lines = [
        texts("digest.title", day=d.day.isoformat()),
        texts("digest.flow", received=o.reported, completed=o.completed, cancelled=d.cancelled),
        texts(
            "digest.backlog",
            items=", ".join(f"{texts.status(s)} {n}" for s, n in d.backlog.items()) or "0",
        ),
        texts("digest.overdue", count=d.overdue_count, items=", ".join(d.overdue) or "—"),
        texts(
            "digest.due_soon",
            count=len(d.due_soon),
            items=", ".join(f"{n} ({texts.when(w, 'MM-dd')})" for n, w in d.due_soon[:15]) or "—",
        ),
        texts(
            "digest.times",
            median=duration(texts, o.median_resolution),
            p90=duration(texts, d.p90_resolution),
            accept=duration(texts, o.median_accept),
            within_hour=within_hour,
        ),
        texts("digest.ratings", average=rating, count=o.rated),
    ]
    for number, value in d.low_ratings[:15]:
        lines.append(texts("digest.low_rating", number=number, stars=stars(value)))
    if d.technicians:
        lines.append(texts("digest.technicians"))
        for t in d.technicians[:20]:
            avg = average_rating(t.average_rating)
            lines.append(
                texts(
                    "digest.technician",
                    name=clip(texts("former.user") if t.former else t.name, 24),
                    done=t.jobs_done,
                    median=duration(texts, t.median_resolution),
                    rating=avg,
                    overdue=t.overdue,
                )
            )
    return clip("\n".join(lines), 4000)


async def build(
    store: Store, settings: Settings, person_id: int, day: date, zone_name: str
) -> tuple[str, bytes]:
    """Text and chart of one supervisor's digest for the local `day` in their zone."""
    person = await get_person_view(store.uow(), person_id)
    zone = ZoneInfo(zone_name)
    texts = Texts(person.language or settings.service.default_language, str(zone))
    figures = await digest_service.digest_figures(
        store.uow(), viewer_id=person_id, day=day, zone=zone
    )
    # Drawn by a child process: matplotlib's ~50 MiB never stay in the bot (bot/chart.py).
    png = await render_apart(
        figures.series,
        title=texts("digest.chart_title"),
        received=texts("digest.chart_received"),
        completed=texts("digest.chart_completed"),
        median_label=texts("digest.chart_median"),
        empty=texts("digest.chart_empty"),
    )
    return render_text(figures, texts), png


CAPTION_MAX = 1000  # Telegram allows 1024 characters in a caption


async def send(
    bot: Bot,
    chat_id: int,
    text: str,
    png: bytes,
    *,
    chart_sent: bool = False,
    after_chart: Callable[[], Awaitable[None]] | None = None,
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    """The chart with a short caption, then the full text if the caption could not hold it.
    `chart_sent` skips the chart (an earlier try delivered it); `after_chart` records it.
    `markup` (the board button) goes on the last of the two."""
    whole = len(text) <= CAPTION_MAX
    if not chart_sent:
        await bot.send_photo(
            chat_id,
            InputFile(png, filename="digest.png"),
            caption=text[:CAPTION_MAX],
            reply_markup=markup if whole else None,
        )
        if after_chart is not None:
            await after_chart()
    if not whole:
        await bot.send_message(chat_id, text, reply_markup=markup)


async def send_due_digests(bot: Bot, store: Store, settings: Settings) -> list[int]:
    """Every supervisor past their digest time today who has not had it: claim, send, mark.
    Returns who got one. A failed send leaves the claim to go stale and be retried. No
    digest reports on a day before the office's first ticket (a new office, the demo)."""
    hour, minute = (int(part) for part in settings.service.digest_time.split(":"))
    due = await digest_service.supervisors_due(
        store.uow(), at=time(hour, minute), default_zone=settings.service.timezone
    )
    sent: list[int] = []
    first = await digest_service.first_ticket_at(store.uow()) if due else None
    for person_id, today, zone in due:
        first_day = digest_service.local_day(first, ZoneInfo(zone))
        if first_day is None or today - timedelta(days=1) < first_day:
            continue  # the office had no ticket yet that day: nothing to report on
        if not await digest_service.claim_digest(store.uow(), person_id, today):
            continue
        person = await get_person_view(store.uow(), person_id)
        if person.telegram_id is None:
            continue
        chart_sent = await digest_service.chart_was_sent(store.uow(), person_id, today)

        async def after_chart(person_id: int = person_id, day: date = today) -> None:
            await digest_service.mark_chart_sent(store.uow(), person_id, day)

        try:
            text, png = await build(store, settings, person_id, today - timedelta(days=1), zone)
            language = person.language or settings.service.default_language
            markup = board_markup(settings, Texts(language))
            # Bulk: paced with the notices, and retried by the claim going stale, not
            # by the rate limiter (a retry there could not skip a chart that went).
            with bulk():
                await send(
                    bot,
                    person.telegram_id,
                    text,
                    png,
                    chart_sent=chart_sent,
                    after_chart=after_chart,
                    markup=markup,
                )
        except TelegramError as exc:
            log.warning("digest for %s not sent: %s", person_id, exc)
            continue
        except Exception:
            # One supervisor's digest failing (a figure, the chart) must not stop the
            # others'; the stale claim retries it.
            log.exception("digest for %s failed", person_id)
            continue
        await digest_service.mark_digest_sent(store.uow(), person_id, today)
        sent.append(person_id)
    return sent
