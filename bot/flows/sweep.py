"""Sweep the building: start a campaign, walk room by room with the checklist as buttons,
file a ticket for each fault (note and photo), tell residents who were not home, and close
the campaign with a report for the supervisor. Stop any time; /sweep resumes."""

from __future__ import annotations

import re
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.callbacks import NobodyHomeReply, SweepAct, SweepChecklist, SweepPage
from bot.context import Ctx
from bot.flows import pending
from bot.flows.common import answer, data_of, guarded, pattern, refused_answer, reply, stale_press
from bot.ui import Button, clip, keyboard, pager
from store.directory import places
from store.domain.sweeps import check_sweeper
from store.errors import (
    AmbiguousName,
    DomainError,
    InvalidInput,
    NotFound,
    TransitionNotAllowed,
)
from store.intake import campaigns, drafts, sweep
from store.intake.sweep import RoomCard

REPEAT = re.compile(r"(\d{1,2})w", re.IGNORECASE)
EACH_TERM = {"term", "学期", "學期"}  # "/sweep E1 term": again at each term start
CAMPAIGNS_PAGE = 10  # open campaigns a page of /sweep


async def sweep_command(update: Update, context: Ctx) -> None:
    """/sweep: the open campaigns to join or resume; /sweep BUILDING [FLOOR ...] starts one."""
    check_sweeper(context.person.roles)
    t = context.texts
    if context.args:
        name = context.args[0]
        # "4w" among the arguments repeats the campaign every 4 weeks, "term" at each term
        # start; the rest are floors.
        extra = context.args[1:]
        repeats = [a for a in extra if REPEAT.fullmatch(a)]
        each_term = any(a.casefold() in EACH_TERM for a in extra)
        floors = [a for a in extra if not REPEAT.fullmatch(a) and a.casefold() not in EACH_TERM]
        repeat_weeks = int(repeats[-1][:-1]) if repeats else None
        campaigns.check_repeat(
            context.store.policy, context.store.clock(), repeat_weeks, each_term
        )
        try:
            building = await places.building_by_name(context.store.uow(), name)
        except (NotFound, AmbiguousName):
            await reply(update, t("sweep.unknown_building", name=clip(name, 40)))
            return
        await campaigns.may_sweep(context.store.uow(), context.person.id, building.id)
        await pending.ask(
            context,
            "sweep_start",
            building_id=building.id,
            floors=floors,
            repeat_weeks=repeat_weeks,
            each_term=each_term,
        )
        choices: list[list[Button]] = [
            [(t(f"checklist.{key}"), SweepChecklist(key))]
            for key in context.store.policy.checklists
        ]
        text = t("sweep.choose_checklist", building=building.name)
        await reply(update, text, keyboard(choices))
        return
    await show_campaigns(update, context, 0, edit=False)


