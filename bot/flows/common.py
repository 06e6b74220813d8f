"""Shared pieces of every flow: the gatekeeper, replies, error answers, routing helpers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError
from telegram import (
    CallbackQuery,
    ChatMember,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest
from telegram.ext import ApplicationHandlerStop

from bot import metrics
from bot.callbacks import Callback, StaleButton
from bot.context import Ctx
from bot.edits import clear_keyboard, edit_message, retire_pressed
from bot.i18n import Texts, language_from_telegram
from bot.ui import error_text
from store.delivery import outbox
from store.directory.profiles import PersonView, ensure_person, known_person
from store.domain import person_changes
from store.errors import (
    DomainError,
    InvalidInput,
    NotFound,
    OfferWithdrawn,
    TransitionNotAllowed,
)

log = logging.getLogger(__name__)
GONE = (ChatMember.BANNED, ChatMember.LEFT)  # "kicked" is what blocking the bot looks like
C = TypeVar("C", bound=Callback)
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None


async def gatekeeper(update: Update, context: Ctx) -> None:
    """Group -1: know who is asking (and in which language) before any flow runs.

    Updates from groups and channels are dropped: the bot works in private chats.
    """
    user = update.effective_user
    chat = update.effective_chat
    if user is None or user.is_bot or (chat is not None and chat.type != chat.PRIVATE):
        raise ApplicationHandlerStop
    default = context.settings.service.default_language
    # Until the person's stored language is read, the last one seen will do: an error
    # answer (the database is busy) must not come in a language they can't read.
    context.texts = asker_texts(update, context)
    language = language_from_telegram(user.language_code, default)
    member = update.my_chat_member
    blocked = member is not None and member.new_chat_member.status in GONE
    tick = person_changes.clock()  # before the read: a change committed meanwhile shows
    try:
        person = None if blocked else _seen_person(context, user.full_name, language)
        if person is None:
            # Read first, without the write lock; write only when Telegram says something
            # new about them (a first update, a new name) — not on every update.
            store = context.store
            person = await known_person(store.read(), user.id, user.full_name, language)
            if person is None:
                person = await ensure_person(store.uow(), user.id, user.full_name, language)
        if blocked:
            # The user blocked the bot (or left): stop sending; no flow has work to do.
            await outbox.person_blocked_bot(context.store.uow(), person.id)
        elif person.unreachable:
            # Any other update from them (a message, a press, an unblock) means we can
            # reach them again.
            await outbox.mark_reachable(context.store.uow(), person.id)
    except Exception as exc:
        # PTB would run the other groups after an error here; without knowing who asks,
        # no flow may run, so answer "busy" and stop this update.
        context.error = exc
        await on_error(update, context)
        raise ApplicationHandlerStop from exc
    if blocked:
        raise ApplicationHandlerStop
    if not person.unreachable:
        _remember_person(context, user.full_name, language, tick, person)
    context.person = person
    metrics.note_person(person.id)
    remember_language(context, person.language or default)
    context.texts = Texts(person.language or default, context.settings.service.timezone)


LANGUAGE_SEEN = "language"  # user_data key: the language last read from the person's row
PERSON_SEEN = "person"  # user_data key: the asker's PersonView, and what it was read for
# Changes made in this process are seen at once (store.domain.person_changes); this
# bounds how long a change made elsewhere (the CLI, another instance) can go unseen.
PERSON_FRESH_SECONDS = 30.0


def _seen_person(context: Ctx, name: str, language: str) -> PersonView | None:
    """The asker's view kept from an earlier update, while nothing about them changed."""
    kept = context.user_data.get(PERSON_SEEN) if context.user_data is not None else None
    if not isinstance(kept, tuple):
        return None
    person: PersonView  # as `_remember_person` kept it
    key, tick, read_at, person = kept
    fresh = time.monotonic() - read_at < PERSON_FRESH_SECONDS
    if key == (name, language) and fresh and not person_changes.changed_since(person.id, tick):
        return person
    return None


def _remember_person(
    context: Ctx, name: str, language: str, tick: int, person: PersonView
) -> None:
    # `tick` was taken before the read: a change to this person committed meanwhile is
    # later than it, so the next update reads again rather than trust this view.
    if context.user_data is not None:
        kept = ((name, language), tick, time.monotonic(), person)
        context.user_data[PERSON_SEEN] = kept


def remember_language(context: Ctx, language: str) -> None:
    """Keep the asker's language in memory, for answers when the database cannot be read."""
    if context.user_data is not None:
        context.user_data[LANGUAGE_SEEN] = language


def asker_texts(update: object, context: Ctx) -> Texts:
    """The catalog for whoever sent `update`, without touching the database: the language
    last read from their row in this process, else their Telegram app's language."""
    settings = context.settings.service
    seen = context.user_data.get(LANGUAGE_SEEN) if context.user_data is not None else None
    if isinstance(seen, str):
        return Texts(seen, settings.timezone)
    user = update.effective_user if isinstance(update, Update) else None
    code = user.language_code if user is not None else None
    return Texts(language_from_telegram(code, settings.default_language), settings.timezone)


