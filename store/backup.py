"""Backups, restores and checks of the database, for the operator's `repairbot db ...`.

SQLite: through SQLite's online backup API (`sqlite3.Connection.backup`), which copies a
consistent snapshot while the bot goes on writing (WAL mode: the copy reads one snapshot
and blocks no writer); the copy is one self-contained file (rollback journal, no -wal).
PostgreSQL: `pg_dump --format=custom` and `pg_restore`, the server's own tools, found on
PATH; the connection goes to them in PG* environment variables, so the password never
appears on a command line (`ps` shows those to every user of the machine).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url

from store.db import create_engine, is_sqlite
from store.migrate import current_revision, head_revision, make_config, schema_diff

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_ARCHIVE_MAGIC = b"PGDMP"
BUSY_TIMEOUT_S = 15.0
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
KINDS = {
    "sqlite": "a SQLite database file",
    "postgres": "a pg_dump archive (PostgreSQL)",
    "unknown": "neither a SQLite database file nor a pg_dump --format=custom archive",
}
PG_TOOLS_HOWTO = (
    "install the PostgreSQL client tools matching the server's major version "
    "(Debian/Ubuntu: apt-get install postgresql-client-16 for a version 16 server; "
    "pg_dump must not be older than the server) and make sure {tool} is on PATH"
)


class BackupError(Exception):
    """A backup, restore or check that cannot go on; the message is one line for the
    operator, with no password in it."""


@dataclass(frozen=True)
class Finding:
    """One item of `db check`: what was checked and, if it is wrong, what is wrong."""

    item: str
    detail: str
    ok: bool


def sqlite_path(url: str) -> Path:
    """The file a SQLite URL names (an in-memory database cannot be backed up)."""
    database = make_url(url).database
    if database in (None, "", ":memory:"):
        raise BackupError("database.url is an in-memory SQLite database: nothing to back up")
    return Path(database)


# --- PostgreSQL through its own tools -----------------------------------------------------


def pg_environment(url: str) -> dict[str, str]:
    """This environment plus the PG* variables that point libpq's tools at `url`."""
    parsed = make_url(url)
    env = dict(os.environ)
    for key in ("PGSERVICE", "PGSERVICEFILE", "PGOPTIONS"):
        env.pop(key, None)
    values = {
        "PGHOST": parsed.host or str(parsed.query.get("host") or ""),
        "PGPORT": str(parsed.port or ""),
        "PGUSER": parsed.username or "",
        "PGPASSWORD": parsed.password if isinstance(parsed.password, str) else "",
        "PGDATABASE": parsed.database or "",
    }
    ssl = parsed.query.get("sslmode") or parsed.query.get("ssl")
    if isinstance(ssl, str) and ssl in SSL_MODES:
        values["PGSSLMODE"] = ssl
    env.update({k: v for k, v in values.items() if v})
    return env


def pg_tool(name: str) -> str:
    """The path of `pg_dump` / `pg_restore`, or one line saying how to get it."""
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} was not found; {PG_TOOLS_HOWTO.format(tool=name)}.")
    return found


