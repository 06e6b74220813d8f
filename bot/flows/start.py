"""/start with its deep links, the main menu, /language, /phones and /help (/mydata is
bot.flows.mydata)."""

from __future__ import annotations

import logging

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    MenuButtonDefault,
    MenuButtonWebApp,
    Update,
    WebAppInfo,
)
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.callbacks import Menu, SetLanguage
from bot.context import Ctx
from bot.flows import report
from bot.flows.common import answer, data_of, guarded, pattern, remember_language, reply
from bot.i18n import LANGUAGES, Texts
from bot.ui import keyboard, mask_phone
from store import roles as store_roles
from store.deeplink import parse_room_payload
from store.directory.invites import INVITE_PREFIX, redeem_invite
from store.directory.profiles import PersonView, get_person_view, set_language, set_phone
from store.domain.board_access import may_open_board
from store.domain.sweeps import may_walk_sweeps
from store.errors import InviteInvalid
from store.intake.booth import CLAIM_PREFIX
from store.lifecycle import Role
from store.repair import dispatch, followups, work

log = logging.getLogger(__name__)
COMMANDS = (
    "start",
    "report",
    "my",
    "myroom",
    "phones",
    "language",
    "mydata",
    "cancel",
    "help",
)
LANGUAGE_NAMES = {"zh_Hans": "简体中文", "zh_Hant": "繁體中文", "en": "English"}
# Telegram's menu-language codes for setMyCommands.
TELEGRAM_LANGUAGE = {"zh_Hans": "zh", "en": "en"}


def main_menu(texts: Texts) -> list[list[tuple[str, Menu]]]:
    """The entries of the main menu."""
    return [
        [(texts("menu.report"), Menu("report"))],
        [(texts("menu.my_tickets"), Menu("my"))],
        [(texts("menu.phones"), Menu("phones"))],
        [(texts("menu.my_phone"), Menu("phone")), (texts("menu.language"), Menu("lang"))],
        [(texts("menu.my_data"), Menu("mydata"))],
    ]


async def show_menu(update: Update, context: Ctx, *, greet: bool = False) -> None:
    """Greeting (optionally) and the menu."""
    texts = context.texts
    text = texts("start.menu_prompt")
    if greet:
        text = texts("start.greeting", name=context.person.name or "") + "\n\n" + text
    await reply(update, text, keyboard(main_menu(texts)))


async def start(update: Update, context: Ctx) -> None:
    """Greet and show the menu; a deep link starts a report for a room or redeems an invite."""
    payload = context.args[0] if context.args else ""
    if not payload:
        await publish_personal_commands(
            context.bot,
            context.person,
            context.settings.service.default_language,
            mini_app=mini_app_of(context),
        )
        await show_menu(update, context, greet=True)
        return
    if payload.startswith(INVITE_PREFIX):
        await _redeem(update, context, payload.removeprefix(INVITE_PREFIX))
        return
    if payload.startswith(CLAIM_PREFIX):
        from bot.flows import booth

        await booth.redeem_claim(update, context, payload.removeprefix(CLAIM_PREFIX))
        return
    code = parse_room_payload(payload)
    if code is not None and await report.start_for_room(update, context, code):
        return
    await reply(update, context.texts("start.deeplink_bad"))
    await show_menu(update, context, greet=True)


async def _redeem(update: Update, context: Ctx, token: str) -> None:
    user = update.effective_user
    assert user is not None
    secret = context.settings.invite_secret()
    try:
        grant = await redeem_invite(
            context.store.uow(),
            token,
            telegram_id=user.id,
            name=user.full_name,
            language=context.texts.language,
            secret=secret,
        )
    except InviteInvalid as exc:
        reason = context.texts(f"invite.reason_{exc.reason}")
        await reply(update, context.texts("error.invite_invalid", reason=reason))
        await show_menu(update, context)
        return
    person = await get_person_view(context.store.uow(), context.person.id)
    await publish_personal_commands(
        context.bot,
        person,
        context.settings.service.default_language,
        mini_app=mini_app_of(context),
    )
    role = context.texts(f"role.{grant.role}")
    await reply(update, context.texts("invite.welcome", role=role, scope=grant.scope_label()))
    await show_menu(update, context)


