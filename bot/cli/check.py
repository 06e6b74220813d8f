"""`repairbot check`: everything `run` needs, checked before a real start.

One line per item: `ok`, or `PROBLEM` with what to do (or `skipped` when an item needs one
that failed). Exit 1 on any problem. No line shows a secret (`bot.logs.redact`)."""

from __future__ import annotations

import argparse
import asyncio
import errno
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot import fonts, logs
from bot.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    Commands,
    bind_error,
    env_name,
    safe_api_url,
    safe_url,
)
from bot.settings import ConfigError, Listener, Settings
from store.db import is_sqlite
from store.directory import places
from store.directory.staff import list_staff
from store.lifecycle import Role
from store.migrate import current_revision, head_revision

OK, PROBLEM, SKIPPED = "ok", "PROBLEM", "skipped"


@dataclass(frozen=True, slots=True)
class Item:
    """One checked thing: its status, its name, and what was found or what to do."""

    status: str
    name: str
    detail: str

    def line(self) -> str:
        """The item as one line, secrets removed."""
        detail = " ".join(self.detail.split())
        return logs.redact(f"{self.status:<8} {self.name:<10} {detail}")


def check_token(settings: Settings) -> list[Item]:
    """The token's shape, then Telegram's (or the stand-in's) getMe."""
    try:
        token = settings.require_token()
    except ConfigError as exc:
        return [Item(PROBLEM, "token", str(exc)), Item(SKIPPED, "getMe", "needs a token")]
    shape = Item(OK, "token", "shaped like a bot token (<bot id>:<secret>)")
    return [shape, asyncio.run(_get_me(settings, token))]


async def _get_me(settings: Settings, token: str) -> Item:
    from telegram import Bot
    from telegram.error import InvalidToken, TelegramError

    tg = settings.telegram
    try:
        async with Bot(token, base_url=tg.api_url, base_file_url=tg.file_url) as bot:
            me = bot.bot
    except InvalidToken:
        return Item(
            PROBLEM,
            "getMe",
            "Telegram refused the token: check telegram.token (REPAIRBOT_TELEGRAM__TOKEN) "
            "against the one @BotFather gave you.",
        )
    except TelegramError as exc:
        return Item(
            PROBLEM,
            "getMe",
            f"no answer from {safe_api_url(settings)} ({type(exc).__name__}: {exc.message}); "
            "check telegram.api_url (REPAIRBOT_TELEGRAM__API_URL) and the network.",
        )
    wanted = tg.bot_username.strip().lstrip("@")
    if wanted and wanted.lower() != (me.username or "").lower():
        return Item(
            PROBLEM,
            "getMe",
            f"the token is @{me.username}'s but telegram.bot_username is {wanted!r}: QR codes "
            "and invite links would open the wrong bot; set bot_username to "
            f"{me.username!r}.",
        )
    if not wanted:
        return Item(
            PROBLEM,
            "getMe",
            f"the token is @{me.username}'s; set telegram.bot_username = {me.username!r} "
            "for QR codes and invite links.",
        )
    return Item(OK, "getMe", f"@{me.username} (id {me.id})")


def check_database(settings: Settings) -> tuple[Item, bool]:
    """Reachable and at the code's schema revision; the bool: may the store be read."""
    url = settings.database.url
    shown = safe_url(url)
    head = head_revision()
    if is_sqlite(url):
        name = make_url(url).database or ""
        if name not in ("", ":memory:") and not Path(name).exists():
            return Item(OK, "database", f"{shown}: not created yet; `run` creates it"), False
    try:
        current = asyncio.run(current_revision(url))
    except (OSError, SQLAlchemyError) as exc:
        return Item(
            PROBLEM,
            "database",
            f"cannot reach {shown} ({type(exc).__name__}); check database.url "
            "(REPAIRBOT_DATABASE__URL) and that the server is running.",
        ), False
    if current == head:
        return Item(OK, "database", f"{shown} at revision {head}"), True
    if is_sqlite(url):
        detail = f"{shown} at revision {current or 'none'}; `run` migrates it to {head}"
        return Item(OK, "database", detail), False
    return Item(
        PROBLEM,
        "database",
        f"{shown} is at revision {current or 'none'}, this version needs {head}: run "
        "`repairbot db upgrade`.",
    ), False