async def show_campaigns(update: Update, context: Ctx, offset: int, *, edit: bool) -> None:
    """A page of my open campaigns, a button each; a forged offset shows the nearest page."""
    t = context.texts
    open_campaigns = await campaigns.active_campaigns(context.store.uow(), context.person.id)
    if not open_campaigns:
        await reply(update, t("sweep.none"), edit=edit)
        return
    total = len(open_campaigns)
    offset = min(max(offset, 0), (total - 1) // CAMPAIGNS_PAGE * CAMPAIGNS_PAGE)
    rows: list[list[Button]] = []
    for c in open_campaigns[offset : offset + CAMPAIGNS_PAGE]:
        label = t("sweep.campaign_label", building=c.building, done=c.done, total=c.total)
        rows.append([(label, SweepAct("open", c.id, 0, "-"))])
    more = offset + CAMPAIGNS_PAGE < total
    newer = SweepPage(offset - CAMPAIGNS_PAGE) if offset else None
    rows.append(pager(t, newer, SweepPage(offset + CAMPAIGNS_PAGE) if more else None))
    await reply(update, t("sweep.campaigns"), keyboard(rows), edit=edit)


async def on_page(update: Update, context: Ctx) -> None:
    """◀️/▶️ on the list of open campaigns."""
    check_sweeper(context.person.roles)
    offset = data_of(update, SweepPage).offset
    await answer(update.callback_query)
    await show_campaigns(update, context, offset, edit=True)


async def on_checklist(update: Update, context: Ctx) -> None:
    """The checklist chosen: the campaign starts and the first room is shown."""
    check_sweeper(context.person.roles)
    key = data_of(update, SweepChecklist).checklist
    question = await pending.clear(context)
    if question is None or question.get("kind") != "sweep_start":
        return await stale_press(update, context)
    view = await campaigns.start_campaign(
        context.store.uow(),
        actor_id=context.person.id,
        building_id=int(question["building_id"]),
        checklist=key,
        floors=[str(f) for f in question.get("floors", [])],
        repeat_weeks=question.get("repeat_weeks"),
        each_term=bool(question.get("each_term")),
    )
    await answer(update.callback_query)
    t = context.texts
    text = t("sweep.started", building=view.building, total=view.total)
    if view.next_start_at is not None:
        text += "\n" + t("sweep.repeats_on", day=t.when(view.next_start_at, "yyyy-MM-dd"))
    await reply(update, text, edit=True)
    await show_next(update, context, view.id)


def _card_markup(context: Ctx, card: RoomCard) -> list[list[Button]]:
    t, cid, rid = context.texts, card.campaign_id, card.room_id
    rows: list[list[Button]] = []
    for item in card.items:
        label = t(f"checklist_item.{item}")
        result = card.results.get(item)
        if result is None:
            rows.append(
                [
                    ("✅ " + label, SweepAct("ok", cid, rid, item)),
                    ("❌ " + label, SweepAct("fault", cid, rid, item)),
                ]
            )
        elif result == "ok":
            rows.append([("✔︎ " + label, SweepAct("fault", cid, rid, item))])
        else:
            rows.append([(f"🎫 {label} · {result}", SweepAct("noop", cid, rid, item))])
    rows.append(
        [
            (t("sweep.nobody_home"), SweepAct("nobody", cid, rid, "-")),
            (t("sweep.room_done"), SweepAct("done", cid, rid, "-")),
        ]
    )
    rows.append(
        [
            (t("sweep.stop"), SweepAct("stop", cid, 0, "-")),
            (t("sweep.progress"), SweepAct("progress", cid, 0, "-")),
        ]
    )
    return rows


def _card_text(context: Ctx, card: RoomCard) -> str:
    return context.texts(
        "sweep.room_card",
        floor=card.floor,
        room=card.room,
        code=card.code,
        residents=card.residents,
    )


async def show_next(update: Update, context: Ctx, campaign_id: int, *, edit: bool = False) -> None:
    """The room this inspector is at, or the next free one; or "all rooms done"."""
    t = context.texts
    card = await sweep.next_room(context.store.uow(), campaign_id, context.person.id)
    if card is None:
        view = await campaigns.progress(context.store.uow(), campaign_id)
        rows = [[(t("sweep.close"), SweepAct("close", campaign_id, 0, "-"))]]
        await reply(
            update,
            t("sweep.all_done", done=view.done, total=view.total),
            keyboard(rows),
            edit=edit,
        )
        return
    await reply(
        update, _card_text(context, card), keyboard(_card_markup(context, card)), edit=edit
    )


async def _drop_fault_question(context: Ctx) -> None:
    """Forget a parked "describe the fault" question, or the next message would file it."""
    draft = await drafts.get_draft(context.store.uow(), context.person.id)
    parked = draft.data.get("pending", {}) if draft and draft.step == pending.PENDING else {}
    if parked.get("kind") == "sweep_fault":
        await pending.clear(context)


async def on_act(update: Update, context: Ctx) -> None:
    """A button on a room card or a campaign; the service checks the room is mine."""
    check_sweeper(context.person.roles)
    try:
        await _act(update, context)
    except (TransitionNotAllowed, NotFound):
        # The room was finished or taken over, or the campaign closed: the button is
        # stale (a ticket's "now {status}" text would name a room state as a status).
        await stale_press(update, context)


async def _act(update: Update, context: Ctx) -> None:
    act = data_of(update, SweepAct)
    t, uow, me, query = context.texts, context.store.uow, context.person.id, update.callback_query
    cid, rid = act.campaign_id, act.room_id
    if act.action == "open":
        await _drop_fault_question(context)  # "Back" from a fault's note: no note after all
        await show_next(update, context, cid, edit=True)
        return await answer(query)
    if act.action == "ok":
        card = await sweep.mark_ok(uow(), cid, rid, me, act.item)
        await answer(query)
        return await reply(
            update, _card_text(context, card), keyboard(_card_markup(context, card)), edit=True
        )
    if act.action == "fault":
        try:
            await sweep.check_fault(uow(), cid, rid, me, act.item)
        except InvalidInput:
            return await stale_press(update, context)
        await pending.ask(context, "sweep_fault", campaign_id=cid, room_id=rid, item=act.item)
        await answer(query)
        rows = [[(t("common.back"), SweepAct("open", cid, 0, "-"))]]
        return await reply(
            update,
            t("sweep.fault_ask", item=t(f"checklist_item.{act.item}")),
            keyboard(rows),
            edit=True,
        )
    if act.action in ("done", "nobody"):
        asked = await sweep.finish_room(uow(), cid, rid, me, nobody_home=act.action == "nobody")
        context.nudge_sender()
        await answer(
            query,
            t("sweep.residents_asked", count=asked) if act.action == "nobody" else t("jobs.done"),
        )
        return await show_next(update, context, cid, edit=True)
    if act.action == "stop":
        await answer(query)
        return await reply(update, t("sweep.stopped"), edit=True)
    if act.action == "progress":
        view = await campaigns.progress_for(uow(), cid, me)
        faults = ", ".join(
            f"{t(f'checklist_item.{k}')} {n}" for k, n in view.faults_by_item.items()
        )
        await answer(
            query,
            t("sweep.progress_text", done=view.done, total=view.total, faults=faults or "—"),
            alert=True,
        )
        return None
    if act.action == "close":
        report = await campaigns.close_campaign(uow(), cid, me)
        context.nudge_sender()
        await answer(query)
        return await reply(
            update,
            t(
                "sweep.closed",
                building=report.campaign.building,
                checked=report.checked,
                nobody=report.nobody_home,
                not_reached=report.not_reached,
                tickets=len(report.tickets),
            ),
            edit=True,
        )
    await stale_press(update, context)


@pending.on_answer("sweep_fault")
async def typed_fault(update: Update, context: Ctx, q: dict[str, Any]) -> bool:
    """The fault's note (text, or a photo with a caption): files the ticket."""
    message = update.effective_message
    assert message is not None
    t = context.texts
    photos = [message.photo[-1].file_id] if message.photo else []
    note = (message.text or message.caption or "").strip()
    item = str(q["item"])
    if not note and photos:
        note = t(f"checklist_item.{item}")
    if not note:
        await reply(update, t("sweep.fault_ask", item=t(f"checklist_item.{item}")))
        return False
    try:
        number = await sweep.file_fault(
            context.store.uow(),
            int(q["campaign_id"]),
            int(q["room_id"]),
            context.person.id,
            item,
            f"{t(f'checklist_item.{item}')}: {note}",
            photos,
        )
    except (TransitionNotAllowed, NotFound):
        # The room was finished or taken over, or the campaign closed meanwhile.
        await reply(update, t("sweep.fault_too_late"))
        return True
    except DomainError as exc:
        return await refused_answer(update, context, exc)
    context.nudge_sender()
    await reply(update, t("sweep.fault_filed", number=number))
    await pending.clear(context)
    await show_next(update, context, int(q["campaign_id"]))
    return False  # cleared above, before showing the card


async def on_nobody_home_reply(update: Update, context: Ctx) -> None:
    """A resident answers the "we passed your room" message."""
    reply_data = data_of(update, NobodyHomeReply)
    t = context.texts
    await answer(update.callback_query)
    if reply_data.answer == "fine":
        await reply(update, t("sweep.thanks_fine"), edit=True)
        return
    from bot.flows import report

    await report.begin(update, context)


def handlers() -> list[BaseHandler[Update, Ctx, object]]:
    """This flow's handlers."""
    return [
        CommandHandler("sweep", guarded(sweep_command)),
        CallbackQueryHandler(guarded(on_checklist), pattern=pattern(SweepChecklist)),
        CallbackQueryHandler(guarded(on_act), pattern=pattern(SweepAct)),
        CallbackQueryHandler(guarded(on_page), pattern=pattern(SweepPage)),
        CallbackQueryHandler(guarded(on_nobody_home_reply), pattern=pattern(NobodyHomeReply)),
    ]
