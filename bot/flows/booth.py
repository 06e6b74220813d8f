"""Booth intake: staff file for a walk-up person (name and phone, then the usual report
steps, which end in bot/flows/walkup.py); the person gets a claim code and a QR link that
ties the ticket to their Telegram account. /myroom lets anyone set their own room."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.context import Ctx
from bot.flows import pending, report
from bot.flows.common import guarded, reply, typed_text
from bot.ui import clip
from store.directory import places
from store.directory.profiles import set_room
from store.errors import InviteInvalid
from store.intake import drafts
from store.intake.booth import CLAIM_PREFIX, check_booth_staff, claim


async def booth_command(update: Update, context: Ctx) -> None:
    """/booth: file for a walk-up person; first their name."""
    check_booth_staff(context.person.roles)
    # One draft per person: a booth report would replace the staff member's own.
    existing = await drafts.get_draft(context.store.uow(), context.person.id)
    if existing is not None:
        await reply(update, context.texts("booth.draft_first"))
        await report.render(update, context, existing)
        return
    await pending.ask(context, "booth_name")
    await reply(update, context.texts("booth.ask_name"))


@pending.on_answer("booth_name")
async def typed_name(update: Update, context: Ctx, q: dict[str, Any]) -> bool:
    """The walk-up person's name; then their phone."""
    name = typed_text(update)
    if not name or len(name) > 200:
        await reply(update, context.texts("booth.ask_name"))
        return False
    await pending.clear(context)
    await pending.ask(context, "booth_phone", name=name)
    await reply(update, context.texts("booth.ask_phone", name=clip(name, 60)))
    return False  # the question is now the phone


@pending.on_answer("booth_phone")
async def typed_phone(update: Update, context: Ctx, q: dict[str, Any]) -> bool:
    """Their phone ("-" for none); then the usual report steps."""
    phone = typed_text(update)
    if not phone:
        await reply(update, context.texts("booth.ask_phone", name=q.get("name", "")))
        return False
    await pending.clear(context)
    walkup = {"name": str(q.get("name", "")), "phone": "" if phone == "-" else phone[:40]}
    await report.begin(update, context, walkup=walkup)
    return False  # already cleared; the report draft is now in progress


async def redeem_claim(update: Update, context: Ctx, code: str) -> None:
    """/start c_CODE: the walk-up person takes over their ticket."""
    user = update.effective_user
    assert user is not None
    try:
        number = await claim(
            context.store.uow(),
            code,
            telegram_id=user.id,
            name=user.full_name,
            language=context.texts.language,
        )
    except InviteInvalid as exc:
        if exc.reason == "expired":
            days = context.settings.service.claim_ttl_days
            await reply(update, context.texts("booth.claim_expired", days=days))
            return
        await reply(
            update,
            context.texts(
                "booth.claim_invalid", reason=context.texts(f"invite.reason_{exc.reason}")
            ),
        )
        return
    await reply(update, context.texts("booth.claimed", number=number))


async def myroom_command(update: Update, context: Ctx) -> None:
    """/myroom: set the room your reports start from (type its code, or "-" to clear)."""
    await pending.ask(context, "my_room")
    await reply(update, context.texts("myroom.ask"))


@pending.on_answer("my_room")
async def typed_room(update: Update, context: Ctx, q: dict[str, Any]) -> bool:
    """The room code for "my room"."""
    text = typed_text(update)
    if text == "-":
        await set_room(context.store.uow(), context.person.id, None)
        await reply(update, context.texts("myroom.cleared"))
        return True
    place = await places.room_by_code(context.store.uow(), text or "")
    if place is None:
        await reply(update, context.texts("myroom.unknown", text=clip(text or "", 40)))
        return False
    await set_room(context.store.uow(), context.person.id, place.room_id)
    await reply(
        update,
        context.texts(
            "myroom.set", room_code=place.code, building=place.building, room=place.room
        ),
    )
    return True


def handlers() -> list[BaseHandler[Update, Ctx, object]]:
    """This flow's handlers."""
    return [
        CommandHandler("booth", guarded(booth_command)),
        CommandHandler("myroom", guarded(myroom_command)),
    ]


__all__ = ["CLAIM_PREFIX", "handlers", "redeem_claim"]
