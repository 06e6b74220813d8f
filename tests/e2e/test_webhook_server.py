"""bot/webhook.py against the stand-in's webhook delivery: an update is answered only after
it was handled (so the chat's next one waits at Telegram), a wrong secret is refused, a
handler error or a handling past the answer limit still answers 200, and chats run side
by side."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest_asyncio
from pydantic import SecretStr
from telegram import Update
from telegram.ext import ContextTypes, MessageHandler, filters

from bot.processor import PerChatUpdateProcessor
from bot.settings import TelegramSettings
from bot.webhook import SECRET_HEADER, WebhookServer
from sandbox.server import SandboxServer
from sandbox.testing import application_builder
from tests.support.processes import free_port

SECRET = "s3cret-Path_token"


@dataclass
class Bot:
    """A small Application behind the webhook server: texts starting with "slow" wait for
    `gate`, "boom" raises; `started`/`finished` record what ran, in order."""

    server: WebhookServer
    bot_api: SandboxServer
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    started: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def until(self, probe: Callable[[], bool], seconds: float = 5) -> None:
        """Until `probe` holds; the handlers here and the stand-in's deliveries both wake
        the stand-in's notifier."""
        await self.bot_api.state.changed.wait_for(lambda: probe() or None, seconds)


async def _webhook_bot(
    bot_api: SandboxServer, *, answer_within: float = 55.0, max_connections: int = 40
) -> AsyncIterator[Bot]:
    port = free_port()
    telegram = TelegramSettings(
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_port=port,
        webhook_secret=SecretStr(SECRET),
        webhook_max_connections=max_connections,
    )
    app = application_builder(bot_api).concurrent_updates(PerChatUpdateProcessor()).build()
    server = WebhookServer(app, telegram, answer_within=answer_within)
    state = Bot(server, bot_api)

    async def on_text(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        text = update.message.text
        state.started.append(text)
        bot_api.state.changed.notify()
        try:
            if text.startswith("slow"):
                await state.gate.wait()
            if text == "boom":
                raise RuntimeError("a handler bug")
        finally:
            state.finished.append(text)
            bot_api.state.changed.notify()

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        state.errors.append(str(context.error))

    app.add_handler(MessageHandler(filters.TEXT, on_text))
    app.add_error_handler(on_error)
    await app.initialize()
    await app.start()
    await server.start()
    try:
        yield state
    finally:
        state.gate.set()
        await server.stop()
        await app.stop()
        await app.shutdown()


@pytest_asyncio.fixture
async def webhook_bot(bot_api: SandboxServer) -> AsyncIterator[Bot]:
    async for state in _webhook_bot(bot_api, max_connections=7):
        yield state


@pytest_asyncio.fixture
async def hasty_bot(bot_api: SandboxServer) -> AsyncIterator[Bot]:
    """Answers after 0.3 s at the latest."""
    async for state in _webhook_bot(bot_api, answer_within=0.3):
        yield state


async def test_set_webhook_on_start(bot_api: SandboxServer, webhook_bot: Bot) -> None:
    hook = bot_api.state.updates.webhook
    assert hook is not None
    assert hook.url == webhook_bot.server.telegram.webhook_url
    assert hook.secret_token == SECRET
    assert hook.max_connections == 7
    assert hook.allowed_updates is not None and "callback_query" in hook.allowed_updates


async def test_answered_only_after_handling(bot_api: SandboxServer, webhook_bot: Bot) -> None:
    alice = bot_api.client.user(1001, "Alice")
    await alice.send("slow one")
    await alice.send("two")
    await webhook_bot.until(lambda: webhook_bot.started == ["slow one"])
    await asyncio.sleep(0.3)
    # Still unanswered, so the stand-in holds Alice's next update back, as Telegram does.
    assert webhook_bot.started == ["slow one"]
    assert len(bot_api.state.webhook.in_flight) == 1
    assert len(bot_api.state.updates.pending) == 2
    webhook_bot.gate.set()
    await webhook_bot.until(lambda: len(webhook_bot.finished) == 2)
    assert webhook_bot.finished == ["slow one", "two"]
    assert bot_api.state.webhook.attempts == 2  # each delivered once
    await webhook_bot.until(lambda: not bot_api.state.updates.pending)


async def test_chats_handled_side_by_side(bot_api: SandboxServer, webhook_bot: Bot) -> None:
    users = [bot_api.client.user(2000 + i, f"U{i}") for i in range(5)]
    for user in users:
        await user.send(f"slow {user.id}")
    # All five are running at once, each waiting for the gate.
    await webhook_bot.until(lambda: len(webhook_bot.started) == 5)
    webhook_bot.gate.set()
    await webhook_bot.until(lambda: len(webhook_bot.finished) == 5)


async def test_a_handler_error_still_answers_200(bot_api: SandboxServer, webhook_bot: Bot) -> None:
    alice = bot_api.client.user(1001, "Alice")
    await alice.send("boom")
    await alice.send("after")
    await webhook_bot.until(lambda: webhook_bot.finished == ["boom", "after"])
    assert webhook_bot.errors == ["a handler bug"]
    await webhook_bot.until(lambda: not bot_api.state.updates.pending)
    assert bot_api.state.webhook.attempts == 2  # nothing sent again
    hook = bot_api.state.updates.webhook
    assert hook is not None and hook.last_error_message is None


async def test_a_long_handling_is_answered_in_time_and_finishes(
    bot_api: SandboxServer, hasty_bot: Bot
) -> None:
    alice = bot_api.client.user(1001, "Alice")
    await alice.send("slow one")
    await alice.send("two")
    # Answered after 0.3 s although still running; Telegram then sends "two", which waits
    # in this process behind "slow one" (one chat at a time here as well).
    await hasty_bot.until(lambda: not bot_api.state.updates.pending)
    assert hasty_bot.started == ["slow one"]
    assert bot_api.state.webhook.attempts == 2
    hasty_bot.gate.set()
    await hasty_bot.until(lambda: len(hasty_bot.finished) == 2)
    assert hasty_bot.started == ["slow one", "two"]
    assert hasty_bot.finished == ["slow one", "two"]


async def test_wrong_or_missing_secret_is_refused(webhook_bot: Bot) -> None:
    server = webhook_bot.server
    url = f"http://127.0.0.1:{server.port}{server.path}"
    update = {
        "update_id": 1,
        "message": {"message_id": 1, "date": 0, "text": "x", "chat": {"id": 5, "type": "private"}},
    }
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {SECRET_HEADER: "wrong"}):
            async with session.post(url, json=update, headers=headers) as response:
                assert response.status == 403
        async with session.post(url, data=b"{not json", headers={SECRET_HEADER: SECRET}) as r:
            assert r.status == 400
        async with session.post(url, json=update, headers={SECRET_HEADER: SECRET}) as r:
            assert r.status == 200
    assert webhook_bot.started == ["x"]
