"""Typed answers to a question a button asked ("why?", "which date?", "your comment?").

The question is parked in the person's draft row, so it survives a restart, and a report
in progress is kept aside and resumed afterwards: answering a question never loses it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Message, Update
from telegram.error import TelegramError

from bot.context import Ctx
from bot.edits import clear_keyboard_at
from store.intake import drafts
from store.intake.drafts import DraftView

log = logging.getLogger(__name__)
PENDING = "pending"
KEYBOARD_OF = "keyboard_of"  # the id of the message whose buttons asked the question
# Returns True when the answer was taken; False keeps the question parked (ask again).
Answer = Callable[[Update, Ctx, dict[str, Any]], Awaitable[bool]]
_ANSWERS: dict[str, Answer] = {}


def on_answer(kind: str) -> Callable[[Answer], Answer]:
    """Register the function that receives the typed answer to questions of `kind`."""

    def register(fn: Answer) -> Answer:
        _ANSWERS[kind] = fn
        return fn

    return register


async def ask(context: Ctx, kind: str, *, shown_in: object = None, **data: Any) -> None:
    """Park a question; the person's next message answers it.

    `shown_in`, the message that asked it with buttons (a picker: "Complete without a
    photo", the day to defer to...): once a typed answer is taken, those buttons are taken
    off that message, so nothing answered stays pressable."""
    if isinstance(shown_in, Message):
        data[KEYBOARD_OF] = shown_in.message_id
    uow = context.store.uow
    draft = await drafts.get_draft(uow(), context.person.id)
    kept: dict[str, Any] = {}
    if draft is not None:
        kept = dict(draft.data)
        if draft.step != PENDING:
            kept["resume_step"] = draft.step
    kept["pending"] = {"kind": kind, **data}
    await drafts.save_draft(uow(), context.person.id, DraftView(PENDING, kept))


async def shown_in_message(context: Ctx, kind: str, message: Message | None) -> None:
    """The question of `kind` just parked was asked in a new message, with buttons: note
    it (see `ask`), unless the question was answered or replaced meanwhile."""
    if message is None:
        return
    uow = context.store.uow
    draft = await drafts.get_draft(uow(), context.person.id)
    if draft is None or draft.step != PENDING:
        return
    question = draft.data.get("pending") or {}
    if question.get("kind") != kind or KEYBOARD_OF in question:
        return
    data = {**draft.data, "pending": {**question, KEYBOARD_OF: message.message_id}}
    await drafts.save_draft(uow(), context.person.id, DraftView(PENDING, data))


async def clear(context: Ctx) -> dict[str, Any] | None:
    """Drop the parked question (resuming any report kept aside); return it."""
    uow = context.store.uow
    draft = await drafts.get_draft(uow(), context.person.id)
    if draft is None or draft.step != PENDING:
        return None
    question: dict[str, Any] = draft.data.pop("pending", {})
    resume = draft.data.pop("resume_step", None)
    if resume:
        await drafts.save_draft(uow(), context.person.id, DraftView(resume, draft.data))
    else:
        await drafts.drop_draft(uow(), context.person.id)
    return question


async def dispatch(update: Update, context: Ctx, draft: DraftView) -> None:
    """Hand a message to the registered answer function of the parked question.

    The question stays parked while the answer function refuses the answer or raises
    (e.g. text too long), so the person can simply try again.
    """
    question = dict(draft.data.get("pending", {}))
    fn = _ANSWERS.get(str(question.get("kind")))
    if fn is None:
        await clear(context)
        return
    if await fn(update, context, question):
        await clear(context)
        asked_in = question.get(KEYBOARD_OF)
        chat = update.effective_chat
        if isinstance(asked_in, int) and chat is not None:
            try:
                await clear_keyboard_at(context.bot, chat.id, asked_in)
            except TelegramError:  # the answer was taken; tidying up must not fail it
                log.debug("could not take the buttons off the question", exc_info=True)
