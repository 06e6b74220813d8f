"""Staff-side e2e helpers: people who opened the bot, tickets put into a state through the
services, and the rows a refused press or command must leave as they were."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from sandbox.client import UserHandle
from sandbox.views import BotMessage
from store.directory.profiles import PersonView
from store.domain.filing import NewTicket
from store.intake import report
from store.lifecycle import Role
from store.models import Draft, FollowUp, Outbox, Ticket, TicketEvent
from store.repair import dispatch, requester, work
from tests.e2e.conftest import Harness
from tests.e2e.staff_steps import ticket as ticket_by_number
from tests.factories import make_person

E1, E2, W1 = "E1公寓", "E2公寓", "W1公寓"  # buildings of tests.factories' campus
MENU = "What would you like to do"
NOT_PERMITTED = "You're not allowed to do that."
NOT_FOUND = "That ticket doesn't exist or isn't yours."
STALE = "This button is out of date. Please use the latest message."
WAIT = 5.0  # seconds, for waits behind a few notices in a row


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


async def until(bot: Harness, condition: Callable[[], bool], what: str) -> None:
    """Wait until `condition` holds for what users see (re-checked on every sandbox change)."""
    await bot.sandbox.state.changed.wait_for(lambda: True if condition() else None, WAIT, what)


def shows(user: UserHandle, needle: str) -> Callable[[], bool]:
    """Whether any bot message in the user's chat currently contains `needle`."""
    return lambda: any(needle in m.body for m in user.messages)


# --- tickets put into a state through the services ---------------------------------------


async def new_ticket(
    bot: Harness,
    requester_id: int,
    code: str = "E1-101",
    category: str = "water",
    description: str = "The tap drips.",
) -> int:
    """A ticket filed (and dispatched) as the report flow would; returns its id."""
    room = bot.places.room(code)
    new = NewTicket(requester_id, room.room_id, category, description)
    result = await report.report(bot.store.uow(), new)
    return result.ticket.id


async def put_in_state(
    bot: Harness, ticket_id: int, state: str, *, dispatcher_id: int, technician_id: int
) -> int | None:
    """Walk a dispatching ticket to `state`; returns the follow-up id for "complaint"."""
    uow, clock = bot.store.uow, bot.store.clock
    if state == "complaint":
        ticket = await row(bot, ticket_id)
        number = await requester.complain(uow(), ticket_id, ticket.requester_id, "Nobody came.")
        return await followup_id(bot, number)
    if state == "dispatching":
        return None
    await dispatch.assign(uow(), ticket_id, dispatcher_id, technician_id)
    if state == "visit":
        await work.propose_visit(uow(), ticket_id, technician_id, clock() + timedelta(days=1))
    if state in ("in_progress", "deferred", "completed"):
        await work.start(uow(), ticket_id, technician_id)
    if state == "deferred":
        when = clock() + timedelta(days=3)
        await work.defer(uow(), ticket_id, technician_id, when, "Parts to order")
    if state == "completed":
        await work.complete(uow(), ticket_id, technician_id)
    return None


# --- rows --------------------------------------------------------------------------------


async def row(bot: Harness, ticket_id: int) -> Ticket:
    """The ticket row, detached."""
    async with bot.store.uow() as uow:
        found = await uow.session.get(Ticket, ticket_id)
        assert found is not None
        uow.session.expunge(found)
        return found


async def by_number(bot: Harness, number: str) -> Ticket:
    """The ticket row with this number, detached."""
    return await ticket_by_number(bot, number)


async def followup_id(bot: Harness, number: str) -> int:
    """The id of the follow-up with this number."""
    async with bot.store.uow() as uow:
        found = await uow.session.execute(select(FollowUp.id).where(FollowUp.number == number))
        value: int | None = found.scalar_one()
    assert value is not None
    return value


async def outbox_kinds(bot: Harness, recipient_id: int) -> list[str]:
    """Kinds of the notices written for one person, oldest first."""
    async with bot.store.uow() as uow:
        rows = await uow.session.execute(
            select(Outbox.kind).where(Outbox.recipient_id == recipient_id).order_by(col(Outbox.id))
        )
        return list(rows.scalars())


async def event_actions(bot: Harness, ticket_id: int) -> list[tuple[str, str | None]]:
    """(action, note) of a ticket's events, oldest first."""
    async with bot.store.uow() as uow:
        rows = await uow.session.execute(
            select(TicketEvent.action, TicketEvent.note)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(col(TicketEvent.id))
        )
        return [(action, note) for action, note in rows.all()]


@dataclass(frozen=True)
class Snapshot:
    """What a refused press or command must leave unchanged."""

    status: str | None
    assignee_id: int | None
    visit_at: Any
    events: int
    outbox: int
    open_followups: int
    question_parked: bool  # the actor was asked something (a Draft in the pending step)


async def snapshot(bot: Harness, ticket_id: int | None, actor_id: int) -> Snapshot:
    """The ticket's state, the event and outbox row counts, and the actor's parked question."""

    async def count(uow: Any, model: Any, *where: Any) -> int:
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
