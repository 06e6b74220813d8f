"""What every `repairbot` subcommand shares: the error that becomes one line and an exit
code, argument types, and opening the store for one piece of work."""

from __future__ import annotations

import argparse
import errno
import math
import re
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import NoReturn, TypeAlias, TypeVar

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from bot import logs
from bot.settings import ENV_NESTED, ENV_PREFIX, Listener, Settings
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


def printable(text: str) -> str:
    """`text` with control characters (a line or record separator the operator typed or
    a file held) written as escapes, so that a message quoting it stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def err(message: str) -> None:
    """One line for the operator, on stderr."""
    print(printable(message), file=sys.stderr)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose mistakes are one line on stderr (and exit 2), not usage
    plus the error: the operator gets what was wrong and where to look."""

    def error(self, message: str) -> NoReturn:
        """Print `prog: message (see prog --help)` and exit 2."""
        said = printable(f"{self.prog}: {message} (see {self.prog} --help)")
        self.exit(EXIT_CONFIG, said + "\n")


def number_between(low: float, high: float, *, whole: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number from `low` to `high` (a whole one if `whole`)."""

    def parse(value: str) -> float:
        try:
            number = int(value) if whole else float(value)
        except ValueError:
            kind = "a whole number" if whole else "a number"
            raise argparse.ArgumentTypeError(f"{value!r} is not {kind}") from None
        if not (math.isfinite(number) and low <= number <= high):
            raise argparse.ArgumentTypeError(f"{value} is not between {low:g} and {high:g}")
        return number

    return parse


def port_number(value: str) -> int:
    """An argparse type: a TCP port, 0 (any free one) to 65535."""
    return int(number_between(0, 65535, whole=True)(value))


def env_name(setting: str) -> str:
    """The environment variable of a setting: board.port -> REPAIRBOT_BOARD__PORT."""
    return ENV_PREFIX + setting.replace(".", ENV_NESTED).upper()


def bind_error(listener: Listener) -> OSError | None:
    """Why `run` could not listen where `listener` says (None: it could); tried on a
    socket of our own, with SO_REUSEADDR as the servers set it."""
    if listener.port == 0:
        return None
    try:
        infos = socket.getaddrinfo(listener.host, listener.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return exc if isinstance(exc, OSError) else OSError(errno.EINVAL, str(exc))
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc
    return None


def port_in_use(listeners: list[Listener], exc: OSError) -> str:
    """One line for a port `run` could not listen on, naming the setting that holds it
    (from the error's address, else by trying each: some servers do not say which)."""
    bound = re.search(r"\('([^']*)', (\d+)", str(exc))
    port = int(bound[2]) if bound else None
    named = [item for item in listeners if item.port == port]
    if not named:
        named = [item for item in listeners if bind_error(item) is not None] or listeners
        port = named[0].port if len(named) == 1 else None
    settings = ", ".join(f"{i.setting} ({env_name(i.setting)}) = {i.port}" for i in named)
    if exc.errno == errno.EADDRNOTAVAIL:  # the listen address is not this machine's
        host = bound[1] if bound else "?"
        return (
            f"cannot listen on {host}: not an address of this machine. Check the listen "
            f"address beside {settings}."
        )
    where = f"port {port}" if port is not None else "a port"
    return (
        f"{where} is already in use ({settings}): another repairbot or program is "
        "listening there; stop it, or choose a free port for that setting."
    )


def validation_line(exc: ValidationError) -> str:
    """Pydantic's errors as one line: `setting: problem; ...`."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        what = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            what = "unknown setting; see config.example.toml"
        problems.append(f"{where}: {what}")
    return " ".join("; ".join(problems).split())


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


def read_utf8(path: str) -> str:
    """A text file the operator named (a CSV to import), or one line saying why not."""
    try:
        return Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise CliError(f"{path} is not UTF-8 (byte {exc.start}); save it as UTF-8") from None


def refuse_lines(errors: list[tuple[int, str]]) -> CliError:
    """Print each bad line of an import, then the error that says nothing was imported."""
    for line, message in errors:
        err(f"line {line}: {message}")
    return CliError(f"{len(errors)} error(s); nothing imported")
