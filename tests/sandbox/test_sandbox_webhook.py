"""Webhooks as Telegram delivers them: the secret header, up to `max_connections` requests at
once but one update per chat at a time, retries on an error status or a timeout with the
chat's order kept, and the polling conflict."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from sandbox.testing import RawApi


@dataclass
class Receiver:
    """A local webhook endpoint that fails the first `failures` requests (and those of the
    chats in `failing`), sleeps `stall` seconds on the next request, holds every request
    while `gate` is clear, and records what was open at once."""

    url: str = ""
    failures: int = 0
    failing: dict[int, int] = field(default_factory=dict)  # chat id → requests to fail
    stall: float = 0.0
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    secrets: list[str | None] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)  # JSON as received
    got: asyncio.Event = field(default_factory=asyncio.Event)
    open: list[int] = field(default_factory=list)  # chat ids of requests being answered
    peak: int = 0
    same_chat_at_once: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    def texts(self, chat: int) -> list[str]:
        return [u["message"]["text"] for u in self.updates if u["message"]["chat"]["id"] == chat]


@asynccontextmanager
async def serving_receiver() -> AsyncIterator[Receiver]:
    """A Receiver listening on a free local port."""
    state = Receiver()

    async def hook(request: web.Request) -> web.Response:
        state.secrets.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        update = json.loads(await request.read())
        chat = update["message"]["chat"]["id"]
        state.same_chat_at_once += chat in state.open
        state.open.append(chat)
        state.peak = max(state.peak, len(state.open))
        state.changed.set()
        try:
            if state.stall:  # answered after the stand-in stopped waiting: not counted
                stall, state.stall = state.stall, 0.0
                await asyncio.sleep(stall)
                return web.Response(text="too late")
            await state.gate.wait()
            if state.failures > 0 or state.failing.get(chat, 0) > 0:
                if state.failing.get(chat, 0) > 0:
                    state.failing[chat] -= 1
                else:
                    state.failures -= 1
                return web.Response(status=500)
            state.updates.append(update)
            state.got.set()
            return web.Response(text="ok")
        finally:
            state.open.remove(chat)
            state.changed.set()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield state
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serving_receiver() as state:
        yield state


async def wait_updates(receiver: Receiver, count: int, seconds: float = 5) -> None:
    async with asyncio.timeout(seconds):
        while len(receiver.updates) < count:
            receiver.got.clear()
            await receiver.got.wait()


async def wait_open(receiver: Receiver, count: int) -> None:
    """Until `count` requests are being answered at once."""
    async with asyncio.timeout(5):
        while len(receiver.open) < count:
            receiver.changed.clear()
            await receiver.changed.wait()


async def test_chats_side_by_side_but_one_update_per_chat_at_a_time(
    raw_api: RawApi, sandbox: SandboxClient, receiver: Receiver
) -> None:
    await raw_api.ok("setWebhook", url=receiver.url)
    receiver.gate.clear()  # every request waits for its answer until released
    users = [sandbox.user(2000 + i, f"U{i}") for i in range(6)]
    for round_ in range(3):
        for user in users:
            await user.send(f"{user.id} #{round_}")
    await wait_open(receiver, len(users))  # one request per chat, all six at once
    await asyncio.sleep(0.2)  # and no second one of any chat however long they wait
    assert sorted(receiver.open) == sorted(u.id for u in users)
    info = await raw_api.ok("getWebhookInfo")
    assert info["pending_update_count"] == 18
    receiver.gate.set()
    await wait_updates(receiver, 18)
    assert receiver.peak == len(users)
    assert receiver.same_chat_at_once == 0
    for user in users:
        assert receiver.texts(user.id) == [f"{user.id} #{r}" for r in range(3)]


async def test_max_connections_is_honoured(
    raw_api: RawApi, sandbox: SandboxClient, receiver: Receiver
) -> None:
    await raw_api.ok("setWebhook", url=receiver.url, max_connections=2)
    info = await raw_api.ok("getWebhookInfo")
    assert info["max_connections"] == 2
    receiver.gate.clear()
    users = [sandbox.user(3000 + i, f"U{i}") for i in range(5)]
    for user in users:
        await user.send("hello")
    await wait_open(receiver, 2)
    await asyncio.sleep(0.2)
    assert len(receiver.open) == 2  # three chats wait although nothing of theirs is open
    receiver.gate.set()
    await wait_updates(receiver, 5)
    assert receiver.peak == 2


async def test_default_and_bounds_of_max_connections(raw_api: RawApi) -> None:
    await raw_api.ok("setWebhook", url="http://127.0.0.1:9/x")
    assert (await raw_api.ok("getWebhookInfo"))["max_connections"] == 40
    await raw_api.ok("setWebhook", url="http://127.0.0.1:9/x", max_connections=500)
    assert (await raw_api.ok("getWebhookInfo"))["max_connections"] == 100


async def test_a_failing_chat_waits_alone(
    raw_api: RawApi, sandbox: SandboxClient, receiver: Receiver
) -> None:
    await raw_api.ok("setWebhook", url=receiver.url)
    alice, bob = sandbox.user(1001, "Alice"), sandbox.user(1002, "Bob")
    receiver.failing[alice.id] = 3
    await alice.send("a1")
    await alice.send("a2")
    for i in range(5):
        await bob.send(f"b{i}")
    await wait_updates(receiver, 7)
    assert receiver.texts(bob.id) == [f"b{i}" for i in range(5)]
    assert receiver.texts(alice.id) == ["a1", "a2"]  # a2 waited for a1's retries
    # Bob's were all through before Alice's first succeeded (three tries, backoff between).
    order = [u["message"]["text"] for u in receiver.updates]
    assert order.index("b4") < order.index("a1")


async def test_timeout_is_retried_in_order() -> None:
    server = SandboxServer(default_timeout=10.0, webhook_timeout=0.3)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            raw = RawApi(server, session)
            async with serving_receiver() as receiver:
                receiver.stall = 1.0  # the first request is answered too late
                await raw.ok("setWebhook", url=receiver.url)
                alice = server.client.user(1001, "Alice")
                await alice.send("first")
                await alice.send("second")
                await wait_updates(receiver, 2)
                # The stalled request's update came again, before the second; both once.
                assert receiver.texts(alice.id) == ["first", "second"]
                assert server.state.webhook.attempts == 3
                info = await raw.ok("getWebhookInfo")
                assert info["last_error_message"] == "Read timeout expired"
                assert info["pending_update_count"] == 0
    finally:
        await server.stop()


async def test_delivery_with_secret_and_retry(
    raw_api: RawApi, sandbox: SandboxClient, receiver: Receiver
) -> None:
    receiver.failures = 2
    assert await raw_api.ok("setWebhook", url=receiver.url, secret_token="s3cr3t_-") is True
    alice = sandbox.user(1001, "Alice")
    await alice.send("first")
    await alice.send("second")
    await wait_updates(receiver, 2)
    texts = [u["message"]["text"] for u in receiver.updates]
    assert texts == ["first", "second"]  # order kept across retries
    assert receiver.secrets == ["s3cr3t_-"] * 4
    info = await raw_api.ok("getWebhookInfo")
    assert info["url"] == receiver.url
    assert info["pending_update_count"] == 0
    assert (
        info["last_error_message"] == "Wrong response from the webhook: 500 Internal Server Error"
    )
    assert isinstance(info["last_error_date"], int)


async def test_get_updates_conflicts_while_webhook_is_set(
    raw_api: RawApi, sandbox: SandboxClient
) -> None:
    await raw_api.ok("setWebhook", url="http://127.0.0.1:9/unreachable")
    status, body = await raw_api("getUpdates")
    assert status == 409
    assert body["description"] == (
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first"
    )
    await sandbox.user(1001, "Alice").send("queued")
    info = await raw_api.ok("getWebhookInfo")
    assert info["pending_update_count"] == 1
    await raw_api.ok("deleteWebhook", drop_pending_updates=True)
    assert await raw_api.ok("getUpdates") == []
    info = await raw_api.ok("getWebhookInfo")
    assert info == {"url": "", "has_custom_certificate": False, "pending_update_count": 0}


async def test_delete_webhook_keeps_pending_updates_for_polling(
    raw_api: RawApi, sandbox: SandboxClient
) -> None:
    await raw_api.ok("setWebhook", url="http://127.0.0.1:9/unreachable")
    await sandbox.user(1001, "Alice").send("keep me")
    await raw_api.ok("deleteWebhook")
    updates = await raw_api.ok("getUpdates")
    assert [u["message"]["text"] for u in updates] == ["keep me"]


@pytest.mark.parametrize("url", ["https://example.com/hook", "http://localhost:1/x", "ftp://1"])
async def test_webhook_must_be_local(raw_api: RawApi, url: str) -> None:
    status, body = await raw_api("setWebhook", url=url)
    assert status == 400 and body["description"].startswith("Bad Request: bad webhook")


@pytest.mark.parametrize(
    "url", ["http://bot.example.edu/telegram", "http://localhost:1/x", "ftp://1", "hook"]
)
async def test_a_webhook_that_is_not_https_gets_telegrams_answer(
    raw_api: RawApi, url: str
) -> None:
    """Telegram's words for an http:// webhook, so the bot's start-up error can quote them;
    only http://127.0.0.1 (the stand-in's own host, no certificate) is let through."""
    status, body = await raw_api("setWebhook", url=url)
    assert (status, body["description"]) == (
        400,
        "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
    )
    assert (await raw_api.ok("getWebhookInfo"))["url"] == ""


async def test_empty_url_removes_webhook(bot_api: SandboxServer, raw_api: RawApi) -> None:
    await raw_api.ok("setWebhook", url="http://127.0.0.1:9/x")
    await raw_api.ok("setWebhook", url="")
    assert bot_api.state.updates.webhook is None
    assert await raw_api.ok("getUpdates") == []
