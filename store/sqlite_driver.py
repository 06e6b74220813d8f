"""SQLAlchemy's aiosqlite dialect with one thread hop per statement instead of four, and
none for a BEGIN or for ending a transaction that never began.

aiosqlite runs every sqlite3 call on its connection's worker thread; each call is a hop
there and back (a queue put, a future, a self-pipe wake-up of the event loop).
SQLAlchemy's adapter makes four per statement: create a cursor, execute, fetch all rows,
close the cursor. Measured on the 2-core machine, a one-row SELECT through an async
session cost ~600 µs of CPU that way, against ~120 µs for the same statement through
SQLAlchemy's synchronous pysqlite dialect; the hops were most of an update's cost.

This module keeps aiosqlite (its thread, its connection, SQLAlchemy's pool and error
translation) and replaces only the cursor: a statement is one function run on the
worker thread that creates a sqlite3 cursor, executes, fetches the rows if there are
any and closes it, returning what the DB-API cursor would have reported. Server-side
cursors (`stream()`) keep SQLAlchemy's own behaviour (a hop per fetch).
`store.db.create_engine` picks this dialect for every `sqlite+aiosqlite` URL, so settings
and URLs do not change.

Transactions cost hops too: `store.db`'s BEGIN (IMMEDIATE for a unit that writes) was a
statement of its own, and SQLAlchemy ends every checkout with a rollback, after a commit
as well (the pool's reset on return), so a one-statement write took four hops and a
one-statement read four. Here the BEGIN waits on the connection (`begin_with`) and
travels with the unit's first statement, and each hop reports back whether sqlite3 is
inside a transaction, so a commit or rollback with nothing to end stays on the event
loop: a write is two hops (statement, COMMIT) and a read two (statement, ROLLBACK).
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any, cast

from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection, AsyncIODBAPICursor
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

DRIVER = "aiosqlite_onehop"


class _Outcome:
    """What a closed sqlite3 cursor reported about its statement."""

    __slots__ = ("arraysize", "description", "in_transaction", "lastrowid", "rowcount", "rows")

    def __init__(
        self,
        description: Any = None,
        rowcount: int = -1,
        lastrowid: int | None = None,
        rows: list[Any] | None = None,
        in_transaction: bool = False,
    ) -> None:
        self.description = description
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self.arraysize = 1
        self.rows = rows
        self.in_transaction = in_transaction

    def close(self) -> None:
        """Already closed on the worker thread."""


def _as_cursor(outcome: _Outcome) -> AsyncIODBAPICursor:
    """An outcome in the adapter's slot for aiosqlite's cursor, which SQLAlchemy types as
    the async cursor: it reads only description, rowcount, lastrowid and arraysize there,
    and calls close() without awaiting it (OneHopCursor._awaitable_cursor_close)."""
    return cast(AsyncIODBAPICursor, outcome)


def _run(
    conn: sqlite3.Connection, begin: str | None, operation: str, parameters: Any, many: bool
) -> _Outcome:
    """On the worker thread: the waiting BEGIN if any, then one statement from cursor to
    closed cursor."""
    if begin is not None:
        conn.execute(begin).close()
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return _Outcome(description, cursor.rowcount, cursor.lastrowid, rows, conn.in_transaction)
    finally:
        cursor.close()


def _end(conn: sqlite3.Connection, commit: bool) -> bool:
    """On the worker thread: COMMIT or ROLLBACK; whether a transaction is still open."""
    if commit:
        conn.commit()
    else:
        conn.rollback()
    return conn.in_transaction


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statements each take one trip to aiosqlite's thread."""

    __slots__ = ()
    # close() is a no-op on the outcome, so SQLAlchemy need not await it.
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _as_cursor(_Outcome())
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._hop(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._hop(operation, seq_of_parameters, many=True)

    async def _hop(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection: Any = self._connection
        adapted = self._adapt_connection
        assert isinstance(adapted, OneHopConnection)  # the only maker of these cursors
        async with adapted._execute_mutex:
            begin, adapted.pending_begin = adapted.pending_begin, None
            # Until the hop says otherwise (a failed statement may leave one open).
            adapted.in_transaction = True
            outcome: _Outcome = await connection._execute(
                _run, connection._conn, begin, operation, parameters, many
            )
        adapted.in_transaction = outcome.in_transaction
        self._cursor = _as_cursor(outcome)
        self._rows = collections.deque(outcome.rows or ())


class OneHopServerSideCursor(AsyncAdapt_aiosqlite_ss_cursor):
    """SQLAlchemy's streaming cursor; a waiting BEGIN goes first, in a hop of its own."""

    __slots__ = ()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        adapted = self._adapt_connection
        assert isinstance(adapted, OneHopConnection)  # the only maker of these cursors
        await adapted.send_begin()
        adapted.in_transaction = True  # a stream's transaction is ended by its owner
        return await super()._execute_async(operation, parameters)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """aiosqlite's adapted connection, handing out one-hop cursors, with the BEGIN held
    back for the first statement and no hop to end a transaction that is not open."""

    __slots__ = ("in_transaction", "pending_begin")
    _cursor_cls = OneHopCursor
    _ss_cursor_cls = OneHopServerSideCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.pending_begin: str | None = None
        self.in_transaction = False

    def begin_with(self, statement: str) -> None:
        """Open a transaction with `statement` (BEGIN, BEGIN IMMEDIATE) on the worker
        thread right before the next statement, in the same hop."""
        self.pending_begin = statement

    async def send_begin(self) -> None:
        """Send a waiting BEGIN now, on its own."""
        begin, self.pending_begin = self.pending_begin, None
        if begin is not None:
            connection: Any = self._connection
            async with self._execute_mutex:
                await connection._execute(lambda: connection._conn.execute(begin).close())

    def commit(self) -> None:
        self._end(commit=True)

    def rollback(self) -> None:
        self._end(commit=False)

    def _end(self, *, commit: bool) -> None:
        # A BEGIN that never went out began nothing; nothing open, nothing to end.
        self.pending_begin = None
        if not self.in_transaction or not self._connection._connection:
            return
        connection: Any = self._connection
        try:
            self.in_transaction = await_(connection._execute(_end, connection._conn, commit))
        except Exception as error:
            self._handle_exception(error)


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """aiosqlite as SQLAlchemy adapts it, connections wrapped as OneHopConnection."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        creator_fn = kw.pop("async_creator_fn", None)
        connection = creator_fn(*arg, **kw) if creator_fn else self.aiosqlite.connect(*arg, **kw)
        if creator_fn is None:
            connection._thread.daemon = True  # as SQLAlchemy does: never block exit
        return OneHopConnection(self, await_(connection))


class OneHopDialect(SQLiteDialect_aiosqlite):
    """The aiosqlite dialect with OneHopDBAPI."""

    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:
        import aiosqlite

        return OneHopDBAPI(aiosqlite, sqlite3)


def one_hop_url(url: str | URL) -> URL:
    """The same database through this dialect (a `sqlite+aiosqlite` URL; others as they are)."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        return parsed.set(drivername=f"sqlite+{DRIVER}")
    return parsed
