"""Command menus after a start: published after the first answer, and a staff member's
only when it changed.

Every staff member's chat has its own command menu (bot/flows/start.py). A start used to
send one setMyCommands per staff member before polling began: N Bot API calls on every
restart, seconds over a real network before anyone got an answer. Now `start` schedules
a background task that waits until the first update has been handled (or `QUIET_START_S`
passed without one), then sends the per-language default lists and, one person after
another through the bot's rate limiter, only the staff menus whose digest or whose
owner's staff roles changed since they were last published (store.directory.menus).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import Application, TypeHandler

from bot.context import BotData
from bot.flows import start as start_flow
from bot.i18n import LANGUAGES
from store.directory.menus import (
    MenuMark,
    latest_staff_changes,
    published_menus,
    remember_published,
)
from store.directory.staff import list_staff
from store.uow import Store

log = logging.getLogger(__name__)

QUIET_START_S = 3.0  # no update in this long after a start: publish anyway
# After every handler group: the update has been answered when this one runs.
AFTER_ALL_GROUP = 1_000_000
_FIRST = "menus.first_update"
_TASK = "menus.task"
AnyApp = Application[Any, Any, Any, Any, BotData, Any]


def digest_of(menu: tuple[list[Any], Any] | None) -> str:
    """A digest of a personal menu (commands and menu button) as it would be sent."""
    if menu is None:
        return "default"
    commands, button = menu
    shown = {
        "commands": [[c.command, c.description] for c in commands],
        "button": button.to_dict() if button is not None else None,
    }
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()


async def publish_default_menus(bot: Bot) -> None:
    """The command list everyone sees, per language Telegram can tell apart."""
    await bot.set_my_commands(start_flow.bot_commands("en"))
    for language in LANGUAGES:
        code = start_flow.TELEGRAM_LANGUAGE.get(language)
        if code:
            await bot.set_my_commands(start_flow.bot_commands(language), language_code=code)


async def publish_staff_menus(
    bot: Bot, store: Store, default_language: str, mini_app: str | None
) -> int:
    """Publish each staff member's menu that is not the one published last; returns how
    many were sent. A menu Telegram refused is tried again at the next start."""
    remembered = await published_menus(store.uow())
    changes = await latest_staff_changes(store.uow())
    sent = 0
    for staff in await list_staff(store.uow()):
        person = staff.person
        menu = start_flow.personal_menu(person, default_language, mini_app=mini_app)
        mark = MenuMark(digest_of(menu), changes.get(person.id))
        if remembered.get(person.id) == mark:
            continue
        if await start_flow.publish_personal_commands(
            bot, person, default_language, mini_app=mini_app
        ):
            await remember_published(store.uow(), person.id, mark)
            sent += 1
    return sent


def install(app: AnyApp) -> None:
    """Watch for the first handled update (call once, while building the application)."""
    first = asyncio.Event()
    app.bot_data.extras[_FIRST] = first

    async def handled(_update: object, _context: object) -> None:
        first.set()

    app.add_handler(TypeHandler(Update, handled), group=AFTER_ALL_GROUP)


def first_answered(app: AnyApp) -> asyncio.Event:
    """Set once the first update after a start has been handled (`install` watches)."""
    first: asyncio.Event = app.bot_data.extras.setdefault(_FIRST, asyncio.Event())
    return first


async def after_first_answer(app: AnyApp) -> None:
    """Return once the first update was answered, or QUIET_START_S after the first wait
    without one (a quiet start): what is not urgent waits for this (menus, the
    scheduler's catch-up)."""
    first = first_answered(app)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(first.wait(), QUIET_START_S)
    first.set()  # a quiet start: nobody waits again


def start(app: AnyApp) -> asyncio.Task[int]:
    """After a start (post_init): publish the staff menus in the background, once the
    first update was answered. The task is in `bot_data.extras` for `stop` and tests."""
    data = app.bot_data
    assert data.store is not None and data.settings is not None
    store, settings = data.store, data.settings
    mini_app = settings.board.mini_app_url() if data.board is not None else None

    async def publish() -> int:
        await after_first_answer(app)
        try:
            await publish_default_menus(app.bot)
            sent = await publish_staff_menus(
                app.bot, store, settings.service.default_language, mini_app
            )
        except (TelegramError, SQLAlchemyError):  # away for now: the next start tries again
            log.exception("command menus not published")
            return 0
        if sent:
            log.info("staff menus: %d published", sent)
        return sent

    task = asyncio.create_task(publish(), name="staff menus")
    data.extras[_TASK] = task
    return task


def task_of(app: AnyApp) -> asyncio.Task[int] | None:
    """The menus task of the last start, if any."""
    task: asyncio.Task[int] | None = app.bot_data.extras.get(_TASK)
    return task


async def stop(app: AnyApp) -> None:
    """Cancel the menus task if it is still running (before the store closes)."""
    task = app.bot_data.extras.pop(_TASK, None)
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
