"""Async unit of work: one session, explicit commit, rollback on anything else."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from store import db
from store.db import READ_ONLY
from store.policy import Policy

if TYPE_CHECKING:  # the PostgreSQL dialect is imported only where it runs (start-up time)
    from sqlalchemy.dialects import postgresql


def utcnow() -> datetime:
    """Aware UTC now: every datetime column stores aware UTC (SQLModel's UTCDateTime)."""
    return datetime.now(UTC)


Clock = Callable[[], datetime]
T = TypeVar("T")


class UnitOfWork:
    """`async with uow:` opens a session; leaving without `commit()` rolls back."""

    def __init__(self, store: Store, *, read_only: bool = False) -> None:
        self._store = store
        self._session: AsyncSession | None = None
        self.policy = store.policy
        self.read_only = read_only
        self._made_read_only = read_only
        self._holds_writer = False
        self._after_commit: list[Callable[[], None]] = []

    @property
    def session(self) -> AsyncSession:
        """The open session; only valid inside `async with`."""
        if self._session is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._session

    def now(self) -> datetime:
        """The store's clock (aware UTC), injectable for tests."""
        return self._store.clock()

    def local_year(self) -> int:
        """The current year on the campus calendar (numbers roll over at local New Year)."""
        return self.now().astimezone(ZoneInfo(self.policy.timezone)).year

    def reading(self) -> Self:
        """This unit only reads: on SQLite it takes no write lock, so it never waits for a
        writer (WAL) nor makes one wait. For services: `async with uow.reading():`."""
        self._refuse_if_open()
        self.read_only = True
        return self

    async def __aenter__(self) -> Self:
        self._refuse_if_open()
        self._store.opening(self)
        try:
            if not self.read_only:
                await self._store.writer_turn()
                self._holds_writer = True
        except BaseException:
            self._store.closed(self)
            raise
        maker = self._store.read_sessionmaker if self.read_only else self._store.sessionmaker
        self._session = maker()
        return self

    def _refuse_if_open(self) -> None:
        if self._session is not None:
            raise RuntimeError(
                "unit of work entered while it is open: a use case that needs another's "
                "work inside its unit calls the store.domain function, not the use case"
            )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        try:
            # Closing rolls back whatever was not committed and hands the connection back.
            await self._session.close()
        finally:
            self._session = None
            self._after_commit = []
            self.read_only = self._made_read_only
            if self._holds_writer:
                self._holds_writer = False
                self._store.writer_done()
            self._store.closed(self)

    async def commit(self) -> None:
        """Make everything done in this unit durable."""
        if self.read_only:
            # A read unit has no write lock (SQLite BEGIN deferred): writing in it could
            # fail at once on a busy database instead of queueing. Use Store.uow().
            raise RuntimeError("commit in a read-only unit of work")
        await self.session.commit()
        hooks, self._after_commit = self._after_commit, []
        for hook in hooks:
            hook()

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run `hook` once this unit's next commit succeeded (not if it rolls back): for
        process-local caches of rows the unit changed."""
        self._after_commit.append(hook)

    def cache(self, name: str, make: Callable[[], T]) -> T:
        """The store's process-local cache called `name`, made by `make` on first use."""
        return self._store.cache(name, make)

    def insert(self, table: Any) -> sqlite.Insert | postgresql.Insert:
        """An INSERT into `table` in this database's dialect, which can say what to do on
        a conflict (`on_conflict_do_nothing`, `on_conflict_do_update`): one statement
        where a savepoint and a retry would take three."""
        if self.session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert

            return insert(table)
        return sqlite.insert(table)

    async def flush(self) -> None:
        """Send pending changes so generated ids are known."""
        await self.session.flush()


class Store:
    """The persistence entry point: an engine, the policy and a clock; hands out units."""

    def __init__(
        self, engine: AsyncEngine, policy: Policy | None = None, clock: Clock = utcnow
    ) -> None:
        self.engine = engine
        self.policy = policy or Policy()
        self.clock = clock
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        self.read_sessionmaker = async_sessionmaker(
            engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )
        # SQLite has one writer. Its busy handler lets waiting writers poll with growing
        # sleeps (up to 100 ms), so under a burst some wait far longer than others; in
        # this process, writing units queue here first, first come first served, and each
        # gets the database as soon as the previous one is done.
        self._writer = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._writers_waiting = 0
        # The unit each task has open: one at a time (see opening).
        self._open_units: dict[asyncio.Task[Any] | None, UnitOfWork] = {}
        self._caches: dict[str, Any] = {}

    def cache(self, name: str, make: Callable[[], T]) -> T:
        """A process-local cache kept with this store (see UnitOfWork.cache)."""
        if name not in self._caches:
            self._caches[name] = make()
        return cast(T, self._caches[name])

    def opening(self, unit: UnitOfWork) -> None:
        """Note `unit` as the current task's open unit; refuse a second one.

        A unit inside another would be a second transaction beside the first: its commit
        would not be undone by the outer rollback, on SQLite it would wait for the outer
        unit's write lock, and a read inside a write would not see the outer unit's
        changes. Another task (another update, a gathered child) gets its own unit."""
        task = asyncio.current_task()
        if task in self._open_units:
            raise RuntimeError(
                "a unit of work opened inside another one of the same task: pass the open "
                "unit to the store.domain functions instead of calling a use case"
            )
        self._open_units[task] = unit

    def closed(self, unit: UnitOfWork) -> None:
        """`unit` is closed: its task may open another."""
        task = asyncio.current_task()
        if self._open_units.get(task) is unit:
            del self._open_units[task]

    async def writer_turn(self) -> None:
        """Wait for this process's turn to write (SQLite only); as long as its busy
        timeout at most, then the same "database is locked" error SQLite would give."""
        if self._writer is None:
            return
        try:
            if self._writer.locked() or self._writers_waiting:
                self._writers_waiting += 1
                try:
                    timeout = db.SQLITE_BUSY_TIMEOUT_MS / 1000
                    await asyncio.wait_for(self._writer.acquire(), timeout)
                finally:
                    self._writers_waiting -= 1
            else:
                await self._writer.acquire()  # free: taken at once, without wait_for's task
        except TimeoutError:
            raise OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
            ) from None

    def writer_done(self) -> None:
        """The writing unit is closed: the next one may go."""
        if self._writer is not None:
            self._writer.release()

    def uow(self) -> UnitOfWork:
        """A fresh unit of work that may write (on SQLite it queues for the write lock)."""
        return UnitOfWork(self)

    def read(self) -> UnitOfWork:
        """A fresh unit of work that only reads: it never waits for a writer (WAL)."""
        return UnitOfWork(self, read_only=True)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
