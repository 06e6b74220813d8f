"""Leader election between instances on one PostgreSQL database (advisory lock), and the
outbox sender that runs only on the leader. Two "instances" are two engines (two
connection pools), as two processes would have. An instance "dies" by having its lock
session terminated, exactly what a crash or a cut network looks like to PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from telegram import Bot

from bot.sender import OutboxSender
from bot.settings import Settings
from sandbox.client import UserHandle
from sandbox.faults import Fault
from sandbox.server import SandboxServer
from scheduler.leadership import Leadership
from store.db import create_engine
from store.domain.notices import notify
from store.leader import LOCK_KEY, LeaderLock
from store.models import Outbox
from store.uow import Store
from tests.support.databases import truncate
from tests.support.world import make_person, next_telegram_id

TAKEOVER_LIMIT_S = 5.0  # "within seconds"; in practice a few milliseconds here


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine, AsyncEngine]]:
    """Two instances' engines and an operator's one, on this run's (emptied) database."""
    await truncate(postgres_url)
    engines = create_engine(postgres_url), create_engine(postgres_url), create_engine(postgres_url)
    try:
        yield engines
    finally:
        for engine in engines:
            await engine.dispose()


async def lock_holder(operator: AsyncEngine) -> int | None:
    """The backend pid holding the leader lock, as an operator would look it up."""
    async with operator.connect() as conn:
        return (
            await conn.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database"
                    "                 WHERE datname = current_database())"
                    " AND classid = :hi AND objid = :lo AND objsubid = 1"
                ),
                {"hi": LOCK_KEY >> 32, "lo": LOCK_KEY & 0xFFFF_FFFF},
            )
        ).scalar_one_or_none()


async def kill_leader(operator: AsyncEngine) -> None:
    """Terminate the session that holds the lock (a crashed or cut-off leader)."""
    pid = await lock_holder(operator)
    assert pid is not None, "nobody holds the leader lock"
    async with operator.connect() as conn:
        assert (
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        ).scalar_one()


async def until(check: Callable[[], Awaitable[bool]], limit: float = TAKEOVER_LIMIT_S) -> float:
    """Call the async `check` until it returns True; returns the seconds it took."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < limit, "no takeover within the limit"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


@pytest.mark.postgres
async def test_one_leader_and_a_standby_that_takes_over(
    pg: tuple[AsyncEngine, AsyncEngine, AsyncEngine],
) -> None:
    a, b, operator = LeaderLock(pg[0]), LeaderLock(pg[1]), pg[2]
    try:
        await _one_leader_then_the_other(a, b, operator)
    finally:
        await a.release()
        await b.release()


async def _one_leader_then_the_other(a: LeaderLock, b: LeaderLock, operator: AsyncEngine) -> None:
    assert await a.check() is True
    assert await b.check() is False
    for _ in range(3):  # repeated checks change nothing
        assert (await a.check(), await b.check()) == (True, False)
    assert (a.is_leader, b.is_leader) == (True, False)
    first_holder = await lock_holder(operator)

    await kill_leader(operator)
    took = await until(b.check)
    assert took < TAKEOVER_LIMIT_S
    assert await lock_holder(operator) not in (None, first_holder)
    assert await a.check() is False  # the old leader learns it lost, and stands by
    assert (a.is_leader, b.is_leader) == (False, True)
    assert await b.check() is True

    await b.release()  # a clean shutdown hands over at once
    assert b.is_leader is False
    assert await a.check() is True
    assert await b.check() is False


@pytest.mark.postgres
async def test_a_leader_whose_session_was_killed_shuts_down_cleanly(
    pg: tuple[AsyncEngine, AsyncEngine, AsyncEngine],
) -> None:
    # The lock's session terminated under it (a restarted server, an operator's
    # pg_terminate_backend) before it learned so: releasing at shutdown must not raise.
    a, b, operator = LeaderLock(pg[0]), LeaderLock(pg[1]), pg[2]
    try:
        assert await a.check() is True
        await kill_leader(operator)
        await a.release()
        assert a.is_leader is False
        assert await b.check() is True  # the lock went with the session
    finally:
        await b.release()


async def test_sqlite_is_a_single_instance_and_always_leads(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        one, two = LeaderLock(engine), LeaderLock(engine)
        assert (await one.check(), await two.check()) == (True, True)
        await one.release()
        assert one.is_leader is True
    finally:
        await engine.dispose()


# --- the outbox sender follows leadership -------------------------------------------------


@dataclass
class Instance:
    """One running instance: its store, its bot client and its leadership."""

    store: Store
    bot: Bot
    leadership: Leadership


async def instance(
    engine: AsyncEngine, server: SandboxServer, per_chat_interval: float
) -> Instance:
    store = Store(engine)
    bot = Bot(token=server.token, base_url=server.base_url, base_file_url=server.base_file_url)
    await bot.initialize()
    sender = OutboxSender(
        bot, store, Settings(), poll_interval=0.05, per_chat_interval=per_chat_interval
    )
    return Instance(store, bot, Leadership(LeaderLock(engine), sender))


async def started_user(server: SandboxServer, store: Store) -> tuple[UserHandle, int]:
    """A person who opened the bot (so it may write to them); (their chat, person id)."""
    telegram_id = next_telegram_id()
    user = server.client.user(telegram_id, "Sue")
    await user.command("start")
    person = await make_person(store, name="Sue", telegram_id=telegram_id)
    return user, person.id


async def queue_notices(store: Store, person_id: int, count: int) -> list[str]:
    """`count` ticket notices for the person; returns the ticket numbers they carry."""
    numbers = [f"2026-{n:06d}" for n in range(1, count + 1)]
    async with store.uow() as uow:
        for number in numbers:
            payload = {"number": number, "category": "water", "building": "E1", "room": "101"}
            notify(uow, person_id, "ticket.received", payload)
        await uow.commit()
    return numbers


async def sent_count(store: Store) -> int:
    async with store.uow() as uow:
        return int(
            (
                await uow.session.execute(
                    select(func.count())
                    .select_from(Outbox)
                    .where(col(Outbox.sent_at).is_not(None))
                )
            ).scalar_one()
        )


def delivered(user: UserHandle, numbers: list[str]) -> dict[str, int]:
    """How many messages in the user's chat carry each ticket number."""
    bodies = [m.body for m in user.messages]
    return {n: sum(n in body for body in bodies) for n in numbers}


