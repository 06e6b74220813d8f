"""Apply the packaged Alembic migrations to a database URL; works from an installed wheel.

Alembic is imported only when a migration runs or is inspected: a start on a database
already at the code's revision (`at_head`) reads the revision with one query and parses
no migration script (issue 28: start-up).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from store.db import create_engine

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")


def make_config(url: str) -> Config:
    """An Alembic config for the packaged scripts and `url` (no cwd assumption)."""
    from alembic.config import Config

    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # configparser treats % as interpolation; URL-encoded passwords contain it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this package."""
    from alembic.script import ScriptDirectory

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
    from alembic import command

    await _run(url, lambda config: command.upgrade(config, revision))


async def downgrade(url: str, revision: str) -> None:
    """Take the database at `url` back to `revision` in one transaction (operators: back up
    first; the tests check each data-carrying revision both ways)."""
    from alembic import command

    await _run(url, lambda config: command.downgrade(config, revision))


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

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
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
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


_REVISION = re.compile(r"^revision\b[^=]*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision\b[^=]*=\s*(.+)$", re.MULTILINE)


def packaged_head() -> str | None:
    """`head_revision()` without Alembic: the revision no packaged script revises, read
    from the scripts' text (tests/integration/test_migrations.py checks they agree)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        found = _REVISION.search(source)
        if found is None:
            continue
        revisions.add(found.group(1))
        down = _DOWN.search(source)
        if down is not None:
            revised.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


async def stored_revision(url: str) -> str | None:
    """`current_revision()` without Alembic: the revision in the database's
    alembic_version table; None when it has none."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            try:
                rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            except (OperationalError, ProgrammingError):  # no such table: never migrated
                return None
            found = [row[0] for row in rows]
            return found[0] if len(found) == 1 else None
    finally:
        await engine.dispose()


async def upgrade_if_behind(url: str) -> bool:
    """`upgrade(url)` unless the database is at the packaged head already (one query, no
    Alembic); True when a migration ran."""
    head = packaged_head()
    if head is not None and await stored_revision(url) == head:
        return False
    await upgrade(url)
    return True
