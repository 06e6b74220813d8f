"""Engine creation: SQLite gets WAL, a busy timeout and write-intent transactions; and
the typed ways to reach a model's table and a statement's row count."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, event, inspect
from sqlalchemy.dialects import registry
from sqlalchemy.engine import CursorResult, Result, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel

from store.sqlite_driver import DRIVER, one_hop_url

registry.register(f"sqlite.{DRIVER}", "store.sqlite_driver", "OneHopDialect")

SQLITE_BUSY_TIMEOUT_MS = 15_000
SQLITE_SYNCHRONOUS = ("normal", "full")
# Execution option of the read-only units (Store.read): on SQLite they BEGIN deferred.
READ_ONLY = "repairbot_read_only"


def is_sqlite(url: str) -> bool:
    """Whether the URL names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False, synchronous: str = "full") -> AsyncEngine:
    """Create the async engine for `url` with the per-dialect settings this app relies on.

    `synchronous` is SQLite's PRAGMA for a database file in WAL mode: "full" (the default)
    syncs the log at each commit, so a commit the bot acknowledged survives a power loss
    of the machine; "normal" syncs only at checkpoints: a commit survives a crash of the
    bot, but the last ones may be lost if the machine loses power (one disk sync less per
    commit: bench/README.md, "durable by default")."""
    if synchronous not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS)}")
    if not is_sqlite(url):
        return create_async_engine(url, echo=echo, pool_pre_ping=True)
    engine = create_async_engine(
        one_hop_url(url), echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN, so the listener below can pick it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if make_url(url).database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that reads and then writes fails at once with
        # "database is locked" when another writer got in between; IMMEDIATE takes
        # the write lock up front, so concurrent writers queue on busy_timeout instead.
        # A unit that only reads takes no write lock: under WAL it reads its snapshot
        # while a writer works, so a long scheduler batch never makes /my wait.
        # The BEGIN goes to SQLite with the unit's first statement (store.sqlite_driver).
        begin = "BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE"
        conn.connection.dbapi_connection.begin_with(begin)

    return engine


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched (`Result` is typed without it)."""
    # A DML statement's result is a CursorResult on every driver this app uses.
    assert isinstance(result, CursorResult)
    return result.rowcount


def table_of(model: type[SQLModel]) -> Table:
    """The table a SQLModel table class maps to (`__table__` is not typed)."""
    table = inspect(model).local_table
    assert isinstance(table, Table), f"{model.__name__} is not a table model"
    return table


def max_length(column: object) -> int:
    """The VARCHAR length the model declares for a column, so a check of input never
    drifts from the schema."""
    length = getattr(getattr(column, "type", None), "length", None)
    assert isinstance(length, int), f"{column} has no max_length"
    return length
