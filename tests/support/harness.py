"""A running bot for end-to-end tests: the project's real Application polling the sandbox
Bot API stand-in over HTTP, on a test database, with restart control."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot import menus
from bot.app import BotApp, build_application
from bot.settings import Settings
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from sandbox.testing import start_polling
from store.db import create_engine
from store.uow import Store
from tests.support.databases import empty
from tests.support.world import Places, make_categories, make_places


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

    async def menus_published(self) -> int:
        """Wait until the start's command menus went out (bot/menus.py sends them in the
        background after the first update); how many staff menus were sent."""
        assert self.app is not None
        task = menus.task_of(self.app)
        assert task is not None
        return await task

    async def restart(self) -> None:
        """Kill and start the bot again on the same database."""
        await self.stop()
        await self.start()


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


async def new_harness(server: SandboxServer, db_url: str) -> Harness:
    """A bot (not started yet) for the stand-in, on the database at `db_url`, emptied,
    with the small campus of tests.support.world and the categories in it."""
    settings = make_settings(server, db_url)
    # synchronous=NORMAL: a throw-away file needs no power-loss durability (tests/conftest.py).
    store = Store(create_engine(db_url, synchronous="normal"), settings.policy())
    if not db_url.startswith("sqlite"):
        # Emptied on the bot's own engine, which then reuses the connection.
        await empty(store.engine)
    places = await make_places(store)
    await make_categories(store)
    return Harness(server, store, settings, places)
