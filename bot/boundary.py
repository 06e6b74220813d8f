"""The boundary every update passes first (handler group -2, before the gatekeeper).

A button press carries callback_data that the *client* writes: a modified client can send
none at all, garbage, more than Telegram's 64 bytes, or a press that is not tied to a
message in the presser's own chat. Such a press gets the short "this button is no longer
valid" alert and nothing else happens: no person row, no flow, no error. PTB would
otherwise hand a press without data to every pattern handler (its patterns are only
consulted when there is data), and the first one would fail on it.
"""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, BaseHandler, TypeHandler

from bot.callbacks import parse
from bot.context import Ctx
from bot.flows.common import asker_texts

log = logging.getLogger(__name__)
GROUP = -2  # before the gatekeeper (-1): a refused press must not even create a person


def acceptable_press(query: CallbackQuery) -> bool:
    """Whether a press may go on to the gatekeeper and the flows: it carries data one of
    our buttons could have, and it was made on a message in the presser's own chat."""
    message = query.message
    if message is None or message.chat.id != query.from_user.id:
        # An inline-mode message (the bot has none) or someone else's chat.
        return False
    return parse(query.data) is not None


async def check_update(update: Update, context: Ctx) -> None:
    """Refuse a malformed or foreign press with the stale-button alert, and stop it."""
    query = update.callback_query
    if query is None or acceptable_press(query):
        return
    log.info("refused a press with unusable data (%d bytes)", len((query.data or "").encode()))
    try:
        await query.answer(asker_texts(update, context)("common.stale_button"), show_alert=True)
    except TelegramError:  # too late, or Telegram is away: nothing was done either way
        log.debug("could not answer a refused press", exc_info=True)
    raise ApplicationHandlerStop


def handlers() -> list[BaseHandler[Update, Ctx, object]]:
    """The boundary's one handler; register it in group GROUP."""
    return [TypeHandler(Update, check_update)]
