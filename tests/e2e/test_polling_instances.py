"""Two `repairbot run` processes on one PostgreSQL database, polling the stand-in: only
the leader polls (no 409 between them), and when the leader is killed (SIGKILL) while
people talk to the bot, the standby answers within 10 s; nobody's message is lost or
answered twice, and neither process prints a traceback."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from telegram import Bot

from sandbox.faults import Fault
from sandbox.handles import UserHandle
from sandbox.notify import WaitTimeout
from sandbox.server import SandboxServer
from store.migrate import upgrade
from tests.support.chats import MENU
from tests.support.databases import throwaway_database
from tests.support.processes import Output, bot_environment, start_repairbot

LEADS = "polling: this instance leads"
USERS = 20
TAKEOVER_LIMIT_S = 10.0


@pytest.fixture
async def pg_database(postgres_url: str) -> AsyncIterator[str]:
    """A migrated database of its own (the bots' advisory lock and rows stay apart from
    the other tests'); `postgres_url` skips this where PostgreSQL is missing."""
    async with throwaway_database(prefix="repairbot_polling") as url:
        await upgrade(url)
        yield url


@dataclass
class Talk:
    """One user sending /start after /start, each after the previous one was answered."""

    user: UserHandle
    sent: int = 0
    lost: int = 0
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (sent at, took)

    async def run(self, until: asyncio.Event) -> None:
        while not until.is_set():
            await self.user.command("start")
            self.sent += 1
            started = time.monotonic()
            try:
                await self.user.expect(text_contains=MENU, timeout=20.0)
            except WaitTimeout:
                self.lost += 1
                continue
            self.latencies.append((started, time.monotonic() - started))
            await asyncio.sleep(0.05)

    def answers(self) -> int:
        return sum(MENU in m.body for m in self.user.messages)


async def start_two(bot_api: SandboxServer, tmp_path: Path, url: str) -> list[Output]:
    env = bot_environment(bot_api, tmp_path, REPAIRBOT_DATABASE__URL=url)
    bots = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        bots.append(Output(await start_repairbot(tmp_path / name, env)))
    for bot in bots:
        await bot.wait_for("Application started")
    return bots


async def who_leads(bots: list[Output]) -> tuple[Output, Output]:
    """The one that polls, and the one standing by (which must not poll)."""
    for _ in range(200):
        leading = [bot for bot in bots if bot.count(LEADS)]
        if leading:
            await asyncio.sleep(1.0)  # a second one starting to poll would show by now
            assert [bot for bot in bots if bot.count(LEADS)] == leading, bots[1].text
            [leader] = leading
            return leader, bots[1 - bots.index(leader)]
        await asyncio.sleep(0.1)
    pytest.fail("neither instance polls:\n" + "\n".join(bot.text for bot in bots))


async def test_only_the_leader_polls_and_a_standby_takes_over_a_killed_one(
    bot_api: SandboxServer, tmp_path: Path, pg_database: str
) -> None:
    bots = await start_two(bot_api, tmp_path, pg_database)
    try:
        leader, standby = await who_leads(bots)

        talks = [Talk(bot_api.client.user(7000 + i, f"User {i}")) for i in range(USERS)]
        stop_talking = asyncio.Event()
        load = [asyncio.create_task(t.run(stop_talking)) for t in talks]
        await asyncio.sleep(4.0)  # the leader answers everyone for a while

        # The leader dies mid-load. Its replies are held for a moment first: a reply that
        # reached Telegram just before a crash, before its update was marked handled, is
        # answered again by the next leader (the README's at-least-once case); every other
        # update must take effect exactly once. The held ones stay in flight, unconfirmed,
        # and must be answered by the standby.
        bot_api.client.fail_next("sendMessage", Fault.drop(), times=100_000)
        # Long enough for the leader's poller to record what finished (a few ms, more on
        # a loaded machine), shorter than the replies' retries (0.5 + 1 s).
        await asyncio.sleep(1.0)
        assert leader.process.returncode is None
        os.kill(leader.process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        bot_api.state.faults.clear()
        await standby.wait_for(LEADS, seconds=TAKEOVER_LIMIT_S)
        await asyncio.sleep(5.0)  # the standby answers everyone now
        stop_talking.set()
        await asyncio.gather(*load)
        await asyncio.sleep(1.0)  # a late second answer would show up now

        seen = [(t.sent, t.answers(), t.lost) for t in talks]  # per user
        assert sum(t.lost for t in talks) == 0, seen
        assert [t.answers() for t in talks] == [t.sent for t in talks], seen  # none twice
        # Whatever was sent around the kill was answered within 10 s of it.
        waits = [at + took - killed_at for t in talks for at, took in t.latencies]
        assert max(waits) < TAKEOVER_LIMIT_S, (max(waits), standby.text)
        assert len([at for t in talks for at, _ in t.latencies if at > killed_at]) > USERS
        assert sum(t.sent for t in talks) > 4 * USERS
    finally:
        codes = [await bot.stop() for bot in bots]
    assert codes[bots.index(standby)] == 0, standby.text
    for bot in bots:
        assert "Traceback" not in bot.text, bot.text
        assert "409" not in bot.text and "Conflict" not in bot.text, bot.text


async def test_a_second_bot_polling_with_the_same_token_is_one_warning_per_conflict(
    bot_api: SandboxServer, tmp_path: Path
) -> None:
    # An operator started a second bot with this token on another database: Telegram ends
    # one poll with the other. The bot says so in one warning line each time, no traceback.
    bot = Output(await start_repairbot(tmp_path, bot_environment(bot_api, tmp_path)))
    try:
        await bot.wait_for(LEADS)
        await asyncio.sleep(0.5)  # its first long poll is waiting now
        intruder = Bot(bot_api.token, base_url=bot_api.base_url)
        async with intruder:
            for n in (1, 2):
                await intruder.get_updates(timeout=0)  # ends the bot's waiting poll
                await bot.wait_for("409", times=n, seconds=15)
                await asyncio.sleep(2.5)  # the bot waits a second, then polls again
        alice = bot_api.client.user(2501, "Alice")
        await alice.command("start")
        await alice.expect(text_contains=MENU, timeout=15)  # it carries on
    finally:
        code = await bot.stop()
    assert code == 0, bot.text
    conflicts = [line for line in bot.lines if "409" in line]
    assert len(conflicts) == 2, bot.text
    assert all(" WARNING " in line and "another bot" in line for line in conflicts)
    assert "Traceback" not in bot.text
