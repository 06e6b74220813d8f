"""Reusable moves for the staff side: staff users, settings overrides, offers and jobs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from telegram.ext import SimpleUpdateProcessor

from bot.app import build_application
from sandbox.client import UserHandle
from sandbox.models import CallbackAnswer
from sandbox.testing import start_polling
from sandbox.views import BotMessage
from store.directory.profiles import PersonView
from store.lifecycle import Role
from store.models import Offer, Outbox, Person, Ticket, TicketEvent
from tests.e2e.conftest import Harness
from tests.e2e.steps import NUMBER, to_photos
from tests.factories import make_person

ACCEPT = "✅ Accept"
DECLINE = "✖️ Decline"
WAIT = 5.0  # seconds for waits that follow several notices in a row


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
    await user.expect(text_contains="What would you like to do")
    return user


async def staff(
    bot: Harness,
    telegram_id: int,
    name: str,
    *roles: Role,
    building: str | None = "E1公寓",
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


async def file_report_with_photo(
    user: UserHandle,
    *,
    category: str = "🚰 Water & plumbing",
    code: str = "E1-101",
    description: str = "The tap drips.",
    urgency: str = "Urgent",
    phone: str = "+8613800000001",
) -> str:
    """A whole report with one photo and a shared phone number; returns the ticket number."""
    step = await to_photos(user, category, code, description)
    await user.send_photo()
    added = await user.expect(text_contains="Photo 1/")
    await user.press(added, "Done ✅")
    step = await user.wait_for_edit(added, lambda m: "How urgent" in (m.text or ""))
    await user.press(step, urgency)
    await user.expect(text_contains="Share a phone number")
    await user.share_contact(phone)
    summary = await user.expect(text_contains="Please check your report")
    await user.press(summary, "✅ Confirm")
    received = await user.expect(text_contains="received")
    found = NUMBER.search(received.body)
    assert found is not None, received
    return found.group()


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


async def until(
    bot: Harness, condition: Callable[[], bool], what: str, *, within: float = WAIT
) -> None:
    """Wait until `condition` holds for what users see (re-checked on every sandbox change)."""
    await bot.sandbox.state.changed.wait_for(lambda: True if condition() else None, within, what)


async def open_job(user: UserHandle, number: str) -> BotMessage:
    """/jobs, then the job's button; returns the job card (the same message, edited)."""
    await user.command("jobs")
    listing = await user.expect(text_contains="Your open jobs")
    label = next(b for b in listing.button_texts if number in b)
    await user.press(listing, label)
    return await user.wait_for_edit(listing, lambda m: "Requester's phone" in (m.text or ""))


# --- rows --------------------------------------------------------------------------------


async def ticket(bot: Harness, number: str) -> Ticket:
    """The ticket row with this number, detached from its session."""
    async with bot.store.uow() as uow:
        row = (
            await uow.session.execute(select(Ticket).where(Ticket.number == number))
        ).scalar_one()
        uow.session.expunge(row)
        return row


async def person(bot: Harness, person_id: int) -> Person:
    """A person row, detached."""
    async with bot.store.uow() as uow:
        row = await uow.session.get(Person, person_id)
        assert row is not None
        uow.session.expunge(row)
        return row


async def offers(bot: Harness, ticket_id: int) -> dict[int, str | None]:
    """technician id → outcome (None while pending) of the ticket's offers."""
    async with bot.store.uow() as uow:
        rows = await uow.session.execute(
            select(Offer.technician_id, Offer.outcome).where(Offer.ticket_id == ticket_id)
        )
        return {tech: outcome for tech, outcome in rows.all()}


async def events(bot: Harness, ticket_id: int) -> list[tuple[str, str | None]]:
    """(action, note) of the ticket's events, oldest first."""
    async with bot.store.uow() as uow:
        rows = await uow.session.execute(
            select(TicketEvent.action, TicketEvent.note)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(col(TicketEvent.id))
        )
        return [(action, note) for action, note in rows.all()]


async def notices(bot: Harness, recipient_id: int, kinds: Iterable[str]) -> list[Outbox]:
    """Outbox rows of some kinds addressed to one person, oldest first."""
    async with bot.store.uow() as uow:
        rows = await uow.session.execute(
            select(Outbox)
            .where(Outbox.recipient_id == recipient_id, col(Outbox.kind).in_(list(kinds)))
            .order_by(col(Outbox.id))
        )
        found = list(rows.scalars())
        for row in found:
            uow.session.expunge(row)
        return found


async def booth_summary(user: UserHandle, phone: str) -> BotMessage:
    """/booth for Wang Wei (`phone`, "-" for none): E1公寓 101, a blocked shower drain, no
    photos, normal urgency; returns the report's summary, not yet confirmed."""
    await user.command("booth")
    await user.expect(text="Booth intake: what is the person's name?")
    await user.send("Wang Wei")
    await user.expect(text_contains="Phone number of Wang Wei?")
    await user.send(phone)
    step = await user.expect(text_contains="Choose the campus")
    await user.press(step, "東校區")
    await user.wait_for_edit(step, lambda m: "Choose the building" in m.body)
    await user.press(step, "E1公寓")
    await user.wait_for_edit(step, lambda m: "Choose the floor" in m.body)
    await user.send("101")  # the room typed as on the door
    step = await user.expect(text_contains="What kind of problem")
    await user.press(step, "🚰 Water & plumbing")
    await user.wait_for_edit(step, lambda m: "Describe what happened" in m.body)
    await user.send("The shower drain is blocked.")
    photos = await user.expect(text_contains="Send up to")
    await user.press(photos, "Skip ➡️")
    await user.wait_for_edit(photos, lambda m: "How urgent" in m.body)
    await user.press(photos, "Normal")
    await user.expect(text_contains="Share a phone number")
    await user.send("Skip ➡️")
    return await user.expect(text_contains="Please check your report")
