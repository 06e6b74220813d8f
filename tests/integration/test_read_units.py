"""Read-only units of work: they see committed data while a writer is busy, never wait."""

from __future__ import annotations

import pytest
from sqlmodel import select

from store.models import Person
from store.services.people import ensure_person, person_by_telegram_id
from store.uow import Store


async def test_a_reader_answers_while_a_writer_holds_its_transaction(store: Store) -> None:
    await ensure_person(store.uow(), 7001, "Alice", "en")
    async with store.uow() as writer:
        # The writer is mid-transaction (on SQLite it holds the write lock) ...
        person = (
            await writer.session.execute(select(Person).where(Person.telegram_id == 7001))
        ).scalar_one()
        person.name = "Alice (renamed)"
        await writer.flush()
        # ... and a reader still gets the last committed row at once. Before read units,
        # this read queued behind the writer's lock (BEGIN IMMEDIATE) and, since the writer
        # waits for the reader here, failed with "database is locked".
        seen = await person_by_telegram_id(store.read(), 7001)
        assert seen is not None and seen.name == "Alice"
        await writer.commit()
    after = await person_by_telegram_id(store.read(), 7001)
    assert after is not None and after.name == "Alice (renamed)"


async def test_a_read_unit_refuses_to_commit(store: Store) -> None:
    with pytest.raises(RuntimeError, match="read-only"):
        async with store.read() as uow:
            await uow.commit()
