"""`repairbot db ...`: the database's schema."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli.common import EXIT_FAIL, EXIT_OK, Commands, group, safe_url
from bot.settings import Settings
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


def register(commands: Commands, config: argparse.ArgumentParser) -> None:
    """`db upgrade | current`."""
    db = group(commands, "db", config, "database schema")
    db.add_parser("upgrade", parents=[config], help="apply migrations").set_defaults(
        func=cmd_db_upgrade
    )
    db.add_parser("current", parents=[config], help="show the schema revision").set_defaults(
        func=cmd_db_current
    )
