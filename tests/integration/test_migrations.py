"""The packaged Alembic migrations: they build the schema the models describe, anywhere."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from store.migrate import MIGRATIONS_DIR, current_revision, head_revision, schema_diff, upgrade


def test_exactly_one_head_shipped_inside_the_package() -> None:
    assert head_revision() is not None
    assert (MIGRATIONS_DIR / "alembic.ini").is_file()
    assert "import sqlmodel" in (MIGRATIONS_DIR / "script.py.mako").read_text(encoding="utf-8")


async def test_upgrade_a_fresh_sqlite_file_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no alembic.ini or migrations folder here
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    assert await current_revision(url) is None
    await upgrade(url)
    assert await current_revision(url) == head_revision()
    await upgrade(url)  # a second run is a no-op, not an error
    assert await schema_diff(url) == []


async def test_migrated_database_is_at_head_and_matches_the_models(db_url: str) -> None:
    # db_url is built by the migrations (SQLite file and this run's PostgreSQL database).
    assert await current_revision(db_url) == head_revision()
    assert await schema_diff(db_url) == []


async def test_run_refuses_a_postgres_database_it_cannot_reach_or_that_is_not_migrated(
    postgres_url: str,
) -> None:
    # The bot migrates SQLite files itself; PostgreSQL is the operator's `db upgrade`, and
    # starting on an unmigrated or unreachable one must say so instead of failing on every
    # update later.
    from bot.app import open_store
    from bot.settings import ConfigError, Settings
    from tests.conftest import PG_SERVER, _admin

    name = f"repairbot_empty_{secrets.token_hex(4)}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        empty = Settings(database={"url": f"{PG_SERVER}/{name}"})
        with pytest.raises(ConfigError, match=r"schema revision none.*repairbot db upgrade"):
            await open_store(empty)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    nowhere = Settings(database={"url": "postgresql+asyncpg://ops:hunter2@127.0.0.1:1/tickets"})
    with pytest.raises(ConfigError, match="cannot reach the database") as refused:
        await open_store(nowhere)
    assert "hunter2" not in str(refused.value) and "***" in str(refused.value)
    migrated = await open_store(Settings(database={"url": postgres_url}))
    await migrated.dispose()
