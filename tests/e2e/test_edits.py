"""The one way the bot edits a message (bot/edits.py), against the stand-in: an edit that
changes nothing, or of a message that is gone, counts as done; a photo message gets its
caption edited; a message that cannot take the edit says so, for the caller to send anew."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.edits import clear_keyboard, edit_message, edit_text
from sandbox.images import tiny_png
from sandbox.server import SandboxServer
from sandbox.testing import AnyApplication

KEYS = InlineKeyboardMarkup([[InlineKeyboardButton("OK", callback_data="x")]])


async def _chat(bot_api: SandboxServer) -> int:
    user = bot_api.client.user(1001, "Alice")
    await user.command("start")  # the bot may write to people who started it
    return user.id


async def test_clearing_a_keyboard_twice_is_done_both_times(
    bot_api: SandboxServer, ptb_app: AnyApplication
) -> None:
    chat = await _chat(bot_api)
    sent = await ptb_app.bot.send_message(chat, "Job 1", reply_markup=KEYS)
    await clear_keyboard(sent)
    await clear_keyboard(sent)  # Telegram: "message is not modified"; no error
    shown = bot_api.client.chat(chat).last_message
    assert shown is not None and shown.buttons == [] and shown.body == "Job 1"


async def test_a_text_edit_that_changes_nothing_or_finds_nothing_is_done(
    bot_api: SandboxServer, ptb_app: AnyApplication
) -> None:
    chat = await _chat(bot_api)
    sent = await ptb_app.bot.send_message(chat, "Ticket 1", reply_markup=KEYS)
    assert await edit_message(sent, "Ticket 1 · assigned", None)
    assert await edit_message(sent, "Ticket 1 · assigned", None)  # not modified
    await ptb_app.bot.delete_message(chat, sent.message_id)
    assert await edit_text(ptb_app.bot, chat, sent.message_id, "Ticket 1 · done")  # not found
    await clear_keyboard(sent)  # gone: nothing to clear, no error


async def test_a_photo_message_gets_its_caption_edited(
    bot_api: SandboxServer, ptb_app: AnyApplication
) -> None:
    chat = await _chat(bot_api)
    sent = await ptb_app.bot.send_photo(
        chat, tiny_png(), caption="Offer: E1-101", reply_markup=KEYS
    )
    assert isinstance(sent, Message) and sent.photo
    assert await edit_message(sent, "Taken by Tina", None)
    shown = bot_api.client.chat(chat).last_message
    assert shown is not None and shown.caption == "Taken by Tina" and shown.buttons == []
    # Not knowing the kind (the outbox sender's case), the text edit is tried first.
    assert await edit_text(ptb_app.bot, chat, sent.message_id, "Closed")
    assert shown.caption == "Closed"
    # A caption holds 1024 characters: a longer text is left for a new message.
    assert not await edit_message(sent, "x" * 1500, None)
    assert shown.caption == "Closed"
