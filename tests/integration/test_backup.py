"""`repairbot db backup | restore | check`, run as the operator runs them (real processes),
on a SQLite file and on PostgreSQL: a backup taken while tickets are being filed restores
every ticket committed before it started, a restore never overwrites data unasked, and a
damaged SQLite file is reported in one line."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import stat
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from store.db import create_engine, is_sqlite
from store.migrate import downgrade
from store.models import Ticket
from store.uow import Store
from tests.support.databases import throwaway_database
from tests.support.processes import start_repairbot
from tests.support.world import file_ticket, make_env

CLI_TIMEOUT = 120.0


def require_pg_tools(url: str) -> None:
    """PostgreSQL backups need pg_dump and pg_restore: skip with the reason without them,
    or fail under REPAIRBOT_REQUIRE_POSTGRES=1, as the other PostgreSQL tests do."""
    if is_sqlite(url):
        return
    missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
    if missing:
        reason = (
            f"{' and '.join(missing)} not on PATH: install the PostgreSQL client tools "
            "(e.g. apt-get install postgresql-client)"
        )
        if os.environ.get("REPAIRBOT_REQUIRE_POSTGRES", "") not in ("", "0"):
            pytest.fail(reason)
        pytest.skip(reason)


async def repairbot(
    url: str, *argv: str, cwd: Path, extra_env: dict[str, str] | None = None
) -> tuple[int, str]:
    """`repairbot ARGV` as a process on the database at `url`: exit code and output."""
    env = {"REPAIRBOT_DATABASE__URL": url, **(extra_env or {})}
    process = await start_repairbot(cwd, env, *argv)
    output, _ = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT)
    assert process.returncode is not None
    return process.returncode, output.decode("utf-8", "replace")


@asynccontextmanager
async def fresh_database(like: str, tmp_path: Path, name: str) -> AsyncIterator[str]:
    """A new, empty database of the same kind as `like` (no schema at all)."""
    if is_sqlite(like):
        yield f"sqlite+aiosqlite:///{tmp_path / name}.db"
        return
    async with throwaway_database(prefix="repairbot_restore") as url:
        yield url


async def ticket_numbers(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with Store(engine).uow() as uow:
            return set((await uow.session.execute(select(Ticket.number))).scalars())
    finally:
        await engine.dispose()


async def test_a_backup_taken_while_tickets_are_filed_restores_every_ticket_filed_before_it(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    require_pg_tools(db_url)
    env = await make_env(store)
    filed: list[str] = []
    stop, five_filed = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        while not stop.is_set():
            result = await file_ticket(env.store, env.world, description=f"Leak {len(filed)}")
            filed.append(result.ticket.number)  # committed: `report` returned
            if len(filed) >= 5:
                five_filed.set()
            await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    try:
        await asyncio.wait_for(five_filed.wait(), 60)
        committed_before = set(filed)
        code, output = await repairbot(db_url, "db", "backup", "tickets.backup", cwd=tmp_path)
        filed_during = len(filed) - len(committed_before)
    finally:
        stop.set()
        await task
    assert code == 0, output
    size = (tmp_path / "tickets.backup").stat().st_size
    assert "backed up to" in output and str(tmp_path / "tickets.backup") in output
    assert size > 0
    # The writer went on filing while the backup ran: the backup did not stop the bot.
    assert filed_during > 0

    async with fresh_database(db_url, tmp_path, "restored") as target:
        code, output = await repairbot(target, "db", "restore", "tickets.backup", cwd=tmp_path)
        assert code == 0, output
        assert "ready to run" in output
        restored = await ticket_numbers(target)
        assert committed_before <= restored <= set(filed)
        code, output = await repairbot(target, "db", "check", cwd=tmp_path)
        assert code == 0, output
        assert "PROBLEM" not in output and "schema vs models: the tables match" in output


async def test_restore_refuses_a_database_that_holds_rows_unless_forced(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    require_pg_tools(db_url)
    env = await make_env(store)
    kept = (await file_ticket(env.store, env.world)).ticket.number
    code, output = await repairbot(db_url, "db", "backup", "before.backup", cwd=tmp_path)
    assert code == 0, output
    later = (await file_ticket(env.store, env.world)).ticket.number
    await store.engine.dispose()  # the restore replaces tables under a pooled connection

    code, output = await repairbot(db_url, "db", "restore", "before.backup", cwd=tmp_path)
    assert code == 1
    assert output.strip().count("\n") == 0, output  # one line
    assert "not empty" in output and "--force" in output
    assert await ticket_numbers(db_url) == {kept, later}  # nothing touched

    code, output = await repairbot(
        db_url, "db", "restore", "before.backup", "--force", cwd=tmp_path
    )
    assert code == 0, output
    assert await ticket_numbers(db_url) == {kept}  # as it was at the backup


def damage(path: Path) -> None:
    """Garbage over the first page of the ticket table of the SQLite file at `path`."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=DELETE")  # every page in the file itself
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'ticket'").fetchone()
    with path.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes(range(256)) * (page_size // 256))


async def test_check_reports_a_damaged_sqlite_file_in_one_line(
    sqlite_url: str, tmp_path: Path
) -> None:
    store = Store(create_engine(sqlite_url))
    try:
        env = await make_env(store)
        for _ in range(20):
            await file_ticket(env.store, env.world)
    finally:
        await store.dispose()
    code, output = await repairbot(sqlite_url, "db", "check", cwd=tmp_path)
    assert code == 0, output
    damage(Path(sqlite_url.removeprefix("sqlite+aiosqlite:///")))

    code, output = await repairbot(sqlite_url, "db", "check", cwd=tmp_path)
    assert code == 1
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("PROBLEM") and "integrity_check" in lines[0]
    assert "Traceback" not in output


async def test_restoring_an_older_backup_says_to_run_db_upgrade(
    sqlite_url: str, tmp_path: Path
) -> None:
    await downgrade(sqlite_url, "0006")
    code, output = await repairbot(sqlite_url, "db", "backup", "old.backup", cwd=tmp_path)
    assert code == 0, output
    target = f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"
    code, output = await repairbot(target, "db", "restore", "old.backup", cwd=tmp_path)
    assert code == 1
    assert "0006, older than" in output and "run `repairbot db upgrade`" in output
    code, output = await repairbot(target, "db", "check", cwd=tmp_path)
    assert code == 1 and "PROBLEM schema revision: 0006" in output
    assert (await repairbot(target, "db", "upgrade", cwd=tmp_path))[0] == 0
    code, output = await repairbot(target, "db", "check", cwd=tmp_path)
    assert code == 0, output


async def test_a_postgres_backup_passes_the_password_in_the_environment_never_on_argv(
    tmp_path: Path,
) -> None:
    # A stand-in pg_dump records what it was given; `ps` shows every user a process's
    # argv, so the password must travel in PGPASSWORD.
    tools = tmp_path / "bin"
    tools.mkdir()
    fake = tools / "pg_dump"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        "print(repr(sys.argv), os.environ.get('PGPASSWORD'), os.environ.get('PGHOST'),\n"
        "      os.environ.get('PGPORT'), os.environ.get('PGUSER'), os.environ.get('PGDATABASE'),\n"
        "      file=open(os.environ['RECORD'], 'w'))\n"
        "out = [a for a in sys.argv if a.startswith('--file=')][0].removeprefix('--file=')\n"
        "open(out, 'wb').write(b'PGDMP fake')\n",
        encoding="utf-8",
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    url = "postgresql+asyncpg://ops:hunter2@db.example:5433/tickets"
    record = tmp_path / "record.txt"
    code, output = await repairbot(
        url,
        "db",
        "backup",
        "tickets.backup",
        cwd=tmp_path,
        extra_env={"PATH": f"{tools}:{os.environ['PATH']}", "RECORD": str(record)},
    )
    assert code == 0, output
    argv, password, host, port, user, database = record.read_text().rsplit(" ", 5)
    assert "hunter2" not in argv and "--format=custom" in argv
    assert (password, host, port, user, database.strip()) == (
        "hunter2",
        "db.example",
        "5433",
        "ops",
        "tickets",
    )
    assert "hunter2" not in output and "***" in output


async def test_a_postgres_backup_without_pg_dump_says_how_to_get_it(tmp_path: Path) -> None:
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    url = "postgresql+asyncpg://ops:hunter2@127.0.0.1:1/tickets"
    code, output = await repairbot(
        url, "db", "backup", "x.backup", cwd=tmp_path, extra_env={"PATH": str(empty_path)}
    )
    assert code == 1
    assert output.strip().count("\n") == 0, output
    assert "pg_dump was not found" in output and "PostgreSQL client tools" in output
    assert "hunter2" not in output
    assert not (tmp_path / "x.backup").exists()


async def test_check_on_postgres_names_an_unmigrated_database(
    postgres_url: str, tmp_path: Path
) -> None:
    async with throwaway_database(prefix="repairbot_unmigrated") as url:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE stray (id integer)"))
        await engine.dispose()
        code, output = await repairbot(url, "db", "check", cwd=tmp_path)
    assert code == 1
    assert output.strip() == "PROBLEM schema revision: none: run `repairbot db upgrade`"


async def test_a_postgres_backup_that_cannot_connect_fails_in_one_line(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://ops:hunter2@127.0.0.1:1/tickets"
    require_pg_tools(url)
    code, output = await repairbot(url, "db", "backup", "x.backup", cwd=tmp_path)
    assert code == 1
    assert output.strip().count("\n") == 0, output
    assert output.startswith("backup: pg_dump failed:") and "127.0.0.1" in output
    assert "hunter2" not in output
    assert os.listdir(tmp_path) == []  # no half-written backup left behind
