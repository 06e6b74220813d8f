"""The SQLite dialect (store/sqlite_driver.py): a unit's BEGIN travels with its first
statement and a transaction that never began is not ended, with transactions exactly
as before: a writer holds the write lock from its first statement, a reader keeps one
snapshot, a failure leaves nothing behind. SQLite only, by nature."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import aiosqlite.core
import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.settings import Settings
from store.db import create_engine
from store.uow import Store, UnitOfWork

SETUP = "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"


@pytest.fixture
async def sqlite_store(sqlite_url: str) -> AsyncIterator[Store]:
    store = Store(create_engine(sqlite_url))
    async with store.uow() as uow:
        await uow.session.execute(text(SETUP))
        await uow.session.execute(text("INSERT INTO kv VALUES ('a', 1)"))
        await uow.commit()
    yield store
    await store.dispose()


@pytest.fixture
def other(sqlite_store: Store, sqlite_url: str) -> Iterator[sqlite3.Connection]:
    """A second connection to the same file, as another process would hold it: it never
    waits for a lock, so a held one shows at once as "database is locked"."""
    database = make_url(sqlite_url).database
    assert database
    connection = sqlite3.connect(database, timeout=0, isolation_level=None)
    yield connection
    connection.close()


class Trips:
    """Counts trips to aiosqlite's worker thread (each is a queue put and a wake-up)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        # aiosqlite leaves _execute unannotated; this is what it takes and gives back.
        original: Callable[..., Awaitable[object]] = aiosqlite.core.Connection._execute

        async def counted(
            conn: aiosqlite.Connection, fn: Callable[..., object], *args: object, **kwargs: object
        ) -> object:
            self.count += 1
            return await original(conn, fn, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counted)


async def _value(uow: UnitOfWork) -> int:
    return int((await uow.session.execute(text("SELECT v FROM kv WHERE k = 'a'"))).scalar_one())


async def test_a_one_statement_unit_is_two_trips_to_the_database_thread(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips = Trips(monkeypatch)
    async with sqlite_store.uow() as uow:
        await uow.session.execute(text("UPDATE kv SET v = v + 1 WHERE k = 'a'"))
        await uow.commit()
    assert trips.count == 2  # BEGIN IMMEDIATE + UPDATE, COMMIT (was four)
    trips.count = 0
    async with sqlite_store.read() as uow:
        assert await _value(uow) == 2
    assert trips.count == 2  # BEGIN + SELECT, ROLLBACK (was four)
    trips.count = 0
    async with sqlite_store.uow() as uow:
        await uow.commit()  # a unit that ends up doing nothing costs nothing
    assert trips.count == 0


async def test_a_writing_unit_holds_the_write_lock_from_its_first_statement(
    sqlite_store: Store, other: sqlite3.Connection
) -> None:
    async with sqlite_store.uow() as uow:
        assert await _value(uow) == 1  # a read, but inside BEGIN IMMEDIATE
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        await uow.session.execute(text("UPDATE kv SET v = 5 WHERE k = 'a'"))
        await uow.commit()
    other.execute("BEGIN IMMEDIATE")  # released with the commit
    other.execute("ROLLBACK")
    assert other.execute("SELECT v FROM kv").fetchone() == (5,)


async def test_a_read_unit_keeps_one_snapshot_and_never_blocks_a_writer(
    sqlite_store: Store, other: sqlite3.Connection
) -> None:
    async with sqlite_store.read() as uow:
        assert await _value(uow) == 1
        other.execute("UPDATE kv SET v = 9 WHERE k = 'a'")  # commits at once
        # Still inside the BEGIN that went with the first SELECT: the same snapshot.
        assert await _value(uow) == 1
    async with sqlite_store.read() as uow:
        assert await _value(uow) == 9


async def test_a_unit_that_fails_after_writing_leaves_nothing_and_frees_the_database(
    sqlite_store: Store, other: sqlite3.Connection
) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with sqlite_store.uow() as uow:
            await uow.session.execute(text("UPDATE kv SET v = 100 WHERE k = 'a'"))
            raise RuntimeError("boom")
    with pytest.raises(Exception, match="UNIQUE"):
        async with sqlite_store.uow() as uow:
            await uow.session.execute(text("INSERT INTO kv VALUES ('b', 1)"))
            await uow.session.execute(text("INSERT INTO kv VALUES ('b', 2)"))
    other.execute("BEGIN IMMEDIATE")  # nobody is left holding the write lock
    assert other.execute("SELECT k, v FROM kv").fetchall() == [("a", 1)]
    other.execute("ROLLBACK")
    async with sqlite_store.uow() as uow:  # the pooled connection works on
        await uow.session.execute(text("UPDATE kv SET v = 2 WHERE k = 'a'"))
        await uow.commit()
    async with sqlite_store.read() as uow:
        assert await _value(uow) == 2


async def test_a_commit_survives_a_power_loss_by_default_and_only_a_crash_when_asked(
    sqlite_url: str,
) -> None:
    default = Settings.model_validate({"database": {"url": sqlite_url}}).store()
    for store, level in ((default, 2), (Store(create_engine(sqlite_url)), 2)):
        try:
            async with store.engine.connect() as conn:
                assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == level
        finally:
            await store.dispose()
    for setting, level in (("normal", 1), ("full", 2)):
        engine = create_engine(sqlite_url, synchronous=setting)
        try:
            async with engine.connect() as conn:
                assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == level
        finally:
            await engine.dispose()
    with pytest.raises(ValueError, match="normal, full"):
        create_engine(sqlite_url, synchronous="off")
    with pytest.raises(ValidationError, match="sqlite_synchronous"):
        Settings.model_validate(
            {"telegram": {"token": "1:x"}, "database": {"sqlite_synchronous": "off"}}
        )
