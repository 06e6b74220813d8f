"""Typed answers to a question a button asked ("why?", "which date?", "your comment?").

The question is parked in the person's draft row, so it survives a restart, and a report
in progress is kept aside and resumed afterwards: answering a question never loses it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update

from bot.context import Ctx
from store.intake import drafts
from store.intake.drafts import DraftView

PENDING = "pending"
# Returns True when the answer was taken; False keeps the question parked (ask again).
Answer = Callable[[Update, Ctx, dict[str, Any]], Awaitable[bool]]
_ANSWERS: dict[str, Answer] = {}


def on_answer(kind: str) -> Callable[[Answer], Answer]:
    """Register the function that receives the typed answer to questions of `kind`."""

    def register(fn: Answer) -> Answer:
        _ANSWERS[kind] = fn
        return fn

    return register


async def ask(context: Ctx, kind: str, **data: Any) -> None:
    """Park a question; the person's next message answers it."""
    uow = context.store.uow
    draft = await drafts.get_draft(uow(), context.person.id)
    kept: dict[str, Any] = {}
    if draft is not None:
        kept = dict(draft.data)
        if draft.step != PENDING:
            kept["resume_step"] = draft.step
    kept["pending"] = {"kind": kind, **data}
    await drafts.save_draft(uow(), context.person.id, DraftView(PENDING, kept))


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
