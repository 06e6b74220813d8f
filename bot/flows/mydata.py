"""My data (/mydata and the menu): what is kept about me and for how long, a download of
all of it as a JSON document, and its erasure, for good, after a plain confirmation.

The store decides what is kept, exported and erased (store.directory.privacy); this flow
only ever asks about the person pressing, by their own Telegram id. Each button carries
the store id of the person it was shown to, and a press counts only from that person
(callback data can be forged; after an erasure the same account is a new person, so the
old buttons are stale too).
"""

from __future__ import annotations

import json
import logging

from telegram import BotCommandScopeChat, InputFile, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.callbacks import Menu, MyData
from bot.context import Ctx
from bot.flows.common import (
    LANGUAGE_SEEN,
    PERSON_SEEN,
    answer,
    data_of,
    guarded,
    pattern,
    reply,
    stale_press,
)
from bot.i18n import Texts
from bot.ui import Button, keyboard
from store.directory.privacy import erase_person, export_person
from store.policy import Policy

log = logging.getLogger(__name__)
ACTIONS = ("show", "download", "delete", "confirm")


def in_words(texts: Texts, days: int) -> str:
    """A retention period as people say it: "30 days", "6 months", "2 years"."""
    if days >= 365 and days % 365 == 0:
        return texts("mydata.years", n=days // 365)
    if days >= 60 and days % 30 == 0:
        return texts("mydata.months", n=days // 30)
    return texts("mydata.days", n=days)


def overview_text(texts: Texts, policy: Policy) -> str:
    """What is kept about a person, for how long, and who sees their phone."""
    return texts(
        "mydata.overview",
        contact=in_words(texts, policy.contact_retention.days),
        photos=in_words(texts, policy.photo_retention.days),
        person=in_words(texts, policy.person_retention.days),
    )


def _overview_buttons(context: Ctx) -> list[list[Button]]:
    t, me = context.texts, context.person.id
    return [
        [(t("mydata.download"), MyData("download", me))],
        [(t("mydata.delete"), MyData("delete", me))],
        [(t("menu.back_to_menu"), Menu("menu"))],
    ]


async def show(update: Update, context: Ctx, *, edit: bool = False) -> None:
    """The overview with Download and Delete."""
    text = overview_text(context.texts, context.store.policy)
    await reply(update, text, keyboard(_overview_buttons(context)), edit=edit)


async def mydata_command(update: Update, context: Ctx) -> None:
    """/mydata."""
    await show(update, context)


async def on_press(update: Update, context: Ctx) -> None:
    """Download, Delete, Confirm or Back, only ever for the person pressing."""
    press = data_of(update, MyData)
    query, t = update.callback_query, context.texts
    user = update.effective_user
    assert user is not None
    if press.person_id != context.person.id or context.person.telegram_id != user.id:
        # Someone else's button (forged), or one shown before this account's data was
        # erased: nothing happens.
        return await answer(query, t("mydata.not_yours"), alert=True)
    if press.action not in ACTIONS:
        return await stale_press(update, context)
    if press.action == "show":
        await answer(query)
        return await show(update, context, edit=True)
    if press.action == "download":
        return await _download(update, context, user.id)
    if press.action == "delete":
        await answer(query)
        rows: list[list[Button]] = [
            [(t("mydata.confirm"), MyData("confirm", context.person.id))],
            [(t("common.back"), MyData("show", context.person.id))],
        ]
        return await reply(update, t("mydata.delete_confirm"), keyboard(rows), edit=True)
    await _erase(update, context, user.id)


async def _download(update: Update, context: Ctx, telegram_id: int) -> None:
    t = context.texts
    document = await export_person(context.store.uow(), telegram_id, by=telegram_id)
    await answer(update.callback_query)
    body = json.dumps(document, ensure_ascii=False, indent=2).encode()
    day = t.when(context.store.clock(), "yyyy-MM-dd")
    chat = update.effective_chat
    assert chat is not None
    upload = InputFile(body, filename=f"mydata-{day}.json")
    await chat.send_document(upload, caption=t("mydata.download_caption"))


async def _erase(update: Update, context: Ctx, telegram_id: int) -> None:
    # Their language, read before it goes with the rest of their data.
    t = context.texts
    await erase_person(context.store.uow(), telegram_id, by=telegram_id)
    if context.user_data is not None:
        # The erased person's view and language kept for this chat go too: the next
        # update reads (and so starts) a new person.
        context.user_data.pop(PERSON_SEEN, None)
        context.user_data.pop(LANGUAGE_SEEN, None)
    try:
        # A command menu of their own (their language, a role) went with the rest.
        await context.bot.delete_my_commands(scope=BotCommandScopeChat(telegram_id))
    except TelegramError as exc:
        log.info("no command menu to remove for an erased person: %s", exc)
    await answer(update.callback_query)
    await reply(update, t("mydata.deleted"), edit=True)


def handlers() -> list[BaseHandler[Update, Ctx, object]]:
    """This flow's handlers."""
    return [
        CommandHandler("mydata", guarded(mydata_command)),
        CallbackQueryHandler(guarded(on_press), pattern=pattern(MyData)),
    ]
