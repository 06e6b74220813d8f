"""The handled-updates store: a mark is seen by every instance, per bot, and the daily
prune forgets only what is older than a day."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select

from store.delivery.inbox import last_handled, mark_handled, prune_handled, was_handled
from store.models import HandledUpdate
from store.uow import Store

BOT = 123456
OTHER_BOT = 654321


async def test_an_update_is_handled_once_marked_and_only_for_its_bot(store: Store) -> None:
    assert not await was_handled(store.read(), BOT, 17)
    await mark_handled(store.uow(), BOT, 17)
    await mark_handled(store.uow(), BOT, 17)  # a second mark (a race) is no error
    assert await was_handled(store.read(), BOT, 17)
    assert not await was_handled(store.read(), BOT, 18)
    # Update ids count per bot: another bot's 17 on the same database is a different one.
    assert not await was_handled(store.read(), OTHER_BOT, 17)


async def test_a_mark_made_by_another_instance_is_seen(store: Store) -> None:
    # Another instance: its own Store (own process-local memory) on the same database.
    other = Store(store.engine, store.policy)
    await mark_handled(other.uow(), BOT, 41)
    assert await was_handled(store.read(), BOT, 41)


async def test_prune_forgets_only_what_was_handled_more_than_a_day_ago(store: Store) -> None:
    now = [datetime(2026, 12, 7, 9, 0, tzinfo=UTC)]
    clocked = Store(store.engine, store.policy, clock=lambda: now[0])
    await mark_handled(clocked.uow(), BOT, 1)  # 25 h before the prune
    now[0] += timedelta(hours=2)
    await mark_handled(clocked.uow(), BOT, 2)  # 23 h before
    now[0] += timedelta(hours=23)
    await mark_handled(clocked.uow(), BOT, 3)  # just now
    assert await prune_handled(clocked.uow()) == 1
    async with store.read() as uow:
        left = (
            await uow.session.execute(
                select(col(HandledUpdate.update_id)).order_by(col(HandledUpdate.update_id))
            )
        ).scalars()
        assert list(left) == [2, 3]
    assert await prune_handled(clocked.uow()) == 0
    async with store.read() as uow:
        count = await uow.session.execute(select(func.count()).select_from(HandledUpdate))
        assert count.scalar_one() == 2


async def test_marks_made_at_once_are_all_kept(store: Store) -> None:
    # Updates finishing together share one write; none of them may be dropped.
    await asyncio.gather(*(mark_handled(store.uow(), BOT, n) for n in range(100, 150)))
    for n in range(100, 150):
        assert await was_handled(Store(store.engine, store.policy).read(), BOT, n)
    assert await last_handled(store.read(), BOT) == 149
    assert await last_handled(store.read(), OTHER_BOT) == 0
