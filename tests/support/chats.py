"""People in their chats with the running bot: staff and requesters who opened it, what
they wait for, the bot restarted with other settings, and the rows a refused press or
command must leave as they were."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlmodel import SQLModel, col, select
from telegram import CallbackQuery
from telegram.ext import SimpleUpdateProcessor

from bot.app import build_application
from sandbox.client import UserHandle
from sandbox.models import CallbackAnswer, CallbackRecord
from sandbox.state import SandboxState
from sandbox.testing import start_polling
from sandbox.views import BotMessage
from store.directory.profiles import PersonView
from store.lifecycle import Role
from store.models import Draft, FollowUp, Outbox, Ticket, TicketEvent
from store.uow import UnitOfWork
from tests.support.harness import Harness
from tests.support.world import E1, make_person

MENU = "What would you like to do"
NOT_PERMITTED = "You're not allowed to do that."
NOT_FOUND = "That ticket doesn't exist or isn't yours."
STALE = "This button is out of date. Please use the latest message."
ACCEPT = "✅ Accept"
DECLINE = "✖️ Decline"
WAIT = 5.0  # seconds, for waits behind a few notices in a row


# --- people ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Someone who opened the bot: their chat, their row, and a message to press on."""

    user: UserHandle
    person: PersonView
    menu: BotMessage

    @property
    def id(self) -> int:
        """The person's id in the store."""
        return self.person.id


async def actor(
    bot: Harness,
    telegram_id: int,
    name: str,
    *roles: Role,
    buildings: tuple[str, ...] = (),
    on_duty: bool = False,
    skills: tuple[str, ...] = (),
) -> Actor:
    """A person holding `roles` in `buildings` (none: everywhere) who sent /start."""
    ids = [bot.places.building(b).id for b in buildings]
    person = await make_person(
        bot.store,
        *roles,
        name=name,
        telegram_id=telegram_id,
        buildings=ids,
        on_duty=on_duty,
        skills=skills,
    )
    user = bot.sandbox.user(telegram_id, name, language_code="en")
    await user.command("start")
    return Actor(user, person, await user.expect(text_contains=MENU))


@dataclass(frozen=True)
class Staff:
    """A staff member: their Telegram side and their row."""

    user: UserHandle
    person: PersonView

    @property
    def id(self) -> int:
        """The person's id in the store."""
        return self.person.id


async def started(bot: Harness, telegram_id: int, name: str) -> UserHandle:
    """A Telegram user who has opened the bot (so the bot may write to them)."""
    user = bot.sandbox.user(telegram_id, name, language_code="en")
    await user.command("start")
    await user.expect(text_contains=MENU)
    return user


async def staff(
    bot: Harness,
    telegram_id: int,
    name: str,
    *roles: Role,
    building: str | None = E1,
    on_duty: bool = False,
    start: bool = True,
) -> Staff:
    """A staff member scoped to `building` (None: everywhere); `start` opens the bot first."""
    user = (
        await started(bot, telegram_id, name)
        if start
        else bot.sandbox.user(telegram_id, name, language_code="en")
    )
    buildings = [bot.places.building(building).id] if building else []
    person = await make_person(
        bot.store,
        *roles,
        name=name,
        telegram_id=telegram_id,
        buildings=buildings,
        on_duty=on_duty,
    )
    return Staff(user, person)


async def technicians(
    bot: Harness, *names: str, first_id: int = 3001, on_duty: bool = True
) -> list[Staff]:
    """Started technicians covering E1公寓, on duty unless told otherwise."""
    return [
        await staff(bot, first_id + i, name, Role.TECHNICIAN, on_duty=on_duty)
        for i, name in enumerate(names)
    ]


# --- waiting for what users see ------------------------------------------------------------


async def until(
    bot: Harness, condition: Callable[[], bool], what: str, *, within: float = WAIT
) -> None:
    """Wait until `condition` holds for what users see (re-checked on every sandbox change)."""
    await bot.sandbox.state.changed.wait_for(lambda: True if condition() else None, within, what)


def shows(user: UserHandle, needle: str) -> Callable[[], bool]:
    """Whether any bot message in the user's chat currently contains `needle`."""
    return lambda: any(needle in m.body for m in user.messages)


async def shown(bot: Harness, user: UserHandle, needle: str) -> BotMessage:
    """A message in the user's chat containing `needle`, whenever it came: the sender's
    notices and the flow's own replies may arrive in either order."""

    def probe() -> BotMessage | None:
        return next((m for m in user.messages if needle in m.body), None)

    return await bot.sandbox.state.changed.wait_for(probe, WAIT, f"a message with {needle!r}")


