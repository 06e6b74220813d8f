"""Leader election: of several instances on one PostgreSQL database, one holds a
session-level advisory lock and runs the scheduler and the outbox sender; the others
stand by and take over when its connection goes away. SQLite serves one instance, which
is always the leader."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)
# An arbitrary, fixed 64-bit key: every instance of this app agrees on it.
LOCK_KEY = 0x5245_5041_4952_0001


class LeaderLock:
    """Hold (or try to take) the leadership; `check()` keeps the answer current."""

    def __init__(self, engine: AsyncEngine, key: int = LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self._conn: AsyncConnection | None = None
        self.single = engine.dialect.name != "postgresql"

    @property
    def is_leader(self) -> bool:
        """Whether this instance leads right now (as of the last check)."""
        return self.single or self._conn is not None

    async def check(self) -> bool:
        """Take the lock if it is free; verify a held one still stands. Returns is_leader."""
        if self.single:
            return True
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT 1"))
                return True
            except Exception:  # the connection died: the lock died with it
                log.warning("leader: lost the database connection; standing by")
                await self._drop()
        conn = await self.engine.connect()
        try:
            # The lock is session-level: autocommit keeps the session out of a transaction.
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = (
                await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
            ).scalar_one()
        except Exception:
            await conn.close()
            raise
        if got:
            self._conn = conn
            log.info("leader: this instance now runs the scheduler and the outbox")
            return True
        await conn.close()
        return False

    async def release(self) -> None:
        """Give the lock up (on shutdown) so a standby takes over at once."""
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            except (DBAPIError, OSError):
                # The connection died (a restarted server, a terminated backend): the lock
                # went with it, and a shutdown must not fail over it.
                log.info("leader: the lock's connection was already gone at release")
            finally:
                await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:
                log.debug("leader: closing a dead connection failed", exc_info=True)