@pytest.mark.postgres
async def test_only_the_leader_sends_and_the_standby_finishes_the_outbox(
    pg: tuple[AsyncEngine, AsyncEngine, AsyncEngine], bot_api: SandboxServer
) -> None:
    # The leader paces one message a second to the chat (Telegram's limit), the standby
    # 20 a second, so the test stays short after the takeover.
    one = await instance(pg[0], bot_api, per_chat_interval=1.0)
    two = await instance(pg[1], bot_api, per_chat_interval=0.05)
    user, person = await started_user(bot_api, one.store)
    numbers = await queue_notices(one.store, person, 6)
    try:
        assert await one.leadership.refresh() is True
        assert await two.leadership.refresh() is False
        await user.collect(2, timeout=5)
        # Wait until the leader recorded its second delivery: it is now pausing for the
        # chat, so a kill cannot catch it between Telegram's answer and the bookkeeping.
        await until(lambda: _at_least(one.store, 2))
        assert await two.leadership.refresh() is False  # the standby never sent
        assert delivered(user, numbers) == {n: int(i < 2) for i, n in enumerate(numbers)}

        await kill_leader(pg[2])
        await until(two.leadership.refresh)  # the standby's next refresh(es) take over
        assert await one.leadership.refresh() is False  # the old leader stands by
        assert (one.leadership.leading, two.leadership.leading) == (False, True)

        await until(lambda: _at_least(one.store, len(numbers)))
        user.mark()
        await user.assert_no_message(within=0.3)  # nothing late, nothing twice
        assert delivered(user, numbers) == dict.fromkeys(numbers, 1)
        assert len(user.messages) == len(numbers)
    finally:
        for inst in (one, two):
            await inst.leadership.resign()
            await inst.bot.shutdown()


async def _at_least(store: Store, count: int) -> bool:
    return await sent_count(store) >= count


@pytest.mark.postgres
async def test_a_notice_in_flight_at_the_takeover_is_not_sent_twice(
    pg: tuple[AsyncEngine, AsyncEngine, AsyncEngine], bot_api: SandboxServer
) -> None:
    one = await instance(pg[0], bot_api, per_chat_interval=0.05)
    two = await instance(pg[1], bot_api, per_chat_interval=0.05)
    user, person = await started_user(bot_api, one.store)
    numbers = await queue_notices(one.store, person, 1)
    bot_api.client.fail_next("sendMessage", Fault.slow(1.0))  # Telegram answers slowly
    try:
        assert await one.leadership.refresh() is True
        await asyncio.sleep(0.2)  # the leader's send is under way
        await kill_leader(pg[2])
        await until(two.leadership.refresh)
        await user.collect(1, timeout=5)
        await until(lambda: _at_least(one.store, 1))
        assert await one.leadership.refresh() is False
        user.mark()
        await user.assert_no_message(within=1.5)
        assert delivered(user, numbers) == dict.fromkeys(numbers, 1)
    finally:
        for inst in (one, two):
            await inst.leadership.resign()
            await inst.bot.shutdown()