def typed_text(update: Update) -> str | None:
    """The stripped text of the message, or None for a photo, sticker, empty text..."""
    message = update.effective_message
    return message.text.strip() if message is not None and message.text else None


def pattern(cls: type[Callback]) -> Callable[[object], bool]:
    """A CallbackQueryHandler pattern matching data of one callback class."""
    return lambda data: isinstance(data, str) and cls.unpack(data) is not None


def data_of(update: Update, cls: type[C]) -> C:
    """The unpacked callback. The handler's pattern and the boundary see to it that it
    parses; should a press ever get here without usable data, it is a stale button."""
    query = update.callback_query
    parsed = cls.unpack(query.data) if query is not None else None
    if parsed is None:
        raise StaleButton("callback data does not parse")
    return parsed


async def reply(update: Update, text: str, markup: Markup = None, *, edit: bool = False) -> None:
    """Answer in the chat; with `edit`, replace the pressed message instead."""
    query = update.callback_query
    if edit and query is not None:
        inline = markup if isinstance(markup, InlineKeyboardMarkup) else None
        # A photo (a completion notice, an offer) has a caption, not a text: the helper
        # answers in its caption when it fits (bot/edits.py).
        if await edit_message(query.message, text, inline):
            return
        # It does not fit, or the message is too old to edit: take its buttons away and
        # answer below it.
        await clear_keyboard(query.message)
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message(text, reply_markup=markup)


async def answer(
    query: CallbackQuery | None, text: str | None = None, alert: bool = False
) -> None:
    """Answer a button press (clears the client's spinner), optionally with an alert."""
    if query is not None:
        try:
            await query.answer(text, show_alert=alert)
        except BadRequest:
            log.debug("callback answer too late", exc_info=True)


async def stale_press(update: Update, context: Ctx) -> None:
    """A press of a button that is out of date: say so, and take that message's buttons
    away (when the press came from one of them), so it is not pressed again."""
    query = update.callback_query
    await answer(query, context.texts("common.stale_button"), alert=True)
    await retire_pressed(query)


# Refusals meaning the pressed message is out of date: the ticket moved on, the offer
# was withdrawn, the thing is gone. Its buttons go (others, e.g. no permission, keep them).
OUTDATED = (TransitionNotAllowed, OfferWithdrawn, NotFound)


async def refuse(update: Update, context: Ctx, exc: DomainError) -> None:
    """Tell the user, in their language, why a domain action was refused."""
    text = error_text(context.texts, exc.code, exc.params)
    if update.callback_query is not None:
        try:
            await update.callback_query.answer(text, show_alert=True)
            if isinstance(exc, OUTDATED):
                await retire_pressed(update.callback_query)
            return
        except BadRequest:
            # The flow answered the press before the refusal came (a press can be answered
            # once): say it in the chat, or the press would seem to do nothing at all.
            log.debug("refusal after the press was answered", exc_info=True)
    await reply(update, text)


async def refused_answer(update: Update, context: Ctx, exc: DomainError) -> bool:
    """A typed answer to a parked question that the service refused: say why. A bad value
    keeps the question (try again); anything else (the ticket moved on, no permission)
    ends it, or every later message would meet the same refusal. For `pending` answers."""
    await refuse(update, context, exc)
    return not isinstance(exc, InvalidInput)


Handler = Callable[[Update, Ctx], Coroutine[Any, Any, Any]]


def guarded(fn: Handler) -> Handler:
    """Run a handler, turning domain refusals into clear answers instead of errors."""

    async def wrapper(update: Update, context: Ctx) -> Any:
        try:
            return await fn(update, context)
        except DomainError as exc:
            await refuse(update, context, exc)
            return None

    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = fn.__name__
    return wrapper


async def on_error(update: object, context: Ctx) -> None:
    """Log the failure, and tell the user something useful instead of silence."""
    metrics.note_error()
    error = context.error
    if isinstance(error, OperationalError):
        log.warning("database unavailable while handling an update: %s", error.orig)
        key = "common.busy"
    else:
        log.error("unhandled error while handling an update", exc_info=error)
        key = "common.error"
    if isinstance(update, Update) and update.effective_chat is not None:
        # The error handler gets a fresh context: find the asker's language again.
        texts = asker_texts(update, context)
        text = texts(key, complaint=context.settings.service.complaint_phone)
        try:
            if update.callback_query is not None:
                try:
                    await update.callback_query.answer(text, show_alert=True)
                    return
                except BadRequest:
                    # The flow answered the press before the failure (reads no longer
                    # wait for a writer, a write can still be refused): say it in the chat.
                    log.debug("press already answered; busy answer in the chat")
            await update.effective_chat.send_message(text)
        except Exception:  # the error path itself must never raise
            log.debug("could not tell the user about the error", exc_info=True)
