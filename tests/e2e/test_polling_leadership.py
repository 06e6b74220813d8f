"""The poller follows the leadership: an instance that loses the leader lock stops calling
getUpdates (so it cannot end the new leader's polls with 409), and one that gets it back
polls again; a message sent meanwhile waits for a leader and is answered once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from telegram import Bot

from bot.app import BotApp, build_application
from bot.inbox import InboxApplication
from bot.polling import Poller
from sandbox.server import SandboxServer
from scheduler.leadership import Leadership
from store.db import create_engine
from store.leader import LOCK_KEY, LeaderLock
from tests.support.chats import MENU
from tests.support.harness import Harness, new_harness

pytestmark = pytest.mark.parametrize("e2e_db", ["postgres"], indirect=True)


@pytest.fixture
async def harness(bot_api: SandboxServer, e2e_db: str) -> AsyncIterator[Harness]:
    harness = await new_harness(bot_api, e2e_db)
    try:
        yield harness
    finally:
        await harness.store.dispose()


async def until(check: object, seconds: float = 5.0) -> None:
    assert callable(check)
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not within the time limit")


async def test_an_instance_that_loses_the_lock_stops_polling(
    harness: Harness, bot_api: SandboxServer, e2e_db: str
) -> None:
    app: BotApp = build_application(
        harness.settings, harness.store, sender_poll_interval=0.1, with_scheduler=False
    )
    assert isinstance(app, InboxApplication)
    leadership = app.bot_data.leadership
    assert isinstance(leadership, Leadership)
    poller = Poller(app, lambda: leadership.leading)
    leadership.listeners.append(poller.wake)
    other = create_engine(e2e_db)  # another instance, waiting for the lock
    rival = LeaderLock(other)
    rival_bot = Bot(bot_api.token, base_url=bot_api.base_url)
    stop = asyncio.Event()
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)  # takes the lock: this instance leads
    await app.start()
    # The test plays the periodic leader check itself (leadership.refresh below): the
    # scheduler's own, every 3 s, could take the freed lock back before the rival does.
    assert app.job_queue is not None
    for job in app.job_queue.get_jobs_by_name("leader"):
        job.schedule_removal()
    running = asyncio.create_task(poller.run(stop))
    try:
        assert leadership.leading
        await until(lambda: poller.polling)
        alice = bot_api.client.user(2401, "Alice")
        await alice.command("start")
        await alice.expect(text_contains=MENU)

        # The lock's session dies (a cut connection) and the other instance takes it.
        async with other.connect() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = "
                    "'advisory' AND granted AND classid = :hi AND objid = :lo AND database ="
                    " (SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"hi": LOCK_KEY >> 32, "lo": LOCK_KEY & 0xFFFF_FFFF},
            )
        # The backend ends a moment after the signal: the lock is free once it has.
        for _ in range(250):
            if await rival.check():
                break
            await asyncio.sleep(0.02)
        assert rival.is_leader, "the rival did not get the freed lock within 5 s"
        assert not await leadership.refresh()  # the periodic leader check
        await until(lambda: not poller.polling, seconds=1.0)
        # The new leader's long poll runs its full course: no poll of ours ends it (409).
        assert await rival_bot.get_updates(timeout=2) == ()
        await alice.command("start")
        await alice.assert_no_message(within=1.0)  # this instance does not fetch it

        # The other instance goes away; this one leads again and answers, once.
        await rival.release()
        assert await leadership.refresh()
        await until(lambda: poller.polling, seconds=1.0)
        await alice.expect(text_contains=MENU, timeout=5.0)
        await alice.assert_no_message(within=0.5)
    finally:
        stop.set()
        await running
        await app.stop()
        await poller.confirm()
        await app.shutdown()
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
        await rival.release()
        await other.dispose()
