"""The `repairbot` command: run the bot and the operator's chores (db, locations, staff, QR).

One module per command group (`run.py`, `db.py`, `staff.py`, `places.py`, `privacy.py`),
each with a `register(commands, config)` that adds its subcommands; `common.py` holds what
they share.
Every mistake an operator can make ends as one line on stderr and an exit code, never a
traceback (`main` below)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot import logs
from bot.cli import db, places, privacy, run, staff
from bot.cli.common import CONFIG_HELP, EXIT_CONFIG, EXIT_FAIL, CliError, err
from bot.cli.places import sheet_name
from bot.settings import ConfigError, Settings, load_settings
from store.errors import DomainError

__all__ = ["build_parser", "main", "sheet_name"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="repairbot", description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", help=CONFIG_HELP)
    # `-c` after the command too (`repairbot run -c config.toml`), as most tools allow;
    # SUPPRESS keeps a subcommand from resetting a `-c` given before it.
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("-c", "--config", default=argparse.SUPPRESS, help=CONFIG_HELP)
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (run, db, places, staff, privacy):
        module.register(commands, config)
    return parser


def _load(config: str | None) -> Settings:
    if config is None and Path("config.toml").is_file():
        config = "config.toml"
    settings = load_settings(config)
    # From here on no output may show a secret: not a log line, not a crash's traceback.
    logs.protect(*settings.secrets())
    try:
        make_url(settings.database.url).port  # noqa: B018 - parses the port too
    except (ArgumentError, ValueError):
        raise ConfigError(
            "database.url is not a database URL (dialect+driver://user:password@host:port/"
            "name, e.g. postgresql+asyncpg://bot:secret@127.0.0.1:5432/repairbot)."
        ) from None
    return settings


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `repairbot` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = _load(args.config)
        code: int = args.func(args, settings)
        return code
    except ConfigError as exc:
        err(f"config: {exc}")
        return EXIT_CONFIG
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        err(f"config: {problems}")
        return EXIT_CONFIG
    except CliError as exc:
        err(str(exc))
        return exc.exit_code
    except DomainError as exc:
        err(str(exc))
        return EXIT_FAIL
    except (SQLAlchemyError, OSError) as exc:
        first = (str(exc).splitlines() or [""])[0]
        err(
            logs.redact(
                f"database error: {type(exc).__name__}: {first}. Check database.url "
                "(REPAIRBOT_DATABASE__URL), that the server is running, and run "
                "`repairbot db upgrade` after an update."
            )
        )
        return EXIT_CONFIG
