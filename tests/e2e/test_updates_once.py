"""An update Telegram delivers again (a new polling leader fetching what the old one had
not confirmed) takes effect once: its handlers ran already, so the user hears nothing
twice. An update whose handler failed is marked all the same: it does not come back to
fail again forever."""

from __future__ import annotations

import asyncio
import copy

import pytest
from sqlmodel import col, select

from bot.ratelimit import REPLY_RETRIES
from sandbox.faults import Fault
from store.models import HandledUpdate
from tests.support.harness import Harness

pytestmark = pytest.mark.parametrize("e2e_db", ["sqlite", "postgres"], indirect=True)


def redeliver(bot: Harness, update: dict[str, object]) -> None:
    """Put an update back in the queue, as Telegram does for a poller that never confirmed
    it (the process that fetched it died before its next getUpdates)."""
    queue = bot.server.state.updates
    queue.pending.insert(0, copy.deepcopy(update))
    queue.changed.notify()


async def marked(bot: Harness, update: dict[str, object]) -> bool:
    """Whether the update gets marked handled (the mark follows the reply closely)."""
    update_id = update["update_id"]
    assert isinstance(update_id, int)
    for _ in range(100):
        async with bot.store.read() as uow:
            rows = await uow.session.execute(select(col(HandledUpdate.update_id)))
            if update_id in rows.scalars():
                return True
        await asyncio.sleep(0.05)
    return False


async def test_a_start_delivered_twice_is_answered_once(bot: Harness) -> None:
    alice = bot.sandbox.user(2301, "Alice")
    await alice.command("start")
    update = copy.deepcopy(bot.server.state.updates.pending[-1])
    await alice.expect(text_contains="What would you like to do?")
    assert await marked(bot, update)

    # The bot restarts (a standby taking over, fresh offset) and Telegram hands the
    # /start over once more before Alice's next message.
    await bot.restart()
    redeliver(bot, update)
    await alice.command("help")
    await alice.next_message()  # /help's answer: the redelivered /start went before it
    starts = [m for m in alice.messages if "What would you like to do?" in m.body]
    assert len(starts) == 1
    await alice.assert_no_message(within=0.3)


async def test_an_update_whose_handler_failed_is_marked_and_not_retried(bot: Harness) -> None:
    bob = bot.sandbox.user(2302, "Bob")
    # Every try of the reply fails (the first and its retries), so the handler raises.
    bot.sandbox.fail_next("sendMessage", Fault.server_error(500), times=len(REPLY_RETRIES) + 1)
    await bob.command("start")
    update = copy.deepcopy(bot.server.state.updates.pending[-1])
    await bob.expect(text_contains="went wrong")  # the error handler's apology
    assert await marked(bot, update)

    await bot.restart()
    redeliver(bot, update)
    await bob.command("help")
    await bob.next_message()
    assert not [m for m in bob.messages if "What would you like to do?" in m.body]
    await bob.assert_no_message(within=0.3)
