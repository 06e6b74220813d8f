"""The end of a booth report: the walk-up person's ticket is filed and the staff member
gets its claim code with a QR link (the report steps call this for a walk-up draft; the
code is redeemed in bot/flows/booth.py)."""

from __future__ import annotations

import io
from typing import Any

from telegram import InputFile, Update

from bot.context import Ctx
from bot.flows.common import reply
from bot.ui import clip
from store.domain.filing import NewTicket
from store.intake.booth import file_walkup


async def submit_walkup(
    update: Update, context: Ctx, new: NewTicket, walkup: dict[str, Any]
) -> None:
    """File the booth ticket and show the claim code with its QR link."""
    result = await file_walkup(
        context.store.uow(),
        staff_id=context.person.id,
        name=str(walkup.get("name", "")),
        phone=str(walkup.get("phone") or "") or None,
        new=new,
        draft_owner=context.person.id,
    )
    context.nudge_sender()
    if result.report.already_filed:
        number = result.report.ticket.number
        await reply(update, context.texts("report.already_filed", number=number), edit=True)
        return
    username = context.settings.telegram.bot_username or (context.bot.username or "")
    link = f"https://t.me/{username}?start={result.payload}"
    t = context.texts
    text = t(
        "booth.filed",
        number=result.report.ticket.number,
        code=result.code,
        link=link,
        name=clip(str(walkup.get("name", "")), 60),
    )
    await reply(update, text, edit=True)
    import segno  # heavy, and only a booth report needs it (issue 28: start-up)

    png = io.BytesIO()
    segno.make(link, error="m").save(png, kind="png", scale=8, border=2)
    chat = update.effective_chat
    assert chat is not None
    await chat.send_photo(
        InputFile(png.getvalue(), filename=f"claim-{result.code}.png"),
        caption=t("booth.qr_caption", code=result.code),
    )