def forged_callback_query(
    state: SandboxState, user_id: int, message: BotMessage, data: str | None, chat_instance: str
) -> tuple[CallbackRecord, CallbackQuery]:
    """A press as a modified client can send it: `data` None means no data at all (the
    stand-in's own press always has some). The stand-in records the answer on the record;
    the query is for the caller to deliver."""
    record = CallbackRecord(
        id=str(secrets.randbits(63)),
        user_id=user_id,
        chat_id=message.chat_id,
        message_id=message.message_id,
        data=data or "",
        created=time.monotonic(),
    )
    state.callbacks[record.id] = record
    query = CallbackQuery(
        id=record.id,
        from_user=state.users[user_id].to_ptb(),
        chat_instance=chat_instance,
        message=state.to_ptb(message.stored),
        data=data,
    )
    return record, query


async def offer_for(user: UserHandle, number: str, *, within: float = WAIT) -> BotMessage:
    """The offer of ticket `number` arriving in a technician's chat."""
    return await user.next_message(
        lambda m: number in m.body and ACCEPT in m.button_texts, timeout=within
    )


async def answers_to(
    bot: Harness, message: BotMessage, count: int = 1, *, skip: int = 0, within: float = WAIT
) -> list[CallbackAnswer]:
    """Wait until the bot answered `count` presses of buttons on `message` beyond the first
    `skip` answers (those given before the presses in question); returns those `count`."""

    def probe() -> list[CallbackAnswer] | None:
        found = message.callback_answers[skip:]
        return found[:count] if len(found) >= count else None

    return await bot.sandbox.state.changed.wait_for(
        probe, within, f"{count} answer(s) to presses on message {message.message_id}"
    )


async def open_job(user: UserHandle, number: str) -> BotMessage:
    """/jobs, then the job's button; returns the job card (the same message, edited)."""
    await user.command("jobs")
    listing = await user.expect(text_contains="Your open jobs")
    label = next(b for b in listing.button_texts if number in b)
    await user.press(listing, label)
    return await user.wait_for_edit(listing, lambda m: "Requester's phone" in (m.text or ""))


# --- the bot restarted -----------------------------------------------------------------------


async def reconfigure(bot: Harness, **service: Any) -> None:
    """Restart the bot with some `[service]` settings changed (and the policy they make)."""
    await bot.stop()
    changed = bot.settings.service.model_copy(update=service)
    bot.settings = bot.settings.model_copy(update={"service": changed})
    bot.store.policy = bot.settings.policy()
    await bot.start()


async def serve_concurrently(bot: Harness, limit: int = 8) -> None:
    """Restart the bot handling up to `limit` updates at once, as several instances behind
    one webhook would, so that button presses really race each other in the database."""
    await bot.stop()
    app = build_application(
        bot.settings,
        bot.store,
        sender_poll_interval=0.1,
        per_chat_interval=bot.per_chat_interval,
        with_scheduler=False,
    )
    # ApplicationBuilder.concurrent_updates() is only reachable inside build_application.
    app._update_processor = SimpleUpdateProcessor(limit)
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    await start_polling(app)
    bot.app = app


# --- what a refused press leaves -------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What a refused press or command must leave unchanged."""

    status: str | None
    assignee_id: int | None
    visit_at: datetime | None
    events: int
    outbox: int
    open_followups: int
    question_parked: bool  # the actor was asked something (a Draft in the pending step)


async def snapshot(bot: Harness, ticket_id: int | None, actor_id: int) -> Snapshot:
    """The ticket's state, the event and outbox row counts, and the actor's parked question."""

    async def count(uow: UnitOfWork, model: type[SQLModel], *where: ColumnElement[bool]) -> int:
        stmt = select(func.count()).select_from(model).where(*where)
        return int((await uow.session.execute(stmt)).scalar_one())

    async with bot.store.uow() as uow:
        ticket = await uow.session.get(Ticket, ticket_id) if ticket_id is not None else None
        draft = await uow.session.get(Draft, actor_id)
        return Snapshot(
            status=ticket.status if ticket else None,
            assignee_id=ticket.assignee_id if ticket else None,
            visit_at=ticket.visit_at if ticket else None,
            events=await count(uow, TicketEvent),
            outbox=await count(uow, Outbox),
            open_followups=await count(uow, FollowUp, col(FollowUp.resolved_at).is_(None)),
            question_parked=draft is not None and draft.step == "pending",
        )
