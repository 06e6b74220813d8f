"""Blocking the bot is noticed from Telegram's my_chat_member update, before any notice fails;
writing to the bot again (or unblocking) makes the person reachable again."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from store.models import Person
from tests.support.harness import Harness


async def _unreachable(bot: Harness, telegram_id: int, expected: bool) -> bool:
    for _ in range(200):
        async with bot.store.uow() as uow:
            since = (
                await uow.session.execute(
                    select(Person.unreachable_since).where(Person.telegram_id == telegram_id)
                )
            ).scalar_one_or_none()
        if (since is not None) == expected:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_block_then_unblock(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    await alice.command("start")
    await alice.next_message()
    await alice.block()
    assert await _unreachable(bot, 1001, expected=True)
    await alice.unblock()
    assert await _unreachable(bot, 1001, expected=False)
    await alice.command("start")
    await alice.expect(text_contains="What would you like to do")
