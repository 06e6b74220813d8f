"""A technician's jobs: the list by state, and per job the next actions: propose a visit
time, start, complete (optionally with a photo), defer with a promised date and a reason,
resume, release back to dispatch with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from telegram import CallbackQuery, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.callbacks import DeferPick, JobAction, JobsPage, ReleaseReason, VisitSlot
from bot.context import Ctx
from bot.edits import retire_pressed
from bot.flows import pending
from bot.flows.common import (
    answer,
    data_of,
    guarded,
    pattern,
    refused_answer,
    reply,
    stale_press,
    typed_text,
)
from bot.ui import Button, capped, clip, grid, keyboard, pager, place_label, ticket_lines
from store.errors import DomainError
from store.intake import drafts
from store.lifecycle import VISIT_PROPOSE_STATUSES, Action, Capacity, Status, allowed_actions
from store.repair import dispatch, queries, work
from store.views import TicketView

VISIT_HOURS = (9, 11, 14, 16, 19)
DEFER_DAYS = (1, 2, 3, 7, 14)
DEFER_REASONS = ("parts", "rewiring", "specialist")
RELEASE_REASONS = ("skill", "team", "busy")
PROMISE_HOUR = time(18, 0)  # a promised day means "by the end of the working day"
# Jobs a page: a button each, well inside Telegram's 100 buttons a message.
JOBS_PAGE = 10


async def jobs_command(update: Update, context: Ctx) -> None:
    """/jobs: my open jobs, grouped by state."""
    work.check_technician(context.person.roles)
    await show_jobs(update, context, edit=False)


async def show_jobs(update: Update, context: Ctx, *, edit: bool, cursor: int = 0) -> None:
    """A page of my open jobs, the most urgent first, with a button each and ◀️/▶️.

    `cursor` (JobsPage's int) is 0 for the first page, a ticket id for the page after
    it, or minus a ticket id for the page before it; the server reads where that job
    stands, so a forged or outdated cursor shows the first page and says so."""
    t = context.texts
    page = await queries.technician_job_page(
        context.store.uow(),
        context.person.id,
        after=cursor if cursor > 0 else None,
        before=-cursor if cursor < 0 else None,
        limit=JOBS_PAGE,
    )
    if not page.items:
        await reply(update, t("jobs.empty"), edit=edit)
        return
    rows: list[list[Button]] = [
        [
            (
                f"{t.status(v.status)} · {v.number} · {clip(place_label(v), 30)}",
                JobAction("open", v.id),
            )
        ]
        for v in page.items
    ]
    rows.append(
        pager(
            t,
            JobsPage(-page.items[0].id) if page.has_newer else None,
            JobsPage(page.items[-1].id) if page.has_older else None,
        )
    )
    text = t("jobs.title", count=capped(page.total, page.capped))
    if page.restarted:
        text = t("common.list_changed") + "\n" + text
    await reply(update, text, keyboard(rows), edit=edit)


async def on_jobs_page(update: Update, context: Ctx) -> None:
    """◀️/▶️ on /jobs."""
    work.check_technician(context.person.roles)
    cursor = data_of(update, JobsPage).cursor
    await answer(update.callback_query)
    await show_jobs(update, context, edit=True, cursor=cursor)


def _job_buttons(context: Ctx, view: TicketView) -> list[list[Button]]:
    t, tid = context.texts, view.id
    # The holder's moves from the lifecycle table (the services refuse the others).
    moves = allowed_actions(view.status, frozenset({Capacity.ASSIGNEE}))
    rows: list[list[Button]] = []
    if view.status in VISIT_PROPOSE_STATUSES:
        rows.append([(t("jobs.propose_visit"), JobAction("visit", tid))])
    if Action.START in moves:
        rows.append([(t("jobs.start"), JobAction("start", tid))])
    if Action.RELEASE in moves:
        rows.append([(t("jobs.release"), JobAction("release", tid))])
    if Action.DEFER in moves:
        rows.append(
            [
                (t("jobs.complete"), JobAction("complete", tid)),
                (t("jobs.defer"), JobAction("defer", tid)),
            ]
        )
    if Action.RESUME in moves:
        rows.append(
            [
                (t("jobs.resume"), JobAction("resume", tid)),
                (t("jobs.complete"), JobAction("complete", tid)),
            ]
        )
    rows.append([(t("jobs.back"), JobAction("list", tid))])
    return rows


async def show_job(
    update: Update, context: Ctx, ticket_id: int, *, edit: bool, heading: str | None = None
) -> None:
    """One job: where, what, who to call, and the actions its state allows."""
    t = context.texts
    view = await work.held_job(context.store.uow(), ticket_id, context.person.id)
    lines = ([heading, ""] if heading else []) + ticket_lines(t, view, description_limit=1500)
    lines.append(t("jobs.contact", phone=view.contact_phone or t("report.no_phone")))
    if view.visit_at:
        confirmed = t("jobs.visit_confirmed") if view.visit_confirmed else t("jobs.visit_waiting")
        lines.append(t("my.visit", when=t.when(view.visit_at)) + f" ({confirmed})")
    if view.status == Status.DEFERRED and view.promised_at:
        lines.append(t("my.promised", when=t.when(view.promised_at), reason=view.defer_reason))
    await reply(update, "\n".join(lines), keyboard(_job_buttons(context, view)), edit=edit)


def visit_slots(context: Ctx, now: datetime) -> list[datetime]:
    """The next six bookable visit times (campus hours), at least 30 minutes ahead."""
    zone = context.texts.zone
    local_now = now.astimezone(zone)
    slots: list[datetime] = []
    day = local_now.date()
    while len(slots) < 6:
        for hour in VISIT_HOURS:
            slot = datetime.combine(day, time(hour), zone)
            if slot - local_now >= timedelta(minutes=30) and len(slots) < 6:
                slots.append(slot.astimezone(UTC))
        day += timedelta(days=1)
    return slots


async def on_job(update: Update, context: Ctx) -> None:
    """A button on a job; the services check the state and that it is really mine."""
    act = data_of(update, JobAction)
    t, uow, tid, me, query = (
        context.texts,
        context.store.uow,
        act.ticket_id,
        context.person.id,
        update.callback_query,
    )
    work.check_technician(context.person.roles)
    if act.action == "list":
        await answer(query)
        return await show_jobs(update, context, edit=True)
    if act.action == "open":
        await answer(query)
        return await show_job(update, context, tid, edit=True)
    if act.action == "start":
        await work.start(uow(), tid, me)
    elif act.action == "resume":
        await work.resume(uow(), tid, me)
    elif act.action == "complete_now":
        await work.complete(uow(), tid, me)
        await pending.clear(context)
    elif act.action == "visit":
        await work.check_own_job(uow(), tid, me, None)
        await answer(query)
        slots = visit_slots(context, context.store.clock())
        buttons: list[Button] = [
            (t.when(s, "EEE d MMM HH:mm"), VisitSlot(tid, int(s.timestamp() // 60))) for s in slots
        ]
        rows: list[list[Button]] = [
            *grid(buttons, 2),
            [(t("common.back"), JobAction("open", tid))],
        ]
        await pending.ask(context, "visit_time", ticket_id=tid, shown_in=_pressed(query))
        return await reply(update, t("jobs.visit_ask"), keyboard(rows), edit=True)
    elif act.action == "complete":
        await work.check_own_job(uow(), tid, me, Action.COMPLETE)
        await answer(query)
        await pending.ask(context, "result_photo", ticket_id=tid, shown_in=_pressed(query))
        rows = [
            [(t("jobs.complete_now"), JobAction("complete_now", tid))],
            [(t("common.back"), JobAction("open", tid))],
        ]
        return await reply(update, t("jobs.complete_ask"), keyboard(rows), edit=True)
    elif act.action == "defer":
        await work.check_own_job(uow(), tid, me, Action.DEFER)
        await answer(query)
        buttons = [(t("jobs.in_days", days=d), DeferPick(tid, d, "-")) for d in DEFER_DAYS]
        rows = [*grid(buttons, 3), [(t("common.back"), JobAction("open", tid))]]
        await pending.ask(context, "defer_date", ticket_id=tid, shown_in=_pressed(query))
        return await reply(update, t("jobs.defer_when"), keyboard(rows), edit=True)
    elif act.action == "release":
        await work.check_own_job(uow(), tid, me, Action.RELEASE)
        await answer(query)
        buttons = [(t(f"jobs.release_{r}"), ReleaseReason(tid, r)) for r in RELEASE_REASONS]
        rows = [[b] for b in buttons] + [[(t("common.back"), JobAction("open", tid))]]
        await pending.ask(context, "release_reason", ticket_id=tid, shown_in=_pressed(query))
        return await reply(update, t("jobs.release_why"), keyboard(rows), edit=True)
    else:
        return await stale_press(update, context)
    context.nudge_sender()
    await answer(query, t("jobs.done"))
    await show_job(update, context, tid, edit=True)


def _pressed(query: CallbackQuery | None) -> object:
    """The message a press came from: a picker shown there replaces its text."""
    return query.message if query is not None else None


async def _asked(context: Ctx, ticket_id: int, *kinds: str) -> bool:
    """Whether one of these questions about the ticket is still open for this person.

    A picker loses its buttons once answered, but a double tap (the second press sent
    before they were gone) must not act again, e.g. defer twice or send two proposals.
    """
    draft = await drafts.get_draft(context.store.uow(), context.person.id)
    if draft is None or draft.step != pending.PENDING:
        return False
    question = draft.data.get("pending") or {}
    return question.get("kind") in kinds and question.get("ticket_id") == ticket_id


async def on_visit_slot(update: Update, context: Ctx) -> None:
    """A proposed visit time picked from the buttons."""
    slot = data_of(update, VisitSlot)
    await work.check_own_job(context.store.uow(), slot.ticket_id, context.person.id, None)
    if not await _asked(context, slot.ticket_id, "visit_time"):
        return await stale_press(update, context)
    try:
        when = datetime.fromtimestamp(slot.at_minutes * 60, UTC)
    except (OverflowError, ValueError, OSError):  # a forged time no calendar holds
        return await stale_press(update, context)
    await _propose(update, context, slot.ticket_id, when)


async def _propose(update: Update, context: Ctx, ticket_id: int, when: datetime) -> None:
    view = await work.propose_visit(context.store.uow(), ticket_id, context.person.id, when)
    await pending.clear(context)
    context.nudge_sender()
    await answer(update.callback_query)
    await retire_pressed(update.callback_query)  # the picker was answered
    await reply(
        update, context.texts("jobs.visit_sent", when=context.texts.when(when), number=view.number)
    )


async def on_defer_pick(update: Update, context: Ctx) -> None:
    """Deferral: first the day, then the reason (a preset, or typed)."""
    pick = data_of(update, DeferPick)
    t, tid = context.texts, pick.ticket_id
    if not 1 <= pick.days <= context.store.policy.max_defer.days:
        return await stale_press(update, context)
    await work.check_own_job(context.store.uow(), tid, context.person.id, Action.DEFER)
    if not await _asked(context, tid, "defer_date", "defer_reason"):
        return await stale_press(update, context)
    promised = _promise_day(context, pick.days)
    if pick.reason == "-":
        await answer(update.callback_query)
        return await _ask_defer_reason(update, context, tid, promised)
    if pick.reason not in DEFER_REASONS:
        return await stale_press(update, context)
    await _defer(update, context, tid, promised, t(f"jobs.reason_{pick.reason}"))


def _promise_day(context: Ctx, days: int) -> datetime:
    zone = context.texts.zone
    day = context.store.clock().astimezone(zone).date() + timedelta(days=days)
    return datetime.combine(day, PROMISE_HOUR, zone).astimezone(UTC)


async def _ask_defer_reason(update: Update, context: Ctx, tid: int, promised: datetime) -> None:
    t = context.texts
    days = (
        promised.astimezone(t.zone).date() - context.store.clock().astimezone(t.zone).date()
    ).days
    buttons = [(t(f"jobs.reason_{r}"), DeferPick(tid, days, r)) for r in DEFER_REASONS]
    rows = [[b] for b in buttons] + [[(t("common.back"), JobAction("open", tid))]]
    await pending.ask(
        context,
        "defer_reason",
        ticket_id=tid,
        promised=promised.isoformat(),
        shown_in=_pressed(update.callback_query),
    )
    await reply(update, t("jobs.defer_why", when=t.when(promised)), keyboard(rows), edit=True)


async def _defer(update: Update, context: Ctx, tid: int, promised: datetime, reason: str) -> None:
    view = await work.defer(context.store.uow(), tid, context.person.id, promised, reason)
    await pending.clear(context)
    context.nudge_sender()
    await answer(update.callback_query)
    await retire_pressed(update.callback_query)  # the picker was answered
    t = context.texts
    await reply(update, t("jobs.deferred", number=view.number, when=t.when(promised)))


async def on_release_reason(update: Update, context: Ctx) -> None:
    """Release with a preset reason."""
    rel = data_of(update, ReleaseReason)
    if rel.reason not in RELEASE_REASONS:
        return await stale_press(update, context)
    await _release(update, context, rel.ticket_id, context.texts(f"jobs.release_{rel.reason}"))


async def _release(update: Update, context: Ctx, tid: int, reason: str) -> None:
    view = await dispatch.release(context.store.uow(), tid, context.person.id, reason)
    await pending.clear(context)
    context.nudge_sender()
    await answer(update.callback_query)
    await retire_pressed(update.callback_query)  # the picker was answered
    await reply(update, context.texts("jobs.released", number=view.number))


# --- typed answers -------------------------------------------------------------------------


@pending.on_answer("visit_time")
async def typed_visit(update: Update, context: Ctx, q: dict[str, Any]) -> bool:
    """A typed visit time: YYYY-MM-DD HH:MM in campus time."""
    when = _parse_local(context, typed_text(update), with_time=True)
    if when is None:
        await reply(update, context.texts("jobs.bad_datetime"))
        return False
    if await _too_far(update, context, when):
        return False
    try:
        await _propose(update, context, int(q["ticket_id"]), when)
    except DomainError as exc:  # e.g. the job changed hands meanwhile
        return await refused_answer(update, context, exc)
    return True


@pending.on_answer("defer_date")
async def typed_defer_date(update: Update, context: Ctx, q: dict[str, Any]) -> bool:
    """A typed promised date: YYYY-MM-DD (campus calendar)."""
    when = _parse_local(context, typed_text(update), with_time=False)
    if when is None:
        await reply(update, context.texts("jobs.bad_date"))
        return False
    if when <= context.store.clock():
        await reply(update, context.texts("error.date_in_past"))
        return False
    if await _too_far(update, context, when):
        return False  # refused now: once the reason is typed it would be too late to say
    await _ask_defer_reason(update, context, int(q["ticket_id"]), when)
    return False  # the question is now the reason; _ask_defer_reason parked it


@pending.on_answer("defer_reason")
async def typed_defer_reason(update: Update, context: Ctx, q: dict[str, Any]) -> bool:
    """A typed reason for deferring."""
    reason = typed_text(update)
    if not reason:
        await reply(update, context.texts("error.reason_required"))
        return False
    promised = datetime.fromisoformat(str(q["promised"]))
    try:
        await _defer(update, context, int(q["ticket_id"]), promised, reason)
    except DomainError as exc:
        return await refused_answer(update, context, exc)
    return True


@pending.on_answer("release_reason")
async def typed_release_reason(update: Update, context: Ctx, q: dict[str, Any]) -> bool:
    """A typed reason for releasing."""
    reason = typed_text(update)
    if not reason:
        await reply(update, context.texts("error.reason_required"))
        return False
    try:
        await _release(update, context, int(q["ticket_id"]), reason)
    except DomainError as exc:
        return await refused_answer(update, context, exc)
    return True


@pending.on_answer("result_photo")
async def result_photo(update: Update, context: Ctx, q: dict[str, Any]) -> bool:
    """A photo of the finished repair completes the job."""
    message = update.effective_message
    if message is None or not message.photo:
        await reply(update, context.texts("report.not_a_photo"))
        return False
    tid = int(q["ticket_id"])
    try:
        view = await work.complete(
            context.store.uow(), tid, context.person.id, [message.photo[-1].file_id]
        )
    except DomainError as exc:
        return await refused_answer(update, context, exc)
    context.nudge_sender()
    await reply(update, context.texts("jobs.completed", number=view.number))
    return True


async def _too_far(update: Update, context: Ctx, when: datetime) -> bool:
    """Say so (and keep the question) when a typed date lies beyond what may be promised."""
    limit = context.store.policy.max_defer
    if when - context.store.clock() <= limit:
        return False
    await reply(update, context.texts("jobs.date_too_far", days=limit.days))
    return True


def _parse_local(context: Ctx, text: str | None, *, with_time: bool) -> datetime | None:
    if not text:
        return None
    formats = ("%Y-%m-%d %H:%M",) if with_time else ("%Y-%m-%d",)
    for fmt in formats:
        try:
            local = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if not with_time:
            local = datetime.combine(local.date(), PROMISE_HOUR)
        return context.texts.to_utc(local)
    return None


def handlers() -> list[BaseHandler[Update, Ctx, object]]:
    """This flow's handlers."""
    return [
        CommandHandler("jobs", guarded(jobs_command)),
        CallbackQueryHandler(guarded(on_job), pattern=pattern(JobAction)),
        CallbackQueryHandler(guarded(on_jobs_page), pattern=pattern(JobsPage)),
        CallbackQueryHandler(guarded(on_visit_slot), pattern=pattern(VisitSlot)),
        CallbackQueryHandler(guarded(on_defer_pick), pattern=pattern(DeferPick)),
        CallbackQueryHandler(guarded(on_release_reason), pattern=pattern(ReleaseReason)),
    ]
