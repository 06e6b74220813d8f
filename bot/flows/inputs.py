"""Routes typed messages (text, photos, files, contacts) to the flow waiting for them."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, MessageHandler, filters

from bot.context import Ctx
from bot.flows import my_tickets, pending, report  # noqa: F401 - registers answers
from bot.flows.common import guarded, reply, stale_press
from store.intake import drafts


async def on_message(update: Update, context: Ctx) -> None:
    """Whatever the user sent goes to the step that is waiting for it, if any."""
    draft = await drafts.get_draft(context.store.uow(), context.person.id)
    if draft is None:
        from bot.flows.start import show_menu

        await reply(update, context.texts("common.use_buttons"))
        await show_menu(update, context)
        return
    if draft.step == pending.PENDING:
        await pending.dispatch(update, context, draft)
        return
    await report.on_message(update, context, draft)


async def on_unknown_button(update: Update, context: Ctx) -> None:
    """A button whose data no flow recognises: old, foreign or forged."""
    await stale_press(update, context)


def handlers() -> list[BaseHandler[Update, Ctx, object]]:
    """Catch-alls; registered after every flow."""
    return [
        MessageHandler(~filters.COMMAND & filters.ChatType.PRIVATE, guarded(on_message)),
        CallbackQueryHandler(on_unknown_button),
    ]
