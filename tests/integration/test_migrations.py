"""The packaged Alembic migrations: they build the schema the models describe, anywhere."""

from __future__ import annotations

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
