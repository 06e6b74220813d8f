"""`repairbot db ...`: the database's schema, backups, restores and checks."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.cli.common import EXIT_FAIL, EXIT_OK, CliError, Commands, group, safe_url
from bot.settings import Settings
from store import backup
from store.migrate import current_revision, head_revision, upgrade


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    """Apply migrations."""
    url = settings.database.url
    asyncio.run(upgrade(url))
    print(f"{safe_url(url)}: at revision {asyncio.run(current_revision(url))}")
    return EXIT_OK


def cmd_db_current(args: argparse.Namespace, settings: Settings) -> int:
    """Show the database's revision and the newest one shipped."""
    current = asyncio.run(current_revision(settings.database.url))
    head = head_revision()
    print(f"current: {current or '(none)'}  head: {head}")
    return EXIT_OK if current == head else EXIT_FAIL


def size_text(size: int) -> str:
    """A file size as people read it: 812 bytes, 1.4 MB."""
    if size < 1000:
        return f"{size} bytes"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    raise AssertionError("unreachable")


def cmd_db_backup(args: argparse.Namespace, settings: Settings) -> int:
    """Write a consistent backup while the bot runs."""
    url = settings.database.url
    try:
        size = asyncio.run(backup.backup(url, Path(args.file)))
    except backup.BackupError as exc:
        raise CliError(f"backup: {exc}") from None
    print(f"{safe_url(url)} backed up to {Path(args.file).resolve()} ({size_text(size)})")
    return EXIT_OK


def cmd_db_restore(args: argparse.Namespace, settings: Settings) -> int:
    """Restore a backup into an empty database (or, with --force, over one), then say
    whether its schema needs `db upgrade`."""
    url = settings.database.url
    try:
        asyncio.run(backup.restore(url, Path(args.file), force=args.force))
        revision = asyncio.run(backup.schema_revision(url))
    except backup.BackupError as exc:
        raise CliError(f"restore: {exc}") from None
    print(f"restored {Path(args.file).resolve()} into {safe_url(url)}")
    if revision.ok:
        print(f"schema revision {revision.detail}: ready to run")
        return EXIT_OK
    print(f"schema revision {revision.detail}")
    return EXIT_FAIL


def cmd_db_check(args: argparse.Namespace, settings: Settings) -> int:
    """Check the database: its file (SQLite), its schema revision and its tables."""
    try:
        findings = asyncio.run(backup.check(settings.database.url))
    except backup.BackupError as exc:
        raise CliError(f"check: {exc}") from None
    for finding in findings:
        print(f"{'ok' if finding.ok else 'PROBLEM':<8}{finding.item}: {finding.detail}")
    return EXIT_OK if all(f.ok for f in findings) else EXIT_FAIL


def register(commands: Commands, config: argparse.ArgumentParser) -> None:
    """`db upgrade | current | backup | restore | check`."""
    db = group(commands, "db", config, "database schema, backups and checks")
    db.add_parser("upgrade", parents=[config], help="apply migrations").set_defaults(
        func=cmd_db_upgrade
    )
    db.add_parser("current", parents=[config], help="show the schema revision").set_defaults(
        func=cmd_db_current
    )
    save = db.add_parser(
        "backup",
        parents=[config],
        help="write a consistent backup while the bot runs (SQLite: online backup; "
        "PostgreSQL: pg_dump --format=custom)",
    )
    save.add_argument("file", metavar="FILE", help="the backup file to write")
    save.set_defaults(func=cmd_db_backup)
    load = db.add_parser(
        "restore",
        parents=[config],
        help="restore a backup into an empty database (stop the bot first), then check "
        "its schema revision",
    )
    load.add_argument("file", metavar="FILE", help="a file written by `repairbot db backup`")
    load.add_argument(
        "--force", action="store_true", help="replace what a non-empty database holds"
    )
    load.set_defaults(func=cmd_db_restore)
    db.add_parser(
        "check",
        parents=[config],
        help="check the database: SQLite integrity and foreign keys, schema revision, "
        "tables vs models; exit 1 on any problem",
    ).set_defaults(func=cmd_db_check)
