"""The project's real Application, polling the sandbox Bot API over HTTP, on a fresh DB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio

from bot.app import BotApp, build_application
from bot.board.server import BoardServer
from bot.settings import Settings
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from sandbox.testing import start_polling
from store.db import create_engine
from store.uow import Store
from tests.conftest import _empty
from tests.e2e.browser import page  # noqa: F401 - the real-browser fixture
from tests.factories import Places, make_categories, make_places


@dataclass
class Harness:
    """A running bot: the stand-in, the store behind the bot, and restart control."""

    server: SandboxServer
    store: Store
    settings: Settings
    places: Places
    app: BotApp | None = None
    per_chat_interval: float = 0.02
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def sandbox(self) -> SandboxClient:
        """The user side of the stand-in."""
        return self.server.client

    async def start(self) -> None:
        """Build and start the Application (as `repairbot run` would), polling the stand-in."""
        self.app = build_application(
            self.settings,
            self.store,
            sender_poll_interval=0.1,
            # Telegram's 1 message/s per chat is tested on its own (with the stand-in's
            # limits on); here it would only make every notice-heavy test slow.
            per_chat_interval=self.per_chat_interval,
            with_scheduler=False,
        )
        # The same order as Application.run_polling: initialize, post_init, start.
        await self.app.initialize()
        if self.app.post_init is not None:
            await self.app.post_init(self.app)
        await start_polling(self.app)

    async def stop(self) -> None:
        """Stop polling and shut the Application down (the database stays)."""
        app, self.app = self.app, None
        if app is None:
            return
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)

    async def restart(self) -> None:
        """Kill and start the bot again on the same database."""
        await self.stop()
        await self.start()


@pytest.fixture
def e2e_db(request: pytest.FixtureRequest) -> str:
    """The database behind the bot: a SQLite file unless a test parametrises "postgres"."""
    kind = getattr(request, "param", "sqlite")
    url: str = request.getfixturevalue("postgres_url" if kind == "postgres" else "sqlite_url")
    return url


def make_settings(server: SandboxServer, db_url: str) -> Settings:
    """Settings pointing the bot at the stand-in and the test database."""
    return Settings.model_validate(
        {
            "telegram": {
                "token": server.token,
                "api_url": server.base_url,
                "file_url": server.base_file_url,
                "bot_username": "sandbox_bot",
            },
            "database": {"url": db_url},
            "service": {"emergency_phone": "110-999", "complaint_phone": "12345-678"},
        }
    )


@pytest_asyncio.fixture
async def bot(bot_api: SandboxServer, e2e_db: str) -> AsyncIterator[Harness]:
    """The project's bot running against the stand-in, with a small campus imported."""
    settings = make_settings(bot_api, e2e_db)
    store = Store(create_engine(e2e_db), settings.policy())
    if not e2e_db.startswith("sqlite"):
        # Emptied on the bot's own engine, which then reuses the connection.
        await _empty(store.engine)
    places = await make_places(store)
    await make_categories(store)
    harness = Harness(bot_api, store, settings, places)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
        await store.dispose()


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