async def on_menu(update: Update, context: Ctx) -> None:
    """A main-menu button."""
    item = data_of(update, Menu).item
    await answer(update.callback_query)
    if item == "report":
        await report.begin(update, context)
    elif item == "my":
        from bot.flows import my_tickets

        await my_tickets.show_list(update, context)
    elif item == "phones":
        await phones(update, context)
    elif item == "lang":
        await choose_language(update, context)
    elif item == "mydata":
        from bot.flows import mydata

        await mydata.show(update, context, edit=True)
    elif item == "phone":
        await my_phone(update, context)
    elif item == "phone_forget":
        await set_phone(context.store.uow(), context.person.id, None)
        await reply(
            update, context.texts("phone.forgotten"), keyboard(_back_to_menu(context)), edit=True
        )
    else:
        await show_menu(update, context)


def _back_to_menu(context: Ctx) -> list[list[tuple[str, Menu]]]:
    return [[(context.texts("menu.back_to_menu"), Menu("menu"))]]


async def my_phone(update: Update, context: Ctx) -> None:
    """The phone number reports fill in, masked, with a way to forget it."""
    t = context.texts
    saved = (await get_person_view(context.store.uow(), context.person.id)).phone
    if saved is None:
        await reply(update, t("phone.none"), keyboard(_back_to_menu(context)), edit=True)
        return
    rows = [[(t("phone.forget"), Menu("phone_forget"))], *_back_to_menu(context)]
    await reply(update, t("phone.saved", phone=mask_phone(saved)), keyboard(rows), edit=True)


async def phones(update: Update, context: Ctx) -> None:
    """The emergency and complaint numbers, always one tap away."""
    svc = context.settings.service
    text = context.texts(
        "phones.text", emergency=svc.emergency_phone, complaint=svc.complaint_phone
    )
    await reply(update, text, keyboard(_back_to_menu(context)))


async def choose_language(update: Update, context: Ctx) -> None:
    """Offer the configured languages."""
    rows = [
        [(LANGUAGE_NAMES[code], SetLanguage(code))]
        for code in context.settings.service.languages
        if code in LANGUAGES
    ]
    await reply(update, context.texts("language.choose"), keyboard(rows))


async def on_language(update: Update, context: Ctx) -> None:
    """Switch the catalog for this person."""
    code = data_of(update, SetLanguage).code
    if code not in context.settings.service.languages:
        await answer(update.callback_query, context.texts("common.stale_button"), alert=True)
        return
    person = await set_language(context.store.uow(), context.person.id, code)
    await publish_personal_commands(
        context.bot,
        person,
        context.settings.service.default_language,
        chosen=True,
        mini_app=mini_app_of(context),
    )
    remember_language(context, code)
    context.texts = Texts(code, context.settings.service.timezone)
    await answer(update.callback_query)
    await reply(update, context.texts("language.set"), edit=True)
    await show_menu(update, context)


async def help_command(update: Update, context: Ctx) -> None:
    """How to use the bot, plus the staff commands the asker's roles allow."""
    t, roles = context.texts, context.person.roles
    lines = [t("help.text")]
    if work.may_take_jobs(roles):
        lines.append(t("help.technician"))
    if may_walk_sweeps(roles):
        lines.append(t("help.inspector"))
    if dispatch.may_dispatch(roles):
        lines.append(t("help.dispatcher"))
    if followups.may_follow_up(roles):
        lines.append(t("help.supervisor"))
    if Role.ADMIN in roles:
        lines.append(t("help.admin"))
    await reply(update, "\n\n".join(lines))


async def menu_command(update: Update, context: Ctx) -> None:
    """/menu: the menu without the greeting."""
    await show_menu(update, context)


# What each staff role adds to a person's own command menu.
STAFF_COMMANDS: dict[Role, tuple[str, ...]] = {
    Role.TECHNICIAN: ("duty", "jobs", "board"),
    Role.DISPATCHER: ("queue", "booth", "board"),
    Role.INSPECTOR: ("sweep", "booth"),
    Role.SUPERVISOR: (
        "followups",
        "stats",
        "export",
        "digest",
        "timezone",
        "invite",
        "sweep",
        "board",
    ),
}
STAFF_COMMANDS[Role.ADMIN] = (
    *dict.fromkeys(c for cmds in STAFF_COMMANDS.values() for c in cmds),
    "staff",  # the staff list, where an admin removes a role
)


