"""Dispatchers: /queue with filters; per ticket assign or reassign (technicians listed with
duty state and load), reject or cancel with a reason, or mark as a duplicate."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.callbacks import AssignPage, AssignTo, QueueItem, QueueView, StaleBulk
from bot.context import Ctx
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
from bot.ui import Button, clip, keyboard, pager, ticket_lines
from store.errors import DomainError, InvalidInput
from store.intake import drafts
from store.lifecycle import Action, Capacity, allowed_actions
from store.repair import dispatch, queries, requester, stale
from store.repair.queries import QueueFilter
from store.views import TicketView

PAGE = 8
# Technicians a page of the Assign picker (a typed name narrows the list).
ASSIGN_PAGE = 10
# The moves each per-ticket button leads to: it may be pressed while one of them is a
# dispatcher's move in the ticket's state ("open" works in any).
ITEM_ACTIONS: dict[str, tuple[Action, ...]] = {
    "open": (),
    "assign": (Action.ASSIGN, Action.REASSIGN),
    "cancel": (Action.CANCEL,),
    "duplicate": (Action.CANCEL,),  # a duplicate is cancelled, naming the original
}


async def queue_command(update: Update, context: Ctx) -> None:
    """/queue [unassigned|overdue|deferred|all|stale]."""
    dispatch.check_dispatcher(context.person.roles)
    arg = context.args[0].lower() if context.args else QueueFilter.UNASSIGNED.value
    flt = QueueFilter(arg) if arg in {f.value for f in QueueFilter} else QueueFilter.UNASSIGNED
    await show_queue(update, context, flt, 0, edit=False)


async def show_queue(
    update: Update, context: Ctx, flt: QueueFilter, offset: int, *, edit: bool
) -> None:
    """One page of the queue with filter tabs.

    `offset` is an OFFSET into the everyday views (as long as the live work, so cheap) and,
    on the stale list (as long as the years of forgotten tickets), the id the page starts
    after (keyset)."""
    t = context.texts
    uow, me = context.store.uow(), context.person.id
    if flt is QueueFilter.STALE:
        window = await stale.stale_tickets(uow, me, after=offset, limit=PAGE)
        items, total = window.items, f"{window.total}+" if window.capped else str(window.total)
        newer = QueueView(flt.value, 0) if window.has_newer else None
        older = QueueView(flt.value, items[-1].id) if window.has_older else None
    else:
        page = await queries.dispatcher_queue(uow, me, flt, offset=offset, limit=PAGE)
        items, total = page.items, str(page.total)
        newer = QueueView(flt.value, max(offset - PAGE, 0)) if page.has_prev else None
        older = QueueView(flt.value, offset + PAGE) if page.has_next else None
    tabs: list[Button] = [
        (("• " if f is flt else "") + t(f"queue.filter_{f.value}"), QueueView(f.value, 0))
        for f in QueueFilter
    ]
    rows: list[list[Button]] = [tabs[:3], tabs[3:]]
    for v in items:
        label = f"{t(f'urgency.{v.urgency}')} · {v.number} · {t.status(v.status)} · {v.building}"
        rows.append([(clip(label, 60), QueueItem("open", v.id))])
    pager: list[Button] = []
    if newer is not None:
        pager.append((t("common.prev"), newer))
    if older is not None:
        pager.append((t("common.next"), older))
    rows.append(pager)
    if flt is QueueFilter.STALE and items:
        page_range = (offset, items[-1].id)
        rows.append([(t("queue.stale_close", count=len(items)), StaleBulk("close", *page_range))])
        rows.append(
            [(t("queue.stale_revive", count=len(items)), StaleBulk("revive", *page_range))]
        )
    text = t("queue.title", filter=t(f"queue.filter_{flt.value}"), total=total)
    await reply(update, text, keyboard(rows), edit=edit)


async def on_queue_view(update: Update, context: Ctx) -> None:
    """A filter tab or a page button."""
    dispatch.check_dispatcher(context.person.roles)
    view = data_of(update, QueueView)
    flt = QueueFilter(view.filter) if view.filter in {f.value for f in QueueFilter} else None
    if flt is None:
        return await stale_press(update, context)
    await answer(update.callback_query)
    await show_queue(update, context, flt, max(view.offset, 0), edit=True)


async def show_ticket(update: Update, context: Ctx, view: TicketView) -> None:
    """A ticket's detail with what a dispatcher may do in its state, and the requester's
    phone (`view` comes from the ticket's detail, which carries it for its building's
    dispatchers)."""
    t = context.texts
    lines = ticket_lines(t, view, description_limit=1500)
    lines.append(t("jobs.contact", phone=view.contact_phone or t("report.no_phone")))
    if view.promised_at:
        lines.append(t("my.promised", when=t.when(view.promised_at), reason=view.defer_reason))
    tid = view.id
    moves = allowed_actions(view.status, frozenset({Capacity.DISPATCHER}))
    rows: list[list[Button]] = []
    if Action.ASSIGN in moves:
        rows.append([(t("queue.assign"), QueueItem("assign", tid))])
    if Action.REASSIGN in moves:
        rows.append([(t("queue.reassign"), QueueItem("assign", tid))])
    if Action.CANCEL in moves:
        rows.append(
            [
                (t("queue.cancel"), QueueItem("cancel", tid)),
                (t("queue.duplicate"), QueueItem("duplicate", tid)),
            ]
        )
    rows.append([(t("queue.back"), QueueView(QueueFilter.UNASSIGNED.value, 0))])
    await reply(update, "\n".join(lines), keyboard(rows), edit=True)


def _pressed(update: Update) -> object:
    """The message a press came from (a question shown there replaces its text)."""
    return update.callback_query.message if update.callback_query is not None else None


async def on_item(update: Update, context: Ctx) -> None:
    """open, assign (pick a technician), cancel (reason), duplicate (original's number)."""
    dispatch.check_dispatcher(context.person.roles)
    item = data_of(update, QueueItem)
    t, tid = context.texts, item.ticket_id
    if item.action not in ITEM_ACTIONS:
        return await stale_press(update, context)
    # Scope and state are checked before the press is answered: a refusal must reach the
    # presser as an alert, and no question may be asked that could never be answered.
    view = await dispatch.ticket_in_scope(
        context.store.uow(), tid, context.person.id, *ITEM_ACTIONS[item.action]
    )
    await answer(update.callback_query)
    await pending.clear(context)
    if item.action == "open":
        return await show_ticket(update, context, view)
    if item.action == "assign":
        await pending.ask(context, "assign_name", ticket_id=tid)
        return await show_picker(update, context, view, 0, None, edit=True)
    if item.action == "cancel":
        await pending.ask(context, "dispatch_cancel", ticket_id=tid, shown_in=_pressed(update))
        rows = [[(t("common.back"), QueueItem("open", tid))]]
        return await reply(update, t("queue.cancel_why"), keyboard(rows), edit=True)
    await pending.ask(context, "dispatch_duplicate", ticket_id=tid, shown_in=_pressed(update))
    rows = [[(t("common.back"), QueueItem("open", tid))]]
    await reply(update, t("queue.duplicate_of"), keyboard(rows), edit=True)


async def show_picker(
    update: Update,
    context: Ctx,
    view: TicketView,
    offset: int,
    name: str | None,
    *,
    edit: bool,
) -> None:
    """A page of the technicians who may take the ticket, on duty and least loaded first,
    narrowed to a typed name when there is one."""
    t, tid = context.texts, view.id
    page = await queries.technicians_to_assign(
        context.store.uow(),
        view.building_id,
        view.category,
        name=name,
        leave_out=view.assignee_id,
        offset=offset,
        limit=ASSIGN_PAGE,
    )
    rows: list[list[Button]] = []
    for tech in page.items:
        duty = "🟢" if tech.on_duty else "⚪️"
        warn = "" if tech.reachable else " ⚠️"
        label = t("queue.tech_label", duty=duty, name=tech.name, load=tech.open_jobs) + warn
        rows.append([(clip(label, 60), AssignTo(tid, tech.person_id, view.assignee_id or 0))])
    named = 1 if name else 0
    rows.append(
        pager(
            t,
            AssignPage(tid, page.offset - ASSIGN_PAGE, named) if page.has_prev else None,
            AssignPage(tid, page.offset + ASSIGN_PAGE, named) if page.has_next else None,
        )
    )
    if name:
        rows.append([(t("queue.show_all"), AssignPage(tid, 0, 0))])
    rows.append([(t("common.back"), QueueItem("open", tid))])
    shown = clip(name, 40) if name else ""
    if name and not page.items:
        text = t("queue.no_match", number=view.number, name=shown)
    elif not page.items:
        text = t("queue.no_technicians", number=view.number)
    else:
        lines = [t("queue.pick_technician", number=view.number)]
        if name:
            lines.append(t("queue.named", name=shown, count=page.total))
        if page.total > page.limit or name:
            pages = (page.total + page.limit - 1) // page.limit
            lines.append(t("common.page", page=page.offset // page.limit + 1, pages=pages))
        lines.append(t("queue.type_name"))
        text = "\n".join(lines)
    await reply(update, text, keyboard(rows), edit=edit)


async def on_assign_page(update: Update, context: Ctx) -> None:
    """◀️/▶️ or "everyone" on the Assign picker; scope and state are checked again, and
    the typed name is the one parked for this very ticket (a button cannot carry it)."""
    dispatch.check_dispatcher(context.person.roles)
    press = data_of(update, AssignPage)
    view = await dispatch.ticket_in_scope(
        context.store.uow(), press.ticket_id, context.person.id, *ITEM_ACTIONS["assign"]
    )
    name: str | None = None
    question = await _parked_name_question(context)
    parked = question.get("ticket_id") == view.id
    if press.named and parked:
        name = question.get("name") or None
    await answer(update.callback_query)
    if not parked or (not press.named and question.get("name")):
        await pending.ask(context, "assign_name", ticket_id=view.id)
    await show_picker(update, context, view, press.offset, name, edit=True)


async def _parked_name_question(context: Ctx) -> dict[str, Any]:
    """The parked "type a name" question of an Assign picker, or {}."""
    draft = await drafts.get_draft(context.store.uow(), context.person.id)
    if draft is None or draft.step != pending.PENDING:
        return {}
    question: dict[str, Any] = draft.data.get("pending") or {}
    return question if question.get("kind") == "assign_name" else {}


@pending.on_answer("assign_name")
async def typed_assign_name(update: Update, context: Ctx, q: dict[str, Any]) -> bool:
    """A name (or part of one) typed at the Assign picker narrows it; the question stays
    parked, so another name can be typed, until a technician is picked."""
    name = typed_text(update)
    if not name:
        await reply(update, context.texts("queue.type_name"))
        return False
    name = name[:64]
    try:
        view = await dispatch.ticket_in_scope(
            context.store.uow(), int(q["ticket_id"]), context.person.id, *ITEM_ACTIONS["assign"]
        )
    except DomainError as exc:
        return await refused_answer(update, context, exc)
    await pending.ask(context, "assign_name", ticket_id=view.id, name=name)
    await show_picker(update, context, view, 0, name, edit=False)
    return False


async def on_assign(update: Update, context: Ctx) -> None:
    """Give the job to the chosen technician (the service re-checks scope and skills)."""
    dispatch.check_dispatcher(context.person.roles)
    pick = data_of(update, AssignTo)
    view = await dispatch.assign(
        context.store.uow(),
        pick.ticket_id,
        context.person.id,
        pick.person_id,
        replacing=pick.replacing or None,
    )
    if await _parked_name_question(context):
        await pending.clear(context)
    context.nudge_sender()
    await answer(update.callback_query, context.texts("jobs.done"))
    await reply(
        update,
        context.texts("queue.assigned", number=view.number, name=view.assignee_name or ""),
        edit=True,
    )


@pending.on_answer("dispatch_cancel")
async def typed_cancel_reason(update: Update, context: Ctx, q: dict[str, Any]) -> bool:
    """The reason a dispatcher rejects or cancels a ticket (the requester sees it)."""
    reason = typed_text(update)
    if not reason:
        await reply(update, context.texts("error.reason_required"))
        return False
    try:
        view = await requester.cancel(
            context.store.uow(), int(q["ticket_id"]), context.person.id, reason
        )
    except DomainError as exc:
        return await refused_answer(update, context, exc)
    context.nudge_sender()
    await reply(update, context.texts("queue.cancelled", number=view.number))
    return True


@pending.on_answer("dispatch_duplicate")
async def typed_duplicate(update: Update, context: Ctx, q: dict[str, Any]) -> bool:
    """The number of the ticket this one duplicates."""
    number = typed_text(update)
    if not number:
        await reply(update, context.texts("queue.duplicate_of"))
        return False
    try:
        view = await requester.mark_duplicate(
            context.store.uow(), int(q["ticket_id"]), context.person.id, number
        )
    except InvalidInput:  # no such open ticket, or this very one: ask again
        await reply(update, context.texts("queue.duplicate_unknown", number=clip(number, 40)))
        return False
    except DomainError as exc:
        return await refused_answer(update, context, exc)
    context.nudge_sender()
    await reply(
        update, context.texts("queue.marked_duplicate", number=view.number, original=number)
    )
    return True


async def on_stale_bulk(update: Update, context: Ctx) -> None:
    """Close or revive the stale page shown, then show the stale list again."""
    dispatch.check_dispatcher(context.person.roles)
    press = data_of(update, StaleBulk)
    bulk = {"close": stale.close_stale, "revive": stale.revive_stale}.get(press.action)
    if bulk is None:
        return await stale_press(update, context)
    done = await bulk(
        context.store.uow(), context.person.id, after=max(press.after, 0), upto=press.upto
    )
    context.nudge_sender()
    t = context.texts
    text = t(f"queue.stale_{press.action}d", count=done.done)
    if done.skipped:
        text += " " + t("queue.stale_skipped", count=done.skipped)
    await answer(update.callback_query, text)
    await show_queue(update, context, QueueFilter.STALE, max(press.after, 0), edit=True)


def handlers() -> list[BaseHandler[Update, Ctx, object]]:
    """This flow's handlers."""
    return [
        CommandHandler("queue", guarded(queue_command)),
        CallbackQueryHandler(guarded(on_queue_view), pattern=pattern(QueueView)),
        CallbackQueryHandler(guarded(on_item), pattern=pattern(QueueItem)),
        CallbackQueryHandler(guarded(on_assign), pattern=pattern(AssignTo)),
        CallbackQueryHandler(guarded(on_assign_page), pattern=pattern(AssignPage)),
        CallbackQueryHandler(guarded(on_stale_bulk), pattern=pattern(StaleBulk)),
    ]
