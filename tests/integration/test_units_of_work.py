"""One unit of work at a time per task: a unit is never entered twice nor opened inside
another (a use case that needs another's work calls the store.domain function inside its
own unit), while units in different tasks run side by side."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import col, select

from store.directory.profiles import ensure_person, person_by_telegram_id
from store.models import Person
from store.uow import Store


def _person(telegram_id: int, name: str, store: Store) -> Person:
    return Person(telegram_id=telegram_id, name=name, language="en", created_at=store.clock())


async def _telegram_ids(store: Store) -> list[int | None]:
    async with store.read() as uow:
        query = select(Person.telegram_id).order_by(col(Person.telegram_id))
        return list((await uow.session.execute(query)).scalars())


async def test_entering_an_open_unit_again_is_refused_and_leaves_nothing_written(
    store: Store,
) -> None:
    uow = store.uow()
    with pytest.raises(RuntimeError, match="entered while it is open"):
        async with uow:
            uow.session.add(_person(7001, "Alice", store))
            await uow.flush()
            async with uow:
                await uow.commit()
    with pytest.raises(RuntimeError, match="entered while it is open"):
        async with uow:
            uow.reading()  # would turn the open writer into a reader
    assert await _telegram_ids(store) == []
    async with uow:  # closed again, the same unit opens as before
        uow.session.add(_person(7002, "Bob", store))
        await uow.commit()
    assert await _telegram_ids(store) == [7002]


@pytest.mark.parametrize("inner", ["write", "read"])
async def test_a_unit_opened_inside_another_of_the_same_task_is_refused(
    store: Store, inner: str
) -> None:
    with pytest.raises(RuntimeError, match="inside another one of the same task"):
        async with store.uow() as uow:
            uow.session.add(_person(7001, "Alice", store))
            await uow.flush()
            # A use case called inside a unit: its own unit is a second transaction.
            if inner == "write":
                await ensure_person(store.uow(), 7002, "Bob", "en")
            else:
                await person_by_telegram_id(store.read(), 7001)
            await uow.commit()
    assert await _telegram_ids(store) == []  # the outer unit rolled back; no inner one ran
    await ensure_person(store.uow(), 7003, "Carol", "en")  # the task may open units again
    assert await _telegram_ids(store) == [7003]


async def test_units_in_different_tasks_run_side_by_side(store: Store) -> None:
    both_open = asyncio.Barrier(2)

    async def writes(telegram_id: int) -> None:
        async with store.uow() as uow:
            uow.session.add(_person(telegram_id, "Walk-in", store))
            await uow.flush()
            await uow.commit()
        async with store.read() as uow:
            # Two tasks, each with a unit open at the same time.
            await uow.session.execute(select(Person.id))
            await asyncio.wait_for(both_open.wait(), 10)

    await asyncio.gather(writes(7001), writes(7002))
    assert await _telegram_ids(store) == [7001, 7002]