async def _run_tool(url: str, argv: list[str]) -> None:
    """Run a PostgreSQL client tool against `url`; its first error line if it fails."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        env=pg_environment(url),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
        first = next((line for line in lines if line), f"exit status {process.returncode}")
        tool = Path(argv[0]).name
        hint = ""
        if "version mismatch" in first or "unsupported version" in first:
            hint = f"; {PG_TOOLS_HOWTO.format(tool=tool)}"
        raise BackupError(f"{tool} failed: {first}{hint}")


# --- backup -------------------------------------------------------------------------------


def _sqlite_backup(source: Path, target: Path) -> None:
    with (
        closing(sqlite3.connect(source, timeout=BUSY_TIMEOUT_S)) as src,
        closing(sqlite3.connect(target)) as dst,
    ):
        # pages=-1: the whole database in one step, so in one read snapshot.
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it


def _backup_paths(url: str, destination: Path) -> tuple[Path | None, Path, Path]:
    """The SQLite file to copy (None for PostgreSQL), the backup's path and the temporary
    name it is written under."""
    destination = destination.resolve()
    if destination.is_dir():
        raise BackupError(f"{destination} is a folder; name the backup file")
    if not destination.parent.is_dir():
        raise BackupError(f"{destination.parent} does not exist; create the folder first")
    source = None
    if is_sqlite(url):
        source = sqlite_path(url)
        if not source.is_file():
            raise BackupError(f"no SQLite database at {source}")
        if source.resolve() == destination:
            raise BackupError("the backup file is the database itself; name another file")
    partial = destination.with_name(f".{destination.name}.partial")
    partial.unlink(missing_ok=True)
    return source, destination, partial


def _finish(partial: Path, destination: Path) -> int:
    partial.replace(destination)
    return destination.stat().st_size


async def backup(url: str, destination: Path) -> int:
    """Write a consistent backup of the database at `url` to `destination` while the bot
    may be writing; returns its size in bytes. Written to a temporary name beside it and
    renamed at the end, so a failed backup never leaves a file that looks whole."""
    source, destination, partial = _backup_paths(url, destination)
    try:
        if source is not None:
            await asyncio.to_thread(_sqlite_backup, source, partial)
        else:
            dump = [pg_tool("pg_dump"), "--format=custom", "--no-password", f"--file={partial}"]
            await _run_tool(url, dump)
        return _finish(partial, destination)
    finally:
        partial.unlink(missing_ok=True)


# --- restore ------------------------------------------------------------------------------


async def tables_with_rows(url: str) -> list[str]:
    """The tables of the database at `url` that hold a row (Alembic's own aside); a
    database with none is empty, and a restore may go into it without --force."""
    if is_sqlite(url):
        path = sqlite_path(url)
        if not path.is_file() or path.stat().st_size == 0:
            return []

    def names(connection: Connection) -> list[str]:
        return [t for t in inspect(connection).get_table_names() if t != "alembic_version"]

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            filled = []
            for table in await connection.run_sync(names):
                quoted = connection.dialect.identifier_preparer.quote(table)
                row = await connection.execute(text(f"SELECT 1 FROM {quoted} LIMIT 1"))  # noqa: S608
                if row.first() is not None:
                    filled.append(table)
            return filled
    finally:
        await engine.dispose()


async def _has_tables(url: str) -> bool:
    def names(connection: Connection) -> list[str]:
        return list(inspect(connection).get_table_names())

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return bool(await connection.run_sync(names))
    finally:
        await engine.dispose()


def _kind_of(source: Path) -> str:
    with source.open("rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_ARCHIVE_MAGIC):
        return "postgres"
    return "unknown"


def _sqlite_restore(source: Path, target: Path) -> None:
    with (
        closing(sqlite3.connect(source, timeout=BUSY_TIMEOUT_S)) as src,
        closing(sqlite3.connect(target, timeout=BUSY_TIMEOUT_S)) as dst,
    ):
        src.backup(dst)


def _restore_source(url: str, source: Path) -> str:
    """What kind of backup `source` is, refused unless it fits the database at `url`."""
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    kind, wanted = _kind_of(source), "sqlite" if is_sqlite(url) else "postgres"
    if kind != wanted:
        engine = "SQLite" if wanted == "sqlite" else "PostgreSQL"
        raise BackupError(f"{source} is {KINDS[kind]}, but database.url is {engine}")
    if kind == "sqlite":
        target = sqlite_path(url)
        if target.resolve() == source.resolve():
            raise BackupError("the backup file is the database itself")
        target.parent.mkdir(parents=True, exist_ok=True)
    return kind


async def restore(url: str, source: Path, *, force: bool = False) -> None:
    """Restore the backup `source` into the database at `url`, which must be empty unless
    `force` (then what it holds is replaced). Stop every instance of the bot first."""
    kind = _restore_source(url, source)
    filled = await tables_with_rows(url)
    if filled and not force:
        raise BackupError(
            f"the database is not empty ({len(filled)} tables hold rows, e.g. {filled[0]}); "
            "restore into an empty database, or add --force to replace what it holds"
        )
    if kind == "sqlite":
        await asyncio.to_thread(_sqlite_restore, source, sqlite_path(url))
        return
    pg_restore = pg_tool("pg_restore")
    argv = [pg_restore, "--no-password", "--no-owner", "--no-acl", "--single-transaction"]
    if force or await _has_tables(url):
        # An emptied-but-migrated database holds the tables the archive creates: drop them
        # first (they hold nothing, or --force said their rows may go).
        argv += ["--clean", "--if-exists"]
    argv += ["--dbname", make_url(url).database or "", str(source)]
    await _run_tool(url, argv)


# --- what the schema is at ----------------------------------------------------------------


def revision_finding(current: str | None) -> Finding:
    """Whether a database at `current` fits this code's migrations, and what to do if not."""
    head = head_revision()
    if current == head:
        return Finding("schema revision", f"{current}, the newest this version knows", True)
    if current is None:
        return Finding("schema revision", "none: run `repairbot db upgrade`", False)
    from alembic.script import ScriptDirectory  # heavy: only the checks need it

    scripts = ScriptDirectory.from_config(make_config(""))
    known = current in {rev.revision for rev in scripts.walk_revisions()}
    if known:
        return Finding(
            "schema revision",
            f"{current}, older than this version's {head}: run `repairbot db upgrade`",
            False,
        )
    return Finding(
        "schema revision",
        f"{current}, which this version does not know (written by a newer repairbot?): "
        "run the newer repairbot, do not downgrade the database",
        False,
    )


async def schema_revision(url: str) -> Finding:
    """The revision finding of the database at `url`."""
    return revision_finding(await current_revision(url))


# --- check --------------------------------------------------------------------------------


def _sqlite_integrity(path: Path) -> list[Finding]:
    try:
        with closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)) as db:
            rows = [r[0] for r in db.execute("PRAGMA integrity_check(20)")]
            if rows != ["ok"]:
                more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
                return [Finding("integrity_check", f"{rows[0]}{more}", False)]
            orphans = list(db.execute("PRAGMA foreign_key_check"))
    except sqlite3.DatabaseError as exc:
        return [Finding("integrity_check", f"the file is damaged: {exc}", False)]
    findings = [Finding("integrity_check", "ok", True)]
    if orphans:
        table, rowid, parent, _ = orphans[0]
        findings.append(
            Finding(
                "foreign_key_check",
                f"{len(orphans)} rows point at missing rows (first: {table} row {rowid} "
                f"-> {parent})",
                False,
            )
        )
    else:
        findings.append(Finding("foreign_key_check", "ok", True))
    return findings


async def check(url: str) -> list[Finding]:
    """What `db check` reports: on SQLite the file's integrity and foreign keys, then on
    both the schema revision against this code's and the schema against the models. A
    damaged SQLite file ends the check there (the rest would read damaged pages)."""
    findings: list[Finding] = []
    if is_sqlite(url):
        path = sqlite_path(url)
        if not path.is_file():
            return [Finding("database", f"no SQLite database at {path}", False)]
        findings += await asyncio.to_thread(_sqlite_integrity, path)
        if not findings[0].ok:
            return findings
    revision = await schema_revision(url)
    findings.append(revision)
    if not revision.ok:
        return findings  # the models describe the head's schema, not this one
    diff = await schema_diff(url)
    if diff:
        findings.append(
            Finding(
                "schema vs models",
                f"{len(diff)} differences, first: {diff[0]!r}"[:300],
                False,
            )
        )
    else:
        findings.append(Finding("schema vs models", "the tables match the models", True))
    return findings
