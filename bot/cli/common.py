"""What every `repairbot` subcommand shares: the error that becomes one line and an exit
code, argument types, and opening the store for one piece of work."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

from sqlalchemy.engine import make_url

from bot import logs
from bot.settings import Settings
from store import roles
from store.db import is_sqlite
from store.directory import places
from store.migrate import upgrade
from store.uow import Store

T = TypeVar("T")
EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2
# Telegram ids fit in 52 bits (the Bot API promises "at most 52 significant bits").
TELEGRAM_ID_LIMIT = 2**53
STAFF_ROLES = sorted(str(r) for r in roles.STAFF)
CONFIG_HELP = "settings file (default: ./config.toml if it exists)"
BUILDING_HELP = "a building's name, or the code its room codes start with (ED1 for ED1-101)"


class CliError(Exception):
    """A failure the operator can fix; the message is printed as is."""

    def __init__(self, message: str, exit_code: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def err(message: str) -> None:
    """One line for the operator, on stderr."""
    print(message, file=sys.stderr)


def safe_url(url: str) -> str:
    """A database URL fit to print: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def safe_api_url(settings: Settings) -> str:
    """The Bot API URL fit to print: the token redacted."""
    return logs.redact(settings.telegram.api_url) or "(empty)"


def telegram_id(value: str) -> int:
    """A Telegram user id as the Bot API has them: 1 ≤ id < 2**53."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 1 <= number < TELEGRAM_ID_LIMIT:
        raise argparse.ArgumentTypeError(
            f"{value} is not a Telegram user id (a whole number from 1 to {TELEGRAM_ID_LIMIT - 1})"
        )
    return number


async def with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the database (migrating SQLite first, as `run` does), run `work`, close it."""
    url = settings.database.url
    if is_sqlite(url):
        await upgrade(url)
    store = settings.store()
    try:
        return await work(store)
    finally:
        await store.dispose()


def link(settings: Settings, payload: str) -> str:
    """The bot's `https://t.me/<bot>?start=PAYLOAD` deep link."""
    username = settings.telegram.bot_username.strip().lstrip("@")
    if not username:
        raise CliError(
            "telegram.bot_username is not set; set it under [telegram] bot_username in "
            "config.toml or as REPAIRBOT_TELEGRAM__BOT_USERNAME.",
            EXIT_CONFIG,
        )
    return f"https://t.me/{username}?start={payload}"


async def building_ids(store: Store, names: list[str], campus: str | None) -> list[int]:
    """The ids of the buildings named (name or room-code prefix) on `--building`."""
    return [(await places.building_by_name(store.uow(), n, campus)).id for n in names]


async def campus_id(store: Store, campus: str | None) -> int | None:
    """The id of the campus named on `--campus`, if any."""
    return None if campus is None else (await places.campus_by_name(store.uow(), campus)).id


# What `add_subparsers()` returns; argparse gives the type no public name (and it is
# generic only to type checkers, hence the string).
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def group(
    commands: Commands, name: str, config: argparse.ArgumentParser, help_text: str
) -> Commands:
    """A command group (`repairbot NAME ...`) whose subcommands the caller adds."""
    parser = commands.add_parser(name, parents=[config], help=help_text)
    return parser.add_subparsers(dest=name, required=True)
