"""/board: a one-time sign-in link to the office board (and its Mini App button)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update, WebAppInfo
from telegram.ext import BaseHandler, CommandHandler

from bot.context import Ctx
from bot.flows.common import guarded, reply
from bot.i18n import Texts
from bot.settings import Settings
from bot.ui import inline_markup
from store.directory import sign_in
from store.errors import NotPermitted


def board_markup(settings: Settings, texts: Texts) -> InlineKeyboardMarkup | None:
    """The "📊 Board" Mini App button, when the board has an HTTPS address for Telegram
    (Telegram opens Mini Apps over HTTPS only)."""
    url = settings.board.mini_app_url()
    if url is None or not settings.board.enabled:
        return None
    button = InlineKeyboardButton(texts("board.button"), web_app=WebAppInfo(url))
    return inline_markup([[button]])


def board_button(context: Ctx) -> InlineKeyboardMarkup | None:
    """`board_markup` for the person asking."""
    return board_markup(context.settings, context.texts)


async def board_command(update: Update, context: Ctx) -> None:
    """/board sends a link that signs this browser in once (valid 10 minutes)."""
    t = context.texts
    server = context.bot_data.board
    if server is None or not context.settings.board.enabled:
        await reply(update, t("board.off"))
        return
    try:
        token = await sign_in.issue_signin(context.store.uow(), context.person.id)
    except NotPermitted:
        await reply(update, t("board.staff_only"))
        return
    minutes = int(sign_in.SIGNIN_TTL.total_seconds() // 60)
    url = f"{server.base_url()}/board/signin?token={token}"
    await reply(update, t("board.link", minutes=minutes, url=url), board_button(context))


def handlers() -> list[BaseHandler[Update, Ctx, object]]:
    """This flow's handlers."""
    return [CommandHandler("board", guarded(board_command))]
