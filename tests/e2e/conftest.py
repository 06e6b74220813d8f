"""The project's real Application, polling the sandbox Bot API over HTTP, on a fresh DB."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.board.server import BoardServer
from sandbox.server import SandboxServer
from tests.support.browser import page  # noqa: F401 - the real-browser fixture
from tests.support.harness import Harness, new_harness


@pytest.fixture
def e2e_db(request: pytest.FixtureRequest) -> str:
    """The database behind the bot: a SQLite file unless a test parametrises "postgres"."""
    kind = getattr(request, "param", "sqlite")
    url: str = request.getfixturevalue("postgres_url" if kind == "postgres" else "sqlite_url")
    return url


@pytest_asyncio.fixture
async def bot(bot_api: SandboxServer, e2e_db: str) -> AsyncIterator[Harness]:
    """The project's bot running against the stand-in, with a small campus imported."""
    harness = await new_harness(bot_api, e2e_db)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
        await harness.store.dispose()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """Keep each phase's report on the test item, so fixtures can tell a failure (the
    browser tests take a screenshot then)."""
    report = yield
    setattr(item, f"rep_{call.when}", report)
    return report


@pytest_asyncio.fixture
async def board(bot: Harness) -> AsyncIterator[BoardServer]:
    """The board served beside the running bot, on a free port."""
    assert bot.app is not None
    settings = bot.settings.model_copy(
        update={"board": bot.settings.board.model_copy(update={"port": 0})}
    )
    server = BoardServer(settings, bot.store, bot.app.bot)
    await server.start()
    bot.app.bot_data.board = server
    try:
        yield server
    finally:
        await server.stop()
