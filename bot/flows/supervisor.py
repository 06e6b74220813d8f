"""Supervisors: /followups raised by low ratings and complaints, resolved with a note that
the requester is told; /invite to bring staff in with a one-time deep link."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.callbacks import FollowUpAction, FollowUpPage
from bot.context import Ctx
from bot.flows import pending
from bot.flows.common import answer, data_of, guarded, pattern, refused_answer, reply, stale_press
from bot.ui import Button, clip, keyboard, pager, stars
from store import roles
from store.directory import places
from store.directory.invites import INVITE_PREFIX, check_may_invite, create_invite
from store.errors import (
    AmbiguousName,
    DomainError,
    InvalidInput,
    NotFound,
    NotPermitted,
    TransitionNotAllowed,
)
from store.lifecycle import Role
from store.repair import followups

FOLLOWUPS_PAGE = 10  # follow-ups a page of /followups


async def followups_command(update: Update, context: Ctx) -> None:
    """/followups: the open ones in my buildings, oldest first."""
    followups.check_supervisor(context.person.roles)
    await show_followups(update, context, edit=False)


async def show_followups(update: Update, context: Ctx, *, edit: bool, offset: int = 0) -> None:
    """A page of the open follow-ups as buttons, oldest first; a forged offset shows the
    nearest page there is."""
    t = context.texts
    items = await followups.open_followups(context.store.uow(), context.person.id)
    if not items:
        await reply(update, t("followups.empty"), edit=edit)
        return
    offset = min(max(offset, 0), (len(items) - 1) // FOLLOWUPS_PAGE * FOLLOWUPS_PAGE)
    rows: list[list[Button]] = [
        [
            (
                clip(f"{f.number} · {t(f'followup_kind.{f.kind}')} · {f.ticket_number}", 60),
                FollowUpAction("open", f.id),
            )
        ]
        for f in items[offset : offset + FOLLOWUPS_PAGE]
    ]
    more = offset + FOLLOWUPS_PAGE < len(items)
    newer = FollowUpPage(offset - FOLLOWUPS_PAGE) if offset else None
    rows.append(pager(t, newer, FollowUpPage(offset + FOLLOWUPS_PAGE) if more else None))
    await reply(update, t("followups.title", count=len(items)), keyboard(rows), edit=edit)


async def on_followups_page(update: Update, context: Ctx) -> None:
    """◀️/▶️ on /followups."""
    followups.check_supervisor(context.person.roles)
    offset = data_of(update, FollowUpPage).offset
    await answer(update.callback_query)
    await show_followups(update, context, edit=True, offset=offset)


async def on_followup(update: Update, context: Ctx) -> None:
    """Open a follow-up, or start resolving it (a note is required)."""
    followups.check_supervisor(context.person.roles)
    act = data_of(update, FollowUpAction)
    t = context.texts
    if act.action not in ("open", "resolve"):
        return await stale_press(update, context)
    items = await followups.open_followups(context.store.uow(), context.person.id)
    item = next((f for f in items if f.id == act.followup_id), None)
    if item is None:
        return await answer(update.callback_query, t("followups.gone"), alert=True)
    await answer(update.callback_query)
    if act.action == "open":
        text = t(
            "followups.detail",
            number=item.number,
            kind=t(f"followup_kind.{item.kind}"),
            ticket=item.ticket_number,
            rating=stars(item.rating),
            text=item.text or "—",
            opened=t.when(item.opened_at),
        )
        rows: list[list[Button]] = [[(t("followups.resolve"), FollowUpAction("resolve", item.id))]]
        return await reply(update, text, keyboard(rows), edit=True)
    await pending.ask(context, "followup_note", followup_id=item.id, number=item.number)
    await reply(update, t("followups.note_ask", number=item.number), edit=True)


@pending.on_answer("followup_note")
async def typed_note(update: Update, context: Ctx, q: dict[str, Any]) -> bool:
    """The resolution note; the requester is told it."""
    message = update.effective_message
    note = message.text.strip() if message is not None and message.text else ""
    if not note:
        await reply(update, context.texts("error.reason_required"))
        return False
    try:
        await followups.resolve(
            context.store.uow(), int(q["followup_id"]), context.person.id, note
        )
    except TransitionNotAllowed:  # someone resolved it meanwhile
        await reply(update, context.texts("followups.gone"))
        return True
    except DomainError as exc:
        return await refused_answer(update, context, exc)
    context.nudge_sender()
    await reply(update, context.texts("followups.resolved", number=q.get("number", "")))
    return True


async def invite_command(update: Update, context: Ctx) -> None:
    """/invite ROLE [BUILDING ...]: a one-time staff link (admins: any role; supervisors:
    technician, dispatcher or inspector within their own scope)."""
    t = context.texts
    check_may_invite(context.person.roles)
    args = context.args or []
    staff_roles = [r.value for r in Role if r in roles.STAFF]
    if not args or args[0] not in staff_roles:
        await reply(update, t("invite.usage", roles=", ".join(staff_roles)))
        return
    building_ids: list[int] = []
    for name in args[1:]:
        try:
            building = await places.building_by_name(context.store.uow(), name)
        except (NotFound, InvalidInput, AmbiguousName):
            await reply(update, t("invite.unknown_building", name=clip(name, 40)))
            return
        building_ids.append(building.id)
    settings = context.settings
    try:
        token = await create_invite(
            context.store.uow(),
            created_by=context.person.id,
            role=Role(args[0]),
            secret=settings.invite_secret(),
            building_ids=building_ids,
            ttl=timedelta(hours=settings.service.invite_ttl_hours),
        )
    except NotPermitted:  # a role or a scope beyond the supervisor's own: say what is allowed
        await reply(update, t("invite.not_allowed"))
        return
    username = settings.telegram.bot_username or (context.bot.username or "")
    link = f"https://t.me/{username}?start={INVITE_PREFIX}{token}"
    await reply(
        update,
        t(
            "invite.created",
            role=t(f"role.{args[0]}"),
            link=link,
            hours=settings.service.invite_ttl_hours,
        ),
    )


def handlers() -> list[BaseHandler[Update, Ctx, object]]:
    """This flow's handlers."""
    return [
        CommandHandler("followups", guarded(followups_command)),
        CommandHandler("invite", guarded(invite_command)),
        CallbackQueryHandler(guarded(on_followup), pattern=pattern(FollowUpAction)),
        CallbackQueryHandler(guarded(on_followups_page), pattern=pattern(FollowUpPage)),
    ]
