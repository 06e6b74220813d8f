"""Async unit of work: one session, explicit commit, rollback on anything else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Self
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from store.policy import Policy


def utcnow() -> datetime:
    """Aware UTC now: every datetime column stores aware UTC (SQLModel's UTCDateTime)."""
    return datetime.now(UTC)


Clock = Callable[[], datetime]


class UnitOfWork:
    """`async with uow:` opens a session; leaving without `commit()` rolls back."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._session: AsyncSession | None = None
        self.policy = store.policy

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

    async def __aenter__(self) -> Self:
        self._session = self._store.sessionmaker()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        try:
            await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None

    async def commit(self) -> None:
        """Make everything done in this unit durable."""
        await self.session.commit()

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

    def uow(self) -> UnitOfWork:
        """A fresh unit of work."""
        return UnitOfWork(self)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
