"""Editing a message the bot sent, the one way every flow does it.

Telegram answers an edit that changes nothing with "message is not modified", and one of
a message that is gone with "message to edit not found". Both mean the chat already shows
what we wanted (or there is nothing left to change), so they count as done: an accept that
was committed must not end in an error because the keyboard was already cleared. A photo
message has a caption, not a text, so its caption is edited.
"""

from __future__ import annotations

import logging

from telegram import Bot, CallbackQuery, InlineKeyboardMarkup, MaybeInaccessibleMessage, Message
from telegram.error import BadRequest, TelegramError

log = logging.getLogger(__name__)
CAPTION_MAX = 1024
_DONE = ("message is not modified", "message to edit not found")
# The message exists but cannot take this edit (too old, not the bot's, no caption room):
# the caller says it in a new message instead.
_CANNOT = ("message can't be edited", "there is no text in the message to edit")


def _matches(exc: BadRequest, phrases: tuple[str, ...]) -> bool:
    message = exc.message.lower()
    return any(phrase in message for phrase in phrases)


def _has_caption(message: MaybeInaccessibleMessage | None) -> bool:
    return isinstance(message, Message) and bool(
        message.photo or message.caption is not None or message.document or message.video
    )


async def edit_text(
    bot: Bot,
    chat_id: int,
    message_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    caption: bool | None = None,
) -> bool:
    """Show `text` (and `markup`) in the message: its text, or its caption when it is a
    photo message (`caption` True; None: try the text first). True when done or nothing
    was left to do; False when the message cannot be edited and a new one is needed."""
    if not caption:
        try:
            await bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, reply_markup=markup
            )
            return True
        except BadRequest as exc:
            if _matches(exc, _DONE):
                return True
            if caption is not None or "no text in the message" not in exc.message.lower():
                if _matches(exc, _CANNOT):
                    return False
                raise
    if len(text) > CAPTION_MAX:
        return False
    try:
        await bot.edit_message_caption(
            chat_id=chat_id, message_id=message_id, caption=text, reply_markup=markup
        )
        return True
    except BadRequest as exc:
        if _matches(exc, _DONE):
            return True
        if _matches(exc, _CANNOT):
            return False
        raise


async def edit_message(
    message: MaybeInaccessibleMessage | None, text: str, markup: InlineKeyboardMarkup | None
) -> bool:
    """`edit_text` for a message we hold (a pressed one): picks text or caption by its
    content. False for a message that cannot take the edit (send a new one)."""
    if message is None or not isinstance(message, Message):
        return False
    return await edit_text(
        message.get_bot(),
        message.chat.id,
        message.message_id,
        text,
        markup,
        caption=_has_caption(message),
    )


async def clear_keyboard(message: MaybeInaccessibleMessage | None) -> None:
    """Remove the inline keyboard of a message; done already, or gone, counts as done."""
    if message is None:
        return
    await clear_keyboard_at(message.get_bot(), message.chat.id, message.message_id)


async def clear_keyboard_at(bot: Bot, chat_id: int, message_id: int) -> None:
    """`clear_keyboard` for a message known by its id (a question asked earlier)."""
    try:
        await bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=message_id, reply_markup=None
        )
    except BadRequest as exc:
        if not _matches(exc, (*_DONE, "message can't be edited")):
            raise
        log.debug("keyboard already gone: %s", exc.message)


def pressed_button_shown(query: CallbackQuery | None) -> bool:
    """Whether the press came from a button the message really shows (not forged data):
    only then are that message's buttons out of date when the press is refused."""
    if query is None or not isinstance(query.message, Message):
        return False
    markup = query.message.reply_markup
    if markup is None:
        return False
    return any(
        button.callback_data == query.data for row in markup.inline_keyboard for button in row
    )


async def retire_pressed(query: CallbackQuery | None) -> None:
    """Take the buttons off the message whose button was pressed, when they are out of
    date (the press was stale, or refused because the ticket moved on): nothing on it
    stays pressable to meet the same answer again."""
    if query is None or not pressed_button_shown(query):
        return
    try:
        await clear_keyboard(query.message)
    except TelegramError:  # the answer was given; tidying up must not turn into an error
        log.debug("could not take the buttons off a stale message", exc_info=True)
