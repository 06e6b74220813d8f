"""Pytest fixtures: load with `pytest_plugins = ["sandbox.testing"]`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest_asyncio
from telegram.ext import Application, ApplicationBuilder

from sandbox.client import SandboxClient
from sandbox.server import SandboxServer

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
AnyBuilder = ApplicationBuilder[Any, Any, Any, Any, Any, Any]


@pytest_asyncio.fixture
async def bot_api() -> AsyncIterator[SandboxServer]:
    """A running stand-in on a free port with a random token; stopped after the test."""
    # Generous: a wait returns as soon as the message arrives, and a loaded CI machine must
    # not turn a slow answer into a failure.
    server = SandboxServer(default_timeout=10.0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def sandbox(bot_api: SandboxServer) -> SandboxClient:
    """The user-side client of the running stand-in."""
    return bot_api.client


def application_builder(server: SandboxServer) -> AnyBuilder:
    """An ApplicationBuilder wired to the stand-in; add handlers/persistence as needed."""
    return (
        ApplicationBuilder()
        .token(server.token)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
    )


@pytest_asyncio.fixture
async def ptb_app(bot_api: SandboxServer) -> AsyncIterator[AnyApplication]:
    """An initialised (not yet polling) PTB Application talking to the stand-in.

    Add handlers, then `await start_polling(ptb_app)`; the fixture stops everything.
    """
    app = application_builder(bot_api).build()
    await app.initialize()
    try:
        yield app
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()


async def start_polling(app: AnyApplication, poll_timeout: int = 1) -> None:
    """Start the application and long-poll the stand-in with no delay between polls."""
    assert app.updater is not None
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=poll_timeout)


class RawApi:
    """Calls Bot API methods over plain HTTP, bypassing PTB, for protocol-level tests."""

    def __init__(self, server: SandboxServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session

    async def __call__(self, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
        """POST a JSON body; return (HTTP status, decoded response)."""
        url = f"{self.server.base_url}{self.server.token}/{method}"
        async with self.session.post(url, json=params) as response:
            body: dict[str, Any] = json.loads(await response.read())
            return response.status, body

    async def ok(self, method: str, **params: Any) -> Any:
        """Call a method that must succeed and return its result."""
        status, body = await self(method, **params)
        assert status == 200 and body["ok"] is True, body
        return body["result"]


@pytest_asyncio.fixture
async def raw_api(bot_api: SandboxServer) -> AsyncIterator[RawApi]:
    """A RawApi bound to the running stand-in."""
    async with aiohttp.ClientSession() as session:
        yield RawApi(bot_api, session)
