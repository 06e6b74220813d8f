"""Figures for supervisors and dispatchers: /stats [period] and /export [period]."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from telegram import InputFile, Update
from telegram.ext import BaseHandler, CommandHandler

from bot.context import Ctx
from bot.flows.board import board_button
from bot.flows.common import guarded, reply
from bot.ui import average_rating, clip, duration, share
from store.directory.profiles import set_timezone
from store.domain.phones import may_export_phones
from store.errors import InvalidInput
from store.reporting import figures
from store.reporting.periods import parse_period

PERIOD_HELP = "today · 7d · 30d · week · month · 2026-03 · 2026-03-01..2026-03-15"
# The largest file Telegram's Bot API takes from a bot (sendDocument, multipart upload).
UPLOAD_LIMIT = 50 * 1024 * 1024
log = logging.getLogger(__name__)
PHONES_FLAG = "--with-phones"  # /export's requester phone column, for admins


async def _period(
    update: Update, context: Ctx, args: list[str] | None = None
) -> tuple[datetime, datetime] | None:
    """The period the command names (`args`, default the command's; no period: the last
    30 days); None once the asker has been told which forms are understood. Only staff
    who may see figures get that far."""
    figures.check_figures(context.person.roles)
    t = context.texts
    text = " ".join(context.args or [] if args is None else args)
    try:
        return parse_period(text or None, context.store.clock().astimezone(t.zone))
    except InvalidInput:
        await reply(update, t("stats.bad_period", period=clip(text, 40), forms=PERIOD_HELP))
        return None


def period_examples(context: Ctx) -> str:
    """`/stats today · /stats 7d · /stats 2026-11` (last month): other periods, as
    commands that work as they are."""
    today = context.store.clock().astimezone(context.texts.zone).date()
    last_month = today.replace(day=1) - timedelta(days=1)
    periods = ("today", "7d", f"{last_month:%Y-%m}")
    return " · ".join(f"/stats {period}" for period in periods)


async def stats_command(update: Update, context: Ctx) -> None:
    """Per technician: jobs, median accept and repair times, rating, rework, overdue; and the
    office totals with the share repaired within an hour."""
    t, uow = context.texts, context.store.uow
    period = await _period(update, context)
    if period is None:
        return
    start, end = period
    office, techs = await figures.period_stats(
        uow(), start=start, end=end, viewer_id=context.person.id
    )
    lines = [
        t("stats.title", start=t.when(start, "yyyy-MM-dd"), end=t.when(end, "yyyy-MM-dd")),
        t(
            "stats.office",
            reported=office.reported,
            completed=office.completed,
            open=office.open_now,
            within_hour=share(office.within_hour_share),
            accept=duration(t, office.median_accept),
            resolution=duration(t, office.median_resolution),
            rating=average_rating(office.average_rating),
            rated=office.rated,
            low=office.low_ratings,
            followups=figures.capped(office.open_followups),
        ),
        "",
    ]
    for s in techs:
        lines.append(
            t(
                "stats.technician",
                name=clip(t("former.user") if s.former else s.name, 30),
                done=s.jobs_done,
                accept=duration(t, s.median_accept),
                resolution=duration(t, s.median_resolution),
                rating=average_rating(s.average_rating),
                rated=s.rated_jobs,
                rework=share(s.rework_rate),
                overdue=s.overdue,
            )
        )
    if not techs:
        lines.append(t("stats.no_technicians"))
    lines.append(t("stats.other_periods", examples=period_examples(context)))
    await reply(update, clip("\n".join(lines), 4000), board_button(context))


async def export_command(update: Update, context: Ctx) -> None:
    """The period's tickets with their timings, as XLSX and CSV documents; with
    `--with-phones` (admins only) also each requester's phone."""
    t = context.texts
    figures.check_figures(context.person.roles)
    args = list(context.args or [])
    with_phones = PHONES_FLAG in args
    if with_phones and not may_export_phones(context.person.roles):
        await reply(update, t("stats.export_phones_refused"))
        return
    period = await _period(update, context, [a for a in args if a != PHONES_FLAG])
    if period is None:
        return
    start, end = period
    chat = update.effective_chat
    assert chat is not None
    stem = f"tickets-{t.when(start, 'yyyyMMdd')}-{t.when(end, 'yyyyMMdd')}"
    # Rows come from the database a batch at a time and go straight into files, so a year
    # of a big office never sits in memory. The writing (minutes of CPU for such a year)
    # is off the event loop, so other chats, the outbox and the scheduler carry on.
    # Imported here: the workbook writer is heavy and no other screen needs it.
    from bot.export import ExportFiles
    from store.reporting import export

    with tempfile.TemporaryDirectory(prefix="repairbot-export-") as tmp:
        with ExportFiles(Path(tmp), stem, t.zone, with_phones=with_phones) as files:

            async def write(batch: list[export.ExportRow]) -> None:
                await asyncio.to_thread(files.add, batch)

            await export.stream_export(
                context.store.read(),
                start=start,
                end=end,
                viewer_id=context.person.id,
                write=write,
                with_phones=with_phones,
            )
            await asyncio.to_thread(files.finish)
        if with_phones:
            # Who took requesters' phone numbers out of the bot, and how many rows.
            who, count = context.person.id, files.count
            log.info("export with phone numbers by person %s: %s tickets", who, count)
        caption = t("stats.export_caption", count=files.count)
        if with_phones:
            caption += "\n" + t("stats.export_phones_note")
        for path, text in ((files.xlsx_path, caption), (files.csv_path, None)):
            size = path.stat().st_size
            if size > UPLOAD_LIMIT:
                mb = 1024 * 1024
                await reply(
                    update,
                    t(
                        "stats.export_too_big",
                        name=path.name,
                        count=files.count,
                        size=f"{size / mb:.1f}",
                        limit=UPLOAD_LIMIT // mb,
                        example=t.when(start, "yyyy-MM"),
                    ),
                )
                continue
            with path.open("rb") as document:
                # Streamed from the file as it is uploaded (PTB would read it all first);
                # a retried upload starts again from the top (httpx seeks to 0).
                upload = InputFile(document, filename=path.name, read_file_handle=False)
                await chat.send_document(upload, caption=text)


