"""The poller keeps unanswered updates unconfirmed at Telegram, but never so many that
getUpdates' page fills with them: one chat stuck on a slow update does not stop the bot
from hearing everyone else."""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import MessageHandler, filters

from bot.app import build_application
from bot.context import Ctx
from bot.inbox import InboxApplication
from bot.polling import LIMIT, Poller
from sandbox.server import SandboxServer
from tests.support.chats import MENU
from tests.support.harness import new_harness


async def test_one_stuck_update_does_not_stall_the_others(
    bot_api: SandboxServer, sqlite_url: str
) -> None:
    harness = await new_harness(bot_api, sqlite_url)
    app = build_application(harness.settings, harness.store, with_scheduler=False)
    assert isinstance(app, InboxApplication)
    release = asyncio.Event()

    async def stuck(_: Update, __: Ctx) -> None:
        await release.wait()  # e.g. a call to something that hangs

    app.add_handler(MessageHandler(filters.Regex("^stuck$"), stuck), group=-5)
    poller = Poller(app, lambda: True)
    stop = asyncio.Event()
    await app.initialize()
    await app.start()
    running = asyncio.create_task(poller.run(stop))
    try:
        await bot_api.client.user(2600, "Stuck").send("stuck")
        users = [bot_api.client.user(2601 + n, f"User {n}") for n in range(LIMIT + 20)]
        for user in users:  # more than a page of updates behind the stuck one
            await user.command("start")
        for user in users:
            await user.expect(text_contains=MENU, timeout=30.0)
    finally:
        release.set()
        stop.set()
        await running
        await app.stop()
        await app.shutdown()
        await harness.store.dispose()
