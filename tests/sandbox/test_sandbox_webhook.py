"""Webhooks: delivery with the secret header, retries with backoff, and the polling conflict."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from sandbox.testing import RawApi


@dataclass
class Receiver:
    """A local webhook endpoint that fails the first `failures` requests."""

    url: str = ""
    failures: int = 0
    secrets: list[str | None] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)  # JSON as received
    got: asyncio.Event = field(default_factory=asyncio.Event)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def hook(request: web.Request) -> web.Response:
        state.secrets.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        if state.failures > 0:
            state.failures -= 1
            return web.Response(status=500)
        state.updates.append(json.loads(await request.read()))
        state.got.set()
        return web.Response(text="ok")

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


async def wait_updates(receiver: Receiver, count: int) -> None:
    async with asyncio.timeout(3):
        while len(receiver.updates) < count:
            receiver.got.clear()
            await receiver.got.wait()


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
