"""`repairbot run` (the bot) and `repairbot demo` (a day of the office, offline)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import importlib

from bot import logs
from bot.cli.common import (
    EXIT_CONFIG,
    EXIT_OK,
    CliError,
    Commands,
    port_number,
    safe_api_url,
)
from bot.settings import ConfigError, Settings


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Start the bot."""
    try:
        settings.require_token()
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None
    try:
        # Lazy: the transport is heavy and no other command needs it.
        app = importlib.import_module("bot.app")
    except ImportError as exc:
        raise CliError(f"the bot application is not available: {exc}") from None
    from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError

    try:
        result = app.run(settings)
    except ConfigError as exc:  # e.g. webhook mode without a webhook URL
        raise CliError(str(exc), EXIT_CONFIG) from None
    # One line with what to do, never the traceback: Telegram's own message quotes the token.
    except InvalidToken:
        raise CliError(
            "Telegram refused the bot token: check telegram.token (REPAIRBOT_TELEGRAM__TOKEN) "
            "against the one @BotFather gave you, and telegram.api_url.",
            EXIT_CONFIG,
        ) from None
    except BadRequest as exc:
        # Telegram answered (BadRequest is a NetworkError to PTB): quote it, never "cannot
        # reach". A refused webhook names the setting to fix.
        said = logs.redact(exc.message)
        hint = (
            " Check telegram.webhook_url (REPAIRBOT_TELEGRAM__WEBHOOK_URL): Telegram posts "
            "only to a public https:// address."
            if "webhook" in said.lower()
            else ""
        )
        raise CliError(f"Telegram refused to start the bot: {said}.{hint}", EXIT_CONFIG) from None
    except NetworkError as exc:
        raise CliError(
            f"cannot reach Telegram at {safe_api_url(settings)} ({type(exc).__name__}: "
            f"{logs.redact(exc.message)}). Check telegram.api_url "
            "(REPAIRBOT_TELEGRAM__API_URL) and the network.",
            EXIT_CONFIG,
        ) from None
    except TelegramError as exc:
        raise CliError(
            f"Telegram refused to start the bot: {logs.redact(exc.message)}", EXIT_CONFIG
        ) from None
    return result if isinstance(result, int) else EXIT_OK


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Run the bot offline against the sandbox stand-in and play a day of the office."""
    demo = importlib.import_module("bot.demo")
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the demo is stopped
            asyncio.run(demo.run_demo(settings, port=args.port, once=args.once))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise CliError(
            f"port {args.port} is already in use (demo --port): choose another, or "
            "--port 0 for any free one.",
            EXIT_CONFIG,
        ) from None
    except (TimeoutError, demo.DemoStepFailed) as exc:
        # The transcript so far is printed; say which step did not happen.
        raise CliError(f"demo failed: a step did not happen ({exc or 'timed out'})", 1) from None
    return EXIT_OK


def register(commands: Commands, config: argparse.ArgumentParser) -> None:
    """`run` and `demo`."""
    commands.add_parser("run", parents=[config], help="start the bot").set_defaults(func=cmd_run)
    demo = commands.add_parser(
        "demo", parents=[config], help="run the bot offline against the sandbox, no token"
    )
    demo.add_argument("--port", type=port_number, default=8081, help="stand-in port (0: any free)")
    demo.add_argument(
        "--once",
        action="store_true",
        help=(
            "exit after the scripted day (exit 0 only if every step happened); prints no "
            "address, since the browser chat and the board close with it"
        ),
    )
    demo.set_defaults(func=cmd_demo)
