"""The packaged Alembic migrations: they build the schema the models describe, anywhere."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from store.migrate import (
    MIGRATIONS_DIR,
    current_revision,
    downgrade,
    head_revision,
    schema_diff,
    upgrade,
)
from store.reporting.tally import Tally, TechTally
from store.uow import Store


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
    from tests.support.databases import throwaway_database

    async with throwaway_database(prefix="repairbot_empty") as url:
        empty = Settings(database={"url": url})
        with pytest.raises(ConfigError, match=r"schema revision none.*repairbot db upgrade"):
            await open_store(empty)
    nowhere = Settings(database={"url": "postgresql+asyncpg://ops:hunter2@127.0.0.1:1/tickets"})
    with pytest.raises(ConfigError, match="cannot reach the database") as refused:
        await open_store(nowhere)
    assert "hunter2" not in str(refused.value) and "***" in str(refused.value)
    migrated = await open_store(Settings(database={"url": postgres_url}))
    await migrated.dispose()


async def test_the_json_day_summaries_are_packed_in_place_and_unpacked_on_the_way_back(
    db_url: str, store: Store
) -> None:
    # 0006 converts what the roll-up job already summarized under 0005 instead of making
    # it summarize a million tickets again; its downgrade gives the same JSON back.
    day_one = Tally(
        Counter({"plumbing": 3, "electrical": 1}),
        Counter({"closed": 3, "cancelled": 1}),
        [60_000_000, 7_200_000_000],
        [86_400_000_000, 3_600_000_000, 1],
        [5, 1],
        {7: TechTally([60_000_000], [86_400_000_000], [5], 1, 0, 1), 9: TechTally()},
    )
    quiet = Tally()  # a row made and never grown still converts
    # The JSON 0005 wrote for them (counters, the office's three lists, per technician
    # its three lists and done / reworked / overdue).
    day_one_json: dict[str, object] = {
        "c": {"plumbing": 3, "electrical": 1},
        "s": {"closed": 3, "cancelled": 1},
        "a": [60_000_000, 7_200_000_000],
        "r": [86_400_000_000, 3_600_000_000, 1],
        "g": [5, 1],
        "t": {"7": [[60_000_000], [86_400_000_000], [5], 1, 0, 1], "9": [[], [], [], 0, 0, 0]},
    }
    quiet_json: dict[str, object] = {"c": {}, "s": {}, "a": [], "r": [], "g": [], "t": {}}
    days = [f"2026-0{month}-0{d}" for month in (3, 4) for d in (1, 2, 3)]
    tallies = {day: day_one if int(day[-1]) % 2 else quiet for day in days}
    figures = {day: day_one_json if int(day[-1]) % 2 else quiet_json for day in days}
    engine = store.engine  # the database emptied for this test

    async def run(sql: str, **params: object) -> list[Any]:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql), params)
            return list(result.all()) if result.returns_rows else []

    await downgrade(db_url, "0005")
    try:
        await run("INSERT INTO campus (id, name) VALUES (1, 'North')")
        await run("INSERT INTO building (id, campus_id, name) VALUES (1, 1, 'Hall A')")
        for day, written in figures.items():
            await run(
                "INSERT INTO daysummary (day, building_id, tickets, figures) "
                "VALUES (:day, 1, 4, :figures)",
                day=date.fromisoformat(day),
                figures=json.dumps(written),
            )
    finally:
        await upgrade(db_url)
    try:
        rows = await run("SELECT day, tickets, tally FROM daysummary ORDER BY day")
        assert {str(day): Tally.from_bytes(bytes(packed)) for day, _, packed in rows} == tallies
        assert {tickets for _, tickets, _ in rows} == {4}
        await downgrade(db_url, "0005")
        back = await run("SELECT day, figures FROM daysummary ORDER BY day")
        assert {str(day): json.loads(f) if isinstance(f, str) else f for day, f in back} == figures
    finally:
        await upgrade(db_url)
        await run("DELETE FROM daysummary")
        await run("DELETE FROM building")
        await run("DELETE FROM campus")
    assert await schema_diff(db_url) == []


async def test_people_already_there_count_as_seen_at_the_personal_data_upgrade(
    db_url: str, store: Store
) -> None:
    """0010 backfills `person.seen_at`: retention counts inactivity from the upgrade for
    people whose last message is unknown, never from their first one years ago."""
    engine = store.engine

    async def run(sql: str, **params: object) -> list[Any]:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql), params)
            return list(result.all()) if result.returns_rows else []

    await downgrade(db_url, "0010-1")
    try:
        await run(
            "INSERT INTO person (id, telegram_id, name, skills, on_duty, created_at) "
            "VALUES (1, 4242, 'Old Timer', '[]', false, '2020-01-01 00:00:00')"
        )
        await run(
            "INSERT INTO person (id, telegram_id, name, skills, on_duty, created_at) "
            "VALUES (2, NULL, 'Walk-up', '[]', false, '2020-01-01 00:00:00')"
        )
    finally:
        await upgrade(db_url)
    try:
        rows = await run("SELECT id, seen_at FROM person ORDER BY id")
        assert [(pid, seen is not None) for pid, seen in rows] == [(1, True), (2, False)]
    finally:
        await run("DELETE FROM person")
