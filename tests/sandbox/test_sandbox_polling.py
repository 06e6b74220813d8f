"""getMe, getUpdates long-poll semantics and a real PTB Application polling the stand-in."""

from __future__ import annotations

import asyncio
import time

import pytest
from telegram import Update
from telegram.error import Conflict, InvalidToken
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest

from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from sandbox.testing import AnyApplication, RawApi, start_polling


async def test_get_me_through_ptb(ptb_app: AnyApplication, bot_api: SandboxServer) -> None:
    me = await ptb_app.bot.get_me()
    assert me.is_bot
    assert me.id == int(bot_api.token.split(":")[0])
    assert me.username == "sandbox_bot"


async def test_wrong_token_is_401_and_ptb_raises_invalid_token(bot_api: SandboxServer) -> None:
    request = HTTPXRequest()
    app = ApplicationBuilder().token("123:wrong").base_url(bot_api.base_url).request(request)
    try:
        with pytest.raises(InvalidToken):
            await app.build().bot.get_me()
    finally:
        await request.shutdown()


async def test_unknown_method_is_404_not_found(raw_api: RawApi) -> None:
    status, body = await raw_api("sendSticker", chat_id=1, sticker="x")
    assert status == 404
    assert body == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_method_names_are_case_insensitive(raw_api: RawApi) -> None:
    status, body = await raw_api("getme")
    assert status == 200 and body["result"]["is_bot"] is True


async def test_offset_confirms_and_limit_caps(raw_api: RawApi, sandbox: SandboxClient) -> None:
    alice = sandbox.user(1001, "Alice")
    for text in ("one", "two", "three"):
        await alice.send(text)
    _, body = await raw_api("getUpdates", limit=2)
    ids = [u["update_id"] for u in body["result"]]
    assert len(ids) == 2 and ids[1] == ids[0] + 1
    # Without an offset nothing is confirmed: the same updates come again.
    _, again = await raw_api("getUpdates")
    assert [u["update_id"] for u in again["result"]][:2] == ids
    _, rest = await raw_api("getUpdates", offset=ids[1] + 1)
    assert [u["message"]["text"] for u in rest["result"]] == ["three"]


async def test_negative_offset_keeps_the_last_updates(
    raw_api: RawApi, sandbox: SandboxClient
) -> None:
    alice = sandbox.user(1001, "Alice")
    for text in ("a", "b", "c"):
        await alice.send(text)
    _, body = await raw_api("getUpdates", offset=-1)
    assert [u["message"]["text"] for u in body["result"]] == ["c"]
    _, body = await raw_api("getUpdates")
    assert [u["message"]["text"] for u in body["result"]] == ["c"]


async def test_long_poll_wakes_immediately_on_new_update(
    raw_api: RawApi, sandbox: SandboxClient
) -> None:
    alice = sandbox.user(1001, "Alice")
    poll = asyncio.create_task(raw_api("getUpdates", timeout=5))
    await asyncio.sleep(0.05)
    assert not poll.done()
    started = time.monotonic()
    await alice.send("hello")
    _, body = await poll
    assert time.monotonic() - started < 1.0
    assert body["result"][0]["message"]["text"] == "hello"


async def test_long_poll_times_out_empty(raw_api: RawApi) -> None:
    started = time.monotonic()
    status, body = await raw_api("getUpdates", timeout=0.3)
    elapsed = time.monotonic() - started
    assert status == 200 and body["result"] == []
    assert 0.25 <= elapsed < 2.0


async def test_second_poller_ends_the_first_with_409(raw_api: RawApi) -> None:
    first = asyncio.create_task(raw_api("getUpdates", timeout=5))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(raw_api("getUpdates", timeout=0.1))
    status, body = await first
    assert status == 409
    assert body["description"].startswith("Conflict: terminated by other getUpdates request")
    assert (await second)[0] == 200


async def test_allowed_updates_filters_new_updates(
    raw_api: RawApi, sandbox: SandboxClient
) -> None:
    alice = sandbox.user(1001, "Alice")
    await raw_api("getUpdates", allowed_updates=["callback_query"])
    await alice.send("ignored")
    _, body = await raw_api("getUpdates")
    assert body["result"] == []
    await raw_api("getUpdates", allowed_updates=[])
    await alice.send("seen")
    _, body = await raw_api("getUpdates")
    assert [u["message"]["text"] for u in body["result"]] == ["seen"]


async def test_update_ids_are_monotonic_across_users(
    raw_api: RawApi, sandbox: SandboxClient
) -> None:
    alice, bob = sandbox.user(1001, "Alice"), sandbox.user(1002, "Bob")
    await alice.send("a1")
    await bob.send("b1")
    await alice.send("a2")
    _, body = await raw_api("getUpdates")
    ids = [u["update_id"] for u in body["result"]]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [u["message"]["chat"]["id"] for u in body["result"]] == [1001, 1002, 1001]


async def test_ptb_application_round_trip(ptb_app: AnyApplication, sandbox: SandboxClient) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_user is not None
        await update.effective_message.reply_text(
            f"{update.effective_user.language_code}: {update.effective_message.text}"
        )

    ptb_app.add_handler(MessageHandler(filters.TEXT, echo))
    await start_polling(ptb_app)
    alice = sandbox.user(1001, "Alice", language_code="zh-hans")
    sent = await alice.send("你好")
    reply = await alice.next_message()
    assert reply.text == "zh-hans: 你好"
    assert reply.message_id == sent.message_id + 1
    assert reply.raw["from"]["is_bot"] is True


async def test_ptb_get_updates_raises_conflict_with_webhook(
    ptb_app: AnyApplication,
) -> None:
    await ptb_app.bot.set_webhook("http://127.0.0.1:9/hook")
    with pytest.raises(Conflict, match="webhook is active"):
        await ptb_app.bot.get_updates()
    await ptb_app.bot.delete_webhook()
    assert await ptb_app.bot.get_updates(timeout=0) == ()