def check_urls(settings: Settings) -> list[Item]:
    """The webhook URL (webhook mode) and the board's public URL (when set): HTTPS."""
    tg, items = settings.telegram, []
    if tg.mode == "webhook":
        if not tg.webhook_url:
            items.append(
                Item(
                    PROBLEM,
                    "webhook",
                    "telegram.mode is webhook but telegram.webhook_url is empty: set the "
                    "public https:// URL (REPAIRBOT_TELEGRAM__WEBHOOK_URL).",
                )
            )
        elif urlsplit(tg.webhook_url).scheme != "https" or not urlsplit(tg.webhook_url).hostname:
            items.append(
                Item(
                    PROBLEM,
                    "webhook",
                    f"telegram.webhook_url {tg.webhook_url!r} is not https://: Telegram posts "
                    "only to HTTPS; put the bot behind a reverse proxy with a certificate.",
                )
            )
        else:
            path = tg.webhook_local_path()
            items.append(
                Item(
                    OK,
                    "webhook",
                    f"{tg.webhook_url}, served on {tg.webhook_listen}:{tg.webhook_port}/{path}",
                )
            )
    else:
        items.append(Item(OK, "webhook", "polling mode: no webhook needed"))
    public = settings.board.public_url
    if not settings.board.enabled:
        items.append(Item(OK, "board", "disabled (board.enabled = false)"))
    elif public and not public.startswith("https://"):
        items.append(
            Item(
                PROBLEM,
                "board",
                f"board.public_url {public!r} is not https://: Telegram opens Mini Apps only "
                "over HTTPS; use the reverse proxy's https:// address, or leave it empty.",
            )
        )
    else:
        items.append(Item(OK, "board", f"served at {settings.board.base_url()}"))
    return items


def check_port(listener: Listener) -> Item:
    """Whether `run` could listen where `listener` says."""
    name = f"{listener.setting} {listener.port} on {listener.host}"
    if listener.port == 0:
        return Item(OK, "port", f"{listener.setting} is 0: any free port")
    failed = bind_error(listener)
    if failed is None:
        return Item(OK, "port", f"{name} is free")
    if failed.errno == errno.EADDRINUSE:
        what = "is in use: stop what holds it, or set"
    elif failed.errno == errno.EADDRNOTAVAIL:
        what = "is not an address of this machine: fix the listen address beside"
    else:
        what = f"cannot be opened ({failed.strerror or failed}): fix"
    return Item(
        PROBLEM, "port", f"{name} {what} {listener.setting} ({env_name(listener.setting)})"
    )


def check_font() -> Item:
    """A font with Chinese glyphs, for charts and QR sheets."""
    family = fonts.cjk_family()
    if family is None:
        return Item(
            PROBLEM,
            "font",
            "no font with Chinese glyphs: charts and QR sheets would show boxes; install "
            "one (e.g. apt-get install fonts-noto-cjk).",
        )
    return Item(OK, "font", f"{family} for Chinese labels")


def check_timezone(settings: Settings) -> Item:
    """The office's time zone (a valid one, or settings would not have loaded)."""
    zone = settings.service.timezone
    now = datetime.now(UTC).astimezone(ZoneInfo(zone))
    return Item(OK, "timezone", f"{zone}, now {now:%Y-%m-%d %H:%M} there")


async def _directory(settings: Settings) -> tuple[int, int]:
    """(admins, rooms) in the database."""
    store = settings.store()
    try:
        staff = await list_staff(store.uow())
        rooms = await places.count_rooms(store.uow())
    finally:
        await store.dispose()
    admins = sum(1 for s in staff if any(g.role == Role.ADMIN for g in s.grants))
    return admins, rooms


def check_directory(settings: Settings, readable: bool) -> list[Item]:
    """At least one admin, the categories, and rooms to report from."""
    categories = list(settings.categories)
    items = [
        Item(OK, "categories", f"{len(categories)}: {', '.join(categories)}")
        if categories
        else Item(
            PROBLEM,
            "categories",
            "no [categories.*] in the settings: reporters could pick nothing; see "
            "config.example.toml.",
        )
    ]
    if not readable:
        why = "needs the database at the current revision"
        return [Item(SKIPPED, "admins", why), *items, Item(SKIPPED, "rooms", why)]
    admins, rooms = asyncio.run(_directory(settings))
    items.insert(
        0,
        Item(OK, "admins", f"{admins} admin{'s' if admins != 1 else ''}")
        if admins
        else Item(
            PROBLEM,
            "admins",
            "nobody is an admin: add one with `repairbot staff add TELEGRAM_ID --role admin`.",
        ),
    )
    items.append(
        Item(OK, "rooms", f"{rooms} room{'s' if rooms != 1 else ''}")
        if rooms
        else Item(
            PROBLEM,
            "rooms",
            "no rooms: import them with `repairbot locations import FILE.csv`.",
        )
    )
    return items


def all_items(settings: Settings) -> list[Item]:
    """Every item, in the order `run` meets them."""
    items = check_token(settings)
    database, readable = check_database(settings)
    items.append(database)
    items += check_urls(settings)
    items += [check_port(listener) for listener in settings.listeners()]
    items += [check_font(), check_timezone(settings)]
    items += check_directory(settings, readable)
    return items


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Check everything `run` needs; print one line per item."""
    items = all_items(settings)
    for item in items:
        print(item.line(), flush=True)
    problems = sum(1 for item in items if item.status == PROBLEM)
    if problems:
        print(f"{problems} problem{'s' if problems != 1 else ''}; fix and run `repairbot check`")
        return EXIT_FAIL
    print("ready: `repairbot run` has what it needs")
    return EXIT_OK


def register(commands: Commands, config: argparse.ArgumentParser) -> None:
    """`check`."""
    commands.add_parser(
        "check", parents=[config], help="check settings, Telegram, database and ports"
    ).set_defaults(func=cmd_check)
