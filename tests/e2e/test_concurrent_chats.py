"""Many chats at once: each chat's updates in order, and a slow chat holds up only itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from telegram import Update
from telegram._utils.types import ODVInput
from telegram.ext import ContextTypes, MessageHandler, filters
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.app import build_application
from bot.processor import PerChatUpdateProcessor
from sandbox.server import SandboxServer
from sandbox.testing import application_builder, start_polling
from tests.support.harness import Harness

GUARD = 10.0  # only against a hang when the property under test is broken


async def test_each_chat_gets_its_replies_in_order_while_chats_interleave(
    bot_api: SandboxServer,
) -> None:
    app = application_builder(bot_api).concurrent_updates(PerChatUpdateProcessor()).build()
    bob_done = asyncio.Event()

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_chat is not None
        text = update.effective_message.text or ""
        if text == "a1":
            # Alice's first message can finish only after Bob's last one: the chats must
            # run side by side, and Alice's a2/a3 must still wait for a1.
            await asyncio.wait_for(bob_done.wait(), GUARD)
        await update.effective_chat.send_message(f"echo {text}")
        if text == "b2":
            bob_done.set()

    app.add_handler(MessageHandler(filters.TEXT, echo))
    alice = bot_api.client.user(2001, "Alice")
    bob = bot_api.client.user(2002, "Bob")
    for text in ("a1", "a2", "a3"):
        await alice.send(text)
    for text in ("b1", "b2"):
        await bob.send(text)
    await app.initialize()
    updater = app.updater
    assert updater is not None
    try:
        await start_polling(app)
        bob_replies = [m.text for m in await bob.collect(2)]
        alice_replies = [m.text for m in await alice.collect(3)]
    finally:
        await updater.stop()
        await app.stop()
        await app.shutdown()
    assert bob_replies == ["echo b1", "echo b2"]
    assert alice_replies == ["echo a1", "echo a2", "echo a3"]


class GatedRequest(HTTPXRequest):
    """The bot's HTTP client, holding one chat's sendMessage until a gate opens."""

    def __init__(self, slow_chat: int, gate: asyncio.Event, on_sent: Callable[[int], None]):
        super().__init__()
        self.slow_chat = slow_chat
        self.gate = gate
        self.on_sent = on_sent

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        chat = request_data.parameters.get("chat_id") if request_data is not None else None
        sending = url.endswith("/sendMessage") and isinstance(chat, int)
        if sending and chat == self.slow_chat:
            await asyncio.wait_for(self.gate.wait(), GUARD)
        result = await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        if sending:
            assert isinstance(chat, int)
            self.on_sent(chat)
        return result


async def test_a_slow_chat_does_not_hold_up_another_chats_answer(bot: Harness) -> None:
    await bot.stop()
    alice = bot.sandbox.user(2101, "Alice", language_code="en")
    bob = bot.sandbox.user(2102, "Bob", language_code="en")
    bob_answered = asyncio.Event()
    answered: list[int] = []

    def on_sent(chat: int) -> None:
        answered.append(chat)
        if chat == bob.id:
            bob_answered.set()

    # Alice's Telegram call hangs until Bob has his answer: one at a time, Alice's /start
    # (sent first) would block Bob's until the guard gave up, and she would be answered first.
    app = build_application(
        bot.settings,
        bot.store,
        sender_poll_interval=0.1,
        with_scheduler=False,
        request=GatedRequest(alice.id, bob_answered, on_sent),
    )
    await alice.command("start")
    await bob.command("start")
    await app.initialize()
    updater = app.updater
    assert updater is not None
    try:
        await start_polling(app)
        assert "Hello Bob" in str((await bob.next_message()).text)
        assert "Hello Alice" in str((await alice.next_message()).text)
    finally:
        await updater.stop()
        await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
    assert answered.index(bob.id) < answered.index(alice.id)
