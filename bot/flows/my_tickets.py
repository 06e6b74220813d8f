"""My tickets: a paged list, each ticket's detail with photos and timeline, and the
requester's actions (urge, cancel, confirm and rate, not fixed, complain, visit answers)."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, InputMediaPhoto, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.callbacks import Menu, MyPage, Rate, TicketAction, VisitAnswer
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
from bot.notices import rating_keyboard
from bot.ui import Button, clip, keyboard, place_label, stars, ticket_lines
from store.errors import CooldownActive, DomainError
from store.lifecycle import (
    COMPLAIN_STATUSES,
    URGE_STATUSES,
    Action,
    Capacity,
    Status,
    allowed_actions,
)
from store.repair import queries, requester, work
from store.views import TicketView

PAGE_SIZE = 5


async def my_command(update: Update, context: Ctx) -> None:
    """/my: the first page of my tickets."""
    await show_list(update, context)


async def show_list(update: Update, context: Ctx, *, cursor: int = 0, edit: bool = False) -> None:
    """One page of my tickets, newest first.

    The page is read by keyset, never by OFFSET, so page 50 costs what page 1 does:
    `cursor` (MyPage's int) is 0 for the newest page, a ticket id for the page older than
    that ticket, or minus a ticket id for the page newer than it.
    """
    t = context.texts
    page = await queries.my_tickets(
        context.store.uow(),
        context.person.id,
        before=cursor if cursor > 0 else None,
        after=-cursor if cursor < 0 else None,
        limit=PAGE_SIZE,
    )
    back: list[Button] = [(t("menu.back_to_menu"), Menu("menu"))]
    if not page.items:
        await reply(update, t("my.empty"), keyboard([back]), edit=edit)
        return
    rows: list[list[Button]] = [
        [(f"{v.number} · {t.status(v.status)}", TicketAction("open", v.id))] for v in page.items
    ]
    pager: list[Button] = []
    if page.has_newer:
        pager.append((t("common.prev"), MyPage(-page.items[0].id)))
    if page.has_older:
        pager.append((t("common.next"), MyPage(page.items[-1].id)))
    total = f"{page.total}+" if page.capped else str(page.total)
    lines = [t("my.title", total=total)]
    lines += [
        t(
            "my.item",
            number=v.number,
            status=t.status(v.status),
            category=t.category(v.category),
            place=place_label(v),
        )
        for v in page.items
    ]
    await reply(update, "\n".join(lines), keyboard([*rows, pager, back]), edit=edit)


async def on_page(update: Update, context: Ctx) -> None:
    """Another page of the list."""
    await answer(update.callback_query)
    await show_list(update, context, cursor=data_of(update, MyPage).offset, edit=True)


def _actions(context: Ctx, view: TicketView, caps: frozenset[Capacity]) -> list[list[Button]]:
    """The buttons this person may press on this ticket now."""
    t, tid = context.texts, view.id
    rows: list[list[Button]] = []
    if Capacity.REQUESTER in caps:
        moves = allowed_actions(view.status, caps)
        if view.status in URGE_STATUSES:
            rows.append([_urge_button(context, view)])
        proposal = work.visit_to_answer(view.status, view.visit_at, view.visit_confirmed)
        if proposal is not None:
            at = work.epoch_minutes(proposal)
            rows.append(
                [
                    (t("my.accept_visit"), VisitAnswer("ok", tid, at)),
                    (t("my.other_visit"), VisitAnswer("no", tid, at)),
                ]
            )
        if Action.CONFIRM in moves:
            rows.append([(t("my.confirm_fixed"), TicketAction("fixed", tid))])
        if Action.REOPEN in moves:
            rows.append([(t("my.not_fixed"), TicketAction("notfixed", tid))])
        if Action.CANCEL in moves:
            rows.append([(t("my.cancel"), TicketAction("cancel", tid))])
        if view.status in COMPLAIN_STATUSES:
            rows.append([(t("my.complain"), TicketAction("complain", tid))])
    rows.append([(t("my.back_to_list"), MyPage(0))])
    return rows


def _urge_button(context: Ctx, view: TicketView) -> Button:
    t = context.texts
    cooldown = context.store.policy.urge_cooldown
    if view.last_urged_at is not None and context.store.clock() < view.last_urged_at + cooldown:
        label = t("my.urge_wait", when=t.when(view.last_urged_at + cooldown, "HH:mm"))
    else:
        label = t("my.urge")
    return (label, TicketAction("urge", view.id))


async def show_detail(update: Update, context: Ctx, ticket_id: int, *, edit: bool) -> None:
    """A ticket's detail: photos, facts, whole timeline, and the actions it allows."""
    t, uow = context.texts, context.store.uow
    view, caps = await queries.ticket_detail(uow(), ticket_id, context.person.id)
    events = await queries.timeline(uow(), ticket_id, context.person.id)
    lines = ticket_lines(t, view, description_limit=1200)
    if view.visit_at:
        lines.append(t("my.visit", when=t.when(view.visit_at)))
    if view.status == Status.DEFERRED and view.promised_at:
        lines.append(t("my.promised", when=t.when(view.promised_at), reason=view.defer_reason))
    if view.rating is not None:
        lines.append(t("my.rating", stars=stars(view.rating)))
    lines.append("")
    lines.append(t("my.timeline"))
    history = []
    for event in events:
        actor = t("former.user") if event.actor_former else event.actor_name or ""
        what = t(f"action.{event.action}", actor=actor)
        said = t.event_note(event.action, event.note)
        note = f" ({clip(said, 80)})" if said and event.action != "offer" else ""
        history.append(t("my.event", when=t.when(event.at), what=what + note))
    # The whole timeline, unless it would not fit one message: then the oldest entries
    # give way (the newest are what the requester is looking for).
    room = 3900 - sum(len(line) + 1 for line in lines)
    shown: list[str] = []
    for line in reversed(history):
        if room - len(line) - 1 < 40:
            shown.append(t("my.earlier", count=len(history) - len(shown)))
            break
        room -= len(line) + 1
        shown.append(line)
    lines.extend(reversed(shown))
    chat = update.effective_chat
    assert chat is not None
    photos = list(view.photos) + list(view.result_photos)
    if edit and photos:
        edit = False  # photos go above, so the detail must come below them
    if photos:
        await chat.send_media_group([InputMediaPhoto(p) for p in photos[:10]])
    await reply(
        update, clip("\n".join(lines), 4000), keyboard(_actions(context, view, caps)), edit=edit
    )


async def on_action(update: Update, context: Ctx) -> None:
    """A requester's button on one ticket; every press is checked by the service."""
    act = data_of(update, TicketAction)
    t, uow, tid, me = context.texts, context.store.uow, act.ticket_id, context.person.id
    query = update.callback_query
    # First of all: a ticket this person may not see gets the answer a missing one gets
    # (NotFound), before any answer or change, so forged data probes nothing.
    view, caps = await queries.ticket_detail(uow(), tid, me)
    if act.action in ("open", "skip"):
        await answer(query)
        await pending.clear(context)  # navigating away drops an unanswered question
        return await show_detail(update, context, tid, edit=True)
    if act.action == "urge":
        try:
            until = await requester.urge(uow(), tid, me)
        except CooldownActive as exc:
            return await answer(query, t("my.urge_wait", when=t.when(exc.until, "HH:mm")), True)
        context.nudge_sender()
        await answer(query, t("my.urged", when=t.when(until, "HH:mm")), alert=True)
        return await show_detail(update, context, tid, edit=True)
    if act.action == "cancel":
        requester.check_requester_move(Action.CANCEL, view.status, caps)
        await answer(query)
        rows = [
            [(t("my.cancel_yes"), TicketAction("cancel_yes", tid))],
            [(t("common.back"), TicketAction("open", tid))],
        ]
        return await reply(
            update, t("my.cancel_confirm", number=view.number), keyboard(rows), edit=True
        )
    if act.action == "cancel_yes":
        await requester.cancel(uow(), tid, me)
        context.nudge_sender()
        await answer(query)
        return await show_detail(update, context, tid, edit=True)
    if act.action == "fixed":
        requester.check_requester_move(Action.CONFIRM, view.status, caps)
        await answer(query)
        return await reply(update, t("my.rate_ask", number=view.number), rating_keyboard(t, tid))
    if act.action == "notfixed":
        view = await requester.reopen(uow(), tid, me)
        context.nudge_sender()
        await answer(query)
        return await reply(update, t("my.not_fixed_done", number=view.number), edit=True)
    if act.action == "complain":
        requester.check_requester(caps, "complain")
        requester.check_complaint(view.status)
        await pending.ask(context, "complaint", ticket_id=tid)
        await answer(query)
        phone = context.settings.service.complaint_phone
        rows = [[(t("common.cancel"), TicketAction("open", tid))]]
        ask = t("my.complain_ask", phone=phone)
        return await _ask_below(update, context, "complaint", ask, keyboard(rows))
    await stale_press(update, context)


async def on_visit_answer(update: Update, context: Ctx) -> None:
    """The requester accepts a proposed visit time or asks for another; an answer to an
    older proposal than the latest is stale."""
    ans = data_of(update, VisitAnswer)
    t, uow, tid, me = context.texts, context.store.uow, ans.ticket_id, context.person.id
    query = update.callback_query
    # A stranger's ticket is answered as a missing one (see on_action).
    view, _caps = await queries.ticket_detail(uow(), tid, me)
    proposed = work.epoch_minutes(view.visit_at) if view.visit_at is not None else None
    if ans.action not in ("ok", "no") or proposed != ans.at_minutes:
        return await stale_press(update, context)
    accepted = ans.action == "ok"
    view = await work.answer_visit(
        uow(), tid, me, accepted=accepted, proposed_minutes=ans.at_minutes
    )
    context.nudge_sender()
    await answer(query)
    key = "my.visit_accepted" if accepted else "my.visit_declined"
    # The proposal becomes the answer, so its buttons cannot be pressed twice.
    await reply(update, t(key, when=t.when(view.visit_at)), edit=True)


async def on_rate(update: Update, context: Ctx) -> None:
    """Stars for a completed ticket; then an optional comment."""
    rate = data_of(update, Rate)
    t = context.texts
    # A stranger's ticket is answered as a missing one (see on_action).
    await queries.ticket_detail(context.store.uow(), rate.ticket_id, context.person.id)
    result = await requester.confirm_and_rate(
        context.store.uow(), rate.ticket_id, context.person.id, rate.stars
    )
    context.nudge_sender()
    await answer(update.callback_query)
    await reply(
        update, t("my.rated", number=result.ticket.number, stars=stars(rate.stars)), edit=True
    )
    await pending.ask(context, "rating_comment", ticket_id=rate.ticket_id)
    rows = [[(t("common.skip"), TicketAction("skip", rate.ticket_id))]]
    await _ask_below(update, context, "rating_comment", t("my.comment_ask"), keyboard(rows))


async def _ask_below(
    update: Update, context: Ctx, kind: str, text: str, markup: InlineKeyboardMarkup
) -> None:
    """Send the just parked question with its buttons; they go once it is answered."""
    chat = update.effective_chat
    assert chat is not None
    sent = await chat.send_message(text, reply_markup=markup)
    await pending.shown_in_message(context, kind, sent)


@pending.on_answer("rating_comment")
async def on_comment(update: Update, context: Ctx, question: dict[str, Any]) -> bool:
    """The optional comment after the stars."""
    text = typed_text(update)
    if text is None:
        await reply(update, context.texts("common.use_buttons"))
        return False
    tid = int(question["ticket_id"])
    try:
        await requester.comment_rating(context.store.uow(), tid, context.person.id, text)
    except DomainError as exc:
        return await refused_answer(update, context, exc)
    await reply(update, context.texts("my.comment_saved"))
    return True


@pending.on_answer("complaint")
async def on_complaint(update: Update, context: Ctx, question: dict[str, Any]) -> bool:
    """The complaint's text: a follow-up for the building's supervisor."""
    text = typed_text(update)
    if text is None:
        await reply(update, context.texts("common.use_buttons"))
        return False
    tid = int(question["ticket_id"])
    try:
        number = await requester.complain(context.store.uow(), tid, context.person.id, text)
    except DomainError as exc:  # e.g. the ticket was cancelled meanwhile
        return await refused_answer(update, context, exc)
    context.nudge_sender()
    phone = context.settings.service.complaint_phone
    await reply(update, context.texts("my.complained", followup=number, phone=phone))
    return True


def handlers() -> list[BaseHandler[Update, Ctx, object]]:
    """This flow's handlers."""
    return [
        CommandHandler("my", guarded(my_command)),
        CallbackQueryHandler(guarded(on_page), pattern=pattern(MyPage)),
        CallbackQueryHandler(guarded(on_action), pattern=pattern(TicketAction)),
        CallbackQueryHandler(guarded(on_rate), pattern=pattern(Rate)),
        CallbackQueryHandler(guarded(on_visit_answer), pattern=pattern(VisitAnswer)),
    ]
