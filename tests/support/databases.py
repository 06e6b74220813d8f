"""Throw-away PostgreSQL databases for tests and benches: where the server is, creating
and dropping a database, and emptying one between tests."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from store.db import create_engine
from store.models import Room  # importing the models registers every table

PG_SERVER = os.environ.get("REPAIRBOT_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432")


async def admin(sql: str, server: str = PG_SERVER) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE) on the server."""
    engine = create_engine(f"{server}/postgres")
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@asynccontextmanager
async def throwaway_database(
    server: str = PG_SERVER, prefix: str = "repairbot_test"
) -> AsyncIterator[str]:
    """A new, empty database on the server (its URL), dropped on the way out."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    await admin(f'CREATE DATABASE "{name}"', server)
    try:
        yield f"{server}/{name}"
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', server)


def _empty_sql() -> str:
    """One statement that empties every table and restarts every sequence, as TRUNCATE would.

    TRUNCATE ... RESTART IDENTITY gives ~100 relations (20 tables, their indexes, TOAST
    tables, sequences) new files and cost 0.1-0.5 s per test; DELETE of the few rows a test
    wrote costs milliseconds.
    The table lock first gives the same barrier as TRUNCATE: it waits for any transaction
    still touching the tables. DELETE goes children first (FK order); the list is complete
    because the conftest stops the run if the database has a table the models lack.
    """
    tables = [f'"{t.name}"' for t in Room.metadata.sorted_tables]
    deletes = " ".join(f"DELETE FROM {t};" for t in reversed(tables))
    return (
        f"DO $$BEGIN LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE; {deletes} "
        "PERFORM setval(s.seqrelid, s.seqstart, false) FROM pg_sequence s JOIN pg_class c "
        "ON c.oid = s.seqrelid WHERE c.relnamespace = current_schema()::regnamespace; "
        "END$$"
    )


async def empty(engine: AsyncEngine) -> None:
    """Empty the PostgreSQL database behind `engine` (its pooled connection is then reused)."""
    async with engine.begin() as conn:
        await conn.execute(text(_empty_sql()))


async def truncate(url: str) -> None:
    """Empty the PostgreSQL database at `url`: no rows, every sequence back at its start."""
    engine = create_engine(url)
    try:
        await empty(engine)
    finally:
        await engine.dispose()