def bot_commands(language: str, roles: frozenset[Role] = frozenset()) -> list[BotCommand]:
    """The command list for one language; staff roles add their own commands."""
    texts = Texts(language)
    names = list(COMMANDS)
    for role in Role:
        if role in roles:
            names += [c for c in STAFF_COMMANDS.get(role, ()) if c not in names]
    return [BotCommand(name, texts(f"commands.{name}")) for name in names]


def personal_menu(
    person: PersonView,
    default_language: str,
    *,
    chosen: bool = False,
    mini_app: str | None = None,
) -> tuple[list[BotCommand], MenuButtonWebApp | None] | None:
    """The command list (and board menu button) `publish_personal_commands` gives this
    person's chat; None when they keep the per-language default."""
    language = person.language or default_language
    staff = bool(person.roles & store_roles.STAFF)
    if person.telegram_id is None or not (staff or chosen or language not in TELEGRAM_LANGUAGE):
        return None
    button = None
    if mini_app is not None and may_open_board(person.roles):
        # The chat's menu button opens the office board as a Mini App.
        button = MenuButtonWebApp(Texts(language)("board.button"), WebAppInfo(mini_app))
    return bot_commands(language, person.roles), button


async def publish_personal_commands(
    bot: Bot,
    person: PersonView,
    default_language: str,
    *,
    chosen: bool = False,
    mini_app: str | None = None,
) -> bool:
    """Give one person's chat its own command menu where the per-language default would be
    wrong for them: staff (their extra commands), Traditional Chinese readers (Telegram's
    menus are keyed by two-letter codes, so "zh" shows Simplified), and anyone who has just
    picked a language with /language (`chosen`), which may differ from their app's.
    Everyone else keeps the default list. Called on /start, on joining, on /language and
    for staff after a start (bot/menus.py). False when Telegram refused it."""
    menu = personal_menu(person, default_language, chosen=chosen, mini_app=mini_app)
    if menu is None:
        return True
    assert person.telegram_id is not None
    commands, button = menu
    try:
        await bot.set_my_commands(commands, scope=BotCommandScopeChat(person.telegram_id))
        if button is not None:
            await bot.set_chat_menu_button(person.telegram_id, button)
    except TelegramError as exc:  # e.g. they never started the bot: the menu can wait
        log.info("no command menu for %s: %s", person.telegram_id, exc)
        return False
    return True


async def reset_personal_commands(
    bot: Bot, person: PersonView, default_language: str, *, mini_app: str | None = None
) -> None:
    """After a staff role of theirs was removed: the person's own command menu becomes
    what their roles are now (the plain list when none is left), and the menu button stops
    opening the board when they may no longer open it. Called by the admins' /staff at
    once, and when the notice of a removal made anywhere (the CLI) is delivered."""
    if person.telegram_id is None:
        return
    language = person.language or default_language
    try:
        await bot.set_my_commands(
            bot_commands(language, person.roles), scope=BotCommandScopeChat(person.telegram_id)
        )
        if mini_app is not None and may_open_board(person.roles):
            button = MenuButtonWebApp(Texts(language)("board.button"), WebAppInfo(mini_app))
            await bot.set_chat_menu_button(person.telegram_id, button)
        else:
            await bot.set_chat_menu_button(person.telegram_id, MenuButtonDefault())
    except TelegramError as exc:
        log.info("no command menu reset for %s: %s", person.telegram_id, exc)


def mini_app_of(context: Ctx) -> str | None:
    """The board's Mini App address for menu buttons, when it has one."""
    board = context.settings.board
    return board.mini_app_url() if board.enabled else None


def handlers() -> list[BaseHandler[Update, Ctx, object]]:
    """This flow's handlers, in order."""
    return [
        CommandHandler("start", guarded(start)),
        CommandHandler("help", help_command),
        CommandHandler("menu", menu_command),
        CommandHandler("phones", phones),
        CommandHandler("language", choose_language),
        CallbackQueryHandler(guarded(on_menu), pattern=pattern(Menu)),
        CallbackQueryHandler(guarded(on_language), pattern=pattern(SetLanguage)),
    ]
