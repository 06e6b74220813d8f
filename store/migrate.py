"""Apply the packaged Alembic migrations to a database URL; works from an installed wheel."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from store.db import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")


def make_config(url: str) -> Config:
    """An Alembic config for the packaged scripts and `url` (no cwd assumption)."""
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # configparser treats % as interpolation; URL-encoded passwords contain it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this package."""
    return ScriptDirectory.from_config(make_config("")).get_current_head()


async def _run(url: str, step: Callable[[Config], None]) -> None:
    """Run an Alembic command on `url` in one transaction."""
    config = make_config(url)

    def _step(connection: Connection) -> None:
        config.attributes["connection"] = connection
        step(config)

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_step)
    finally:
        await engine.dispose()


async def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision` in one transaction."""
    await _run(url, lambda config: command.upgrade(config, revision))


async def downgrade(url: str, revision: str) -> None:
    """Take the database at `url` back to `revision` in one transaction (operators: back up
    first; the tests check each data-carrying revision both ways)."""
    await _run(url, lambda config: command.downgrade(config, revision))


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at; None when it was never migrated."""
    engine = create_engine(url)
    try:
        return await engine_revision(engine)
    finally:
        await engine.dispose()


async def engine_revision(engine: AsyncEngine) -> str | None:
    """The revision of the database behind a running engine (one pooled connection; the
    ops listener's /readyz asks this on every probe)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def schema_diff(url: str) -> list[Any]:
    """Differences between the models and the database at `url` (empty: they match)."""
    from sqlmodel import SQLModel

    import store.models  # noqa: F401 - registers the tables

    def _compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        return list(compare_metadata(context, SQLModel.metadata))

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_compare)
    finally:
        await engine.dispose()
