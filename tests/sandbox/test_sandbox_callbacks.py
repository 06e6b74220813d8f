"""Button presses: callback_query updates, answers and answer rules."""

from __future__ import annotations

import asyncio

import pytest
from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes

from sandbox.actions import UsageError
from sandbox.client import SandboxClient
from sandbox.notify import WaitTimeout
from sandbox.server import SandboxServer
from sandbox.testing import AnyApplication, RawApi, start_polling

MENU = {
    "inline_keyboard": [
        [{"text": "Report a repair", "callback_data": "r:new"}],
        [{"text": "Help", "callback_data": "help"}, {"text": "Site", "url": "https://x.test"}],
    ]
}


async def test_press_by_text_and_by_data_through_ptb(
    ptb_app: AnyApplication,
    sandbox: SandboxClient,
) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            "Welcome", reply_markup=InlineKeyboardMarkup.de_json(MENU, None)
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        await query.answer(f"got {query.data}", show_alert=query.data == "help")
        await query.edit_message_text(f"chosen {query.data}")

    ptb_app.add_handler(CommandHandler("start", start))
    ptb_app.add_handler(CallbackQueryHandler(pressed))
    await start_polling(ptb_app)

    alice = sandbox.user(1001, "Alice")
    await alice.send("/start")
    message = await alice.next_message()
    assert message.text == "Welcome"
    answer = await alice.press(message, "Report a repair")
    assert answer is not None and answer.text == "got r:new" and not answer.show_alert
    await alice.wait_for_edit(message)
    assert message.text == "chosen r:new"
    assert message.buttons == []
    assert [a.text for a in message.callback_answers] == ["got r:new"]


async def test_callback_query_update_shape(raw_api: RawApi, sandbox: SandboxClient) -> None:
    alice = sandbox.user(1001, "Alice", username="alice")
    await alice.send("/start")
    await raw_api.ok("sendMessage", chat_id=1001, text="menu", reply_markup=MENU)
    message = await alice.next_message()
    await alice.press_data(message, "help", wait_answer=False)
    updates = await raw_api.ok("getUpdates")
    query = updates[-1]["callback_query"]
    assert query["data"] == "help"
    assert query["from"]["username"] == "alice"
    assert query["message"]["message_id"] == message.message_id
    assert query["message"]["reply_markup"] == MENU
    assert isinstance(query["chat_instance"], str)


async def test_answer_rules(raw_api: RawApi, sandbox: SandboxClient) -> None:
    alice = sandbox.user(1001, "Alice")
    await alice.send("/start")
    await raw_api.ok("sendMessage", chat_id=1001, text="menu", reply_markup=MENU)
    message = await alice.next_message()
    press = asyncio.create_task(alice.press(message, "Help", timeout=2))
    updates = await raw_api.ok("getUpdates", timeout=2)
    query_id = updates[-1]["callback_query"]["id"]
    too_old = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    assert await raw_api.ok("answerCallbackQuery", callback_query_id=query_id, text="hi") is True
    answer = await press
    assert answer is not None and answer.text == "hi"
    for bad_id in (query_id, "12345"):  # answered twice, unknown id
        status, body = await raw_api("answerCallbackQuery", callback_query_id=bad_id)
        assert (status, body["description"]) == (400, too_old)


async def test_answer_after_timeout_is_too_old(bot_api: SandboxServer, raw_api: RawApi) -> None:
    bot_api.state.callback_timeout = 0.0
    alice = bot_api.client.user(1001, "Alice")
    await alice.send("/start")
    await raw_api.ok("sendMessage", chat_id=1001, text="menu", reply_markup=MENU)
    await alice.press(await alice.next_message(), "Help", wait_answer=False)
    query_id = (await raw_api.ok("getUpdates"))[-1]["callback_query"]["id"]
    status, body = await raw_api("answerCallbackQuery", callback_query_id=query_id)
    assert status == 400 and body["description"].startswith("Bad Request: query is too old")


async def test_press_waits_and_times_out_without_answer(
    raw_api: RawApi, sandbox: SandboxClient
) -> None:
    alice = sandbox.user(1001, "Alice")
    await alice.send("/start")
    await raw_api.ok("sendMessage", chat_id=1001, text="menu", reply_markup=MENU)
    message = await alice.next_message()
    with pytest.raises(WaitTimeout, match="answer to the press of 'help'"):
        await alice.press(message, "Help", timeout=0.1)


async def test_pressing_missing_or_url_buttons_is_a_usage_error(
    raw_api: RawApi, sandbox: SandboxClient
) -> None:
    alice = sandbox.user(1001, "Alice")
    await alice.send("/start")
    await raw_api.ok("sendMessage", chat_id=1001, text="menu", reply_markup=MENU)
    message = await alice.next_message()
    with pytest.raises(UsageError, match="no callback button"):
        await alice.press(message, "Site")
    with pytest.raises(UsageError, match="no callback button"):
        await alice.press_data(message, "nope")


async def test_group_members_press_the_same_message(
    raw_api: RawApi, sandbox: SandboxClient
) -> None:
    alice, bob = sandbox.user(1001, "Alice"), sandbox.user(1002, "Bob")
    group = sandbox.group("Maintenance", [alice, bob])
    await raw_api.ok("sendMessage", chat_id=group.id, text="who takes #7?", reply_markup=MENU)
    message = await group.next_message()
    await bob.press(message, "Help", wait_answer=False)
    await alice.press(message, "Report a repair", wait_answer=False)
    updates = await raw_api.ok("getUpdates")
    pressers = [u["callback_query"]["from"]["id"] for u in updates]
    assert pressers == [1002, 1001]
    assert {u["callback_query"]["message"]["chat"]["type"] for u in updates} == {"group"}
