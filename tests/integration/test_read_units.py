"""Read-only units of work: they see committed data while a writer is busy, never wait."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import select

from store.directory.profiles import ensure_person, person_by_telegram_id
from store.lifecycle import Status
from store.models import Person, Ticket
from store.repair import dispatch, queries
from store.uow import Store
from tests.support.world import build_world, file_ticket


async def test_a_reader_answers_while_a_writer_holds_its_transaction(store: Store) -> None:
    await ensure_person(store.uow(), 7001, "Alice", "en")
    async with store.uow() as writer:
        # The writer is mid-transaction (on SQLite it holds the write lock) ...
        person = (
            await writer.session.execute(select(Person).where(Person.telegram_id == 7001))
        ).scalar_one()
        person.name = "Alice (renamed)"
        await writer.flush()
        # ... and a reader (another update: its own task) still gets the last committed
        # row at once. Before read units, this read queued behind the writer's lock
        # (BEGIN IMMEDIATE) and, since the writer waits for the reader here, failed with
        # "database is locked".
        seen = await asyncio.create_task(person_by_telegram_id(store.read(), 7001))
        assert seen is not None and seen.name == "Alice"
        await writer.commit()
    after = await person_by_telegram_id(store.read(), 7001)
    assert after is not None and after.name == "Alice (renamed)"


async def test_a_read_unit_refuses_to_commit(store: Store) -> None:
    with pytest.raises(RuntimeError, match="read-only"):
        async with store.read() as uow:
            await uow.commit()


async def test_the_staff_screens_answer_while_a_writer_holds_its_transaction(
    store: Store,
) -> None:
    # A technician's jobs, the dispatcher's queue, a ticket's card and its history are
    # reads: they neither wait for a writer nor make one wait. Before, each opened a
    # writing unit (BEGIN IMMEDIATE on SQLite, behind the one writer) and stalled here.
    w = await build_world(store)
    t = (await file_ticket(store, w)).ticket
    await dispatch.accept(store.uow(), t.id, w.tom)
    async with store.uow() as writer:
        row = await writer.session.get(Ticket, t.id)
        assert row is not None
        row.description = "Changed, not committed yet."
        await writer.flush()

        async def screens() -> tuple[Any, ...]:
            return (
                await queries.technician_jobs(store.uow(), w.tom),
                await queries.dispatcher_queue(store.uow(), w.dana, queries.QueueFilter.ALL),
                await queries.ticket_detail(store.uow(), t.id, w.tom),
                await queries.timeline(store.uow(), t.id, w.tom),
                await queries.on_duty_technicians(store.uow(), w.room_a1, "water"),
            )

        # Other people's screens: their own task, as another update would be.
        reading = asyncio.create_task(screens())
        jobs, queue, (card, _caps), history, on_duty = await asyncio.wait_for(reading, 10)
        assert [j.number for j in jobs] == [t.number] == [q.number for q in queue.items]
        assert card.status == Status.ASSIGNED and card.description == t.description
        assert [e.action for e in history][-1] == "accept"
        assert w.tom in {tech.person_id for tech in on_duty}