async def digest_command(update: Update, context: Ctx) -> None:
    """/digest [today | yesterday | YYYY-MM-DD]: a day's digest now (default yesterday,
    as the morning one; it does not count as the scheduled one). A day that has not come
    yet, or came before the office's first ticket, is answered with one that works."""
    from bot import digest
    from store.reporting import digest as digest_service

    figures.check_figures(context.person.roles)
    assert context.person.telegram_id is not None
    t = context.texts
    zone = context.person.timezone or context.settings.service.timezone
    local_today = context.store.clock().astimezone(ZoneInfo(zone)).date()
    given = " ".join(context.args or [])
    try:
        day = digest.asked_day(given, local_today, t)
    except ValueError:
        examples = digest.day_examples(local_today, t)
        await reply(update, t("digest.bad_day", given=clip(given, 40), examples=examples))
        return
    today_example = f"/digest {t('digest.word_today')}"
    if day > local_today:
        await reply(
            update,
            t(
                "digest.future_day",
                day=day.isoformat(),
                today=local_today.isoformat(),
                example=today_example,
            ),
        )
        return
    first = await digest_service.first_ticket_day(context.store.uow(), ZoneInfo(zone))
    if first is None:
        await reply(update, t("digest.no_tickets", example=today_example))
        return
    if day < first:
        example = f"/digest {first.isoformat()}"
        await reply(
            update,
            t(
                "digest.before_first",
                day=day.isoformat(),
                first=first.isoformat(),
                example=example,
            ),
        )
        return
    text, png = await digest.build(context.store, context.settings, context.person.id, day, zone)
    markup = board_button(context)
    await digest.send(context.bot, context.person.telegram_id, text, png, markup=markup)


async def timezone_command(update: Update, context: Ctx) -> None:
    """/timezone [ZONE]: show or set your own time zone (digest time), "-" for the campus's."""
    t = context.texts
    if not context.args:
        current = context.person.timezone or context.settings.service.timezone
        await reply(update, t("timezone.current", zone=current))
        return
    arg = context.args[0]
    view = await set_timezone(context.store.uow(), context.person.id, None if arg == "-" else arg)
    await reply(update, t("timezone.set", zone=view.timezone or context.settings.service.timezone))


def handlers() -> list[BaseHandler[Update, Ctx, object]]:
    """This flow's handlers (the services check the asker's role and scope)."""
    return [
        CommandHandler("stats", guarded(stats_command)),
        CommandHandler("export", guarded(export_command)),
        CommandHandler("digest", guarded(digest_command)),
        CommandHandler("timezone", guarded(timezone_command)),
    ]
