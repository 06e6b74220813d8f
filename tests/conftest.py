"""Shared fixtures: `store` runs each test on a SQLite file and on a throw-away PostgreSQL.

Both schemas are built by the Alembic migrations, so every test also exercises them.
PostgreSQL: one database per run (`repairbot_test_<random>`), emptied before each test.
When it is unreachable the postgres params are skipped, unless REPAIRBOT_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from store.db import create_engine
from store.migrate import schema_diff, upgrade
from store.uow import Store
from tests.support.databases import PG_SERVER, admin, empty

pytest_plugins = ["sandbox.testing"] if importlib.util.find_spec("sandbox.testing") else []

PG_HOWTO = (
    f"PostgreSQL is not reachable at {PG_SERVER} (user postgres, trust auth). Start it, "
    "e.g. `sudo service postgresql start` or `docker run -d -p 5432:5432 "
    "-e POSTGRES_HOST_AUTH_METHOD=trust postgres:16`; set REPAIRBOT_REQUIRE_POSTGRES=1 "
    "to make this a failure instead of a skip."
)


@pytest.fixture(autouse=True)
def _board_on_any_free_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """`repairbot run` started by a test serves the office board on a free port, not on
    8090, which may be taken on the machine running the tests."""
    monkeypatch.setenv("REPAIRBOT_BOARD__PORT", "0")


@pytest.fixture(autouse=True)
def _ops_on_any_free_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """Likewise the ops listener (default 9090): several bots may run at once."""
    monkeypatch.setenv("REPAIRBOT_OPS__PORT", "0")


def _migrate_and_check(url: str) -> None:
    """Migrate `url`; stop the run at once if the migration lags behind store/models.py."""
    asyncio.run(upgrade(url))
    diff = asyncio.run(schema_diff(url))
    if diff:
        pytest.exit(
            "store/models.py differs from the migrations; add a revision with "
            f"scripts/new_migration.sh. First differences: {diff[:3]}",
            returncode=1,
        )


def _require_postgres() -> bool:
    return os.environ.get("REPAIRBOT_REQUIRE_POSTGRES", "") not in ("", "0")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of this run's migrated PostgreSQL database (skips or fails when unreachable)."""
    name = f"repairbot_test_{secrets.token_hex(4)}"
    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, ConnectionError) as exc:
        if _require_postgres():
            pytest.fail(f"{PG_HOWTO} ({exc})")
        pytest.skip(f"{PG_HOWTO} ({exc})")
    url = f"{PG_SERVER}/{name}"
    try:
        _migrate_and_check(url)
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (cheaper than migrating per test)."""
    path = tmp_path_factory.mktemp("schema") / "template.db"
    _migrate_and_check(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """URL of a fresh, migrated SQLite file for this test."""
    path = tmp_path / "repairbot.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """URL of an empty, migrated database: a SQLite file, then this run's PostgreSQL."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
        return url
    url = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    """A Store on an empty, migrated database (parametrised: sqlite, postgres).

    SQLite with synchronous=NORMAL: a throw-away file needs no power-loss durability, and
    a disk sync per commit (2-3 ms here) would slow every test; the default (FULL) is
    checked in test_sqlite_driver.py and used by every `repairbot` process a test starts."""
    s = Store(create_engine(db_url, synchronous="normal"))
    try:
        if not db_url.startswith("sqlite"):
            # Empty before, not after: a crashed test must not poison the next one. On the
            # Store's own engine, so the test reuses this connection instead of opening one.
            await empty(s.engine)
        yield s
    finally:
        await s.dispose()
