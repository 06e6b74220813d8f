"""A start on a database already at the code's schema: one query, no Alembic (issue 28)."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.migrate import (
    current_revision,
    downgrade,
    head_revision,
    packaged_head,
    stored_revision,
    upgrade_if_behind,
)
from tests.support.databases import throwaway_database


def test_the_head_read_from_the_scripts_text_is_alembics() -> None:
    assert packaged_head() is not None
    assert packaged_head() == head_revision()


async def test_a_fresh_file_is_migrated_and_a_current_one_left_alone(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    assert await stored_revision(url) is None
    assert await upgrade_if_behind(url) is True
    assert await stored_revision(url) == await current_revision(url) == head_revision()
    assert await upgrade_if_behind(url) is False  # nothing to do: Alembic not run


async def test_a_file_behind_is_brought_to_head(sqlite_url: str) -> None:
    assert await stored_revision(sqlite_url) == head_revision()
    await downgrade(sqlite_url, "-1")
    assert await stored_revision(sqlite_url) != head_revision()
    assert await upgrade_if_behind(sqlite_url) is True
    assert await stored_revision(sqlite_url) == head_revision()


@pytest.mark.postgres
async def test_postgres_unmigrated_then_at_head(postgres_url: str) -> None:
    async with throwaway_database(prefix="repairbot_start") as url:
        assert await stored_revision(url) is None  # no alembic_version table yet
        assert await upgrade_if_behind(url) is True
        assert await stored_revision(url) == head_revision()
        assert await upgrade_if_behind(url) is False
