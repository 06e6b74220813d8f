"""Steps of the hostile-input property test (tests/e2e/test_hostile_fuzz.py): the project's bot on
an event loop of its own thread, fed updates through `Application.process_update`, with
a person of every role, tickets in several states, and snapshots of what changed."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlmodel import col, select
from telegram import Update

from bot.app import BotApp, build_application
from bot.context import Ctx
from sandbox import actions
from sandbox.server import SandboxServer
from sandbox.views import BotMessage
from store.lifecycle import Role
from store.models import Person, Room, Ticket, TicketEvent
from store.uow import Store
from tests.support.chats import forged_callback_query
from tests.support.harness import Harness, new_harness
from tests.support.world import E1, E2, file_in_room, make_person, put_in_state

T = TypeVar("T")
# Prefixes of buttons that change a ticket (or a follow-up, or a sweep).
ACTING = frozenset({"o", "t", "va", "r", "j", "vs", "dp", "rl", "qi", "qa", "fu", "sw"})
FIRST_SCREEN = {
    "technician": "/jobs",
    "dispatcher": "/queue all",
    "supervisor": "/followups",
    "inspector": "/sweep E1公寓",
    "admin": "/queue all",
}


class LoopThread:
    """An event loop running in a thread of its own; `run` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run `coro` on the loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class ErrorLog(logging.Handler):
    """Records from the error path: PTB's error handlers and the flows' `on_error`."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Remember it."""
        self.records.append(record)


@dataclass
class Sender:
    """A person who may send anything: their Telegram id, row id and right to act."""

    role: str
    telegram_id: int
    person_id: int
    buildings: frozenset[int]  # buildings whose tickets their role may change
    everywhere: bool = False


@dataclass
class FuzzWorld:
    """The running bot and what the property needs to know about it."""

    harness: Harness
    app: BotApp
    senders: dict[str, Sender]
    ticket_ids: list[int]
    person_ids: list[int]
    errors: list[BaseException | None] = field(default_factory=list)

    async def shutdown(self) -> None:
        """Stop the bot, close the store, stop the stand-in."""
        await self.app.shutdown()
        await self.harness.store.dispose()
        await self.harness.server.stop()


async def start_fuzz_world(url: str) -> FuzzWorld:
    """The bot on `url` with a sender of every role and tickets in several states."""
    server = SandboxServer(default_timeout=10.0)
    await server.start()
    harness = await new_harness(server, url)
    store, places = harness.store, harness.places
    e1, e2 = places.building(E1).id, places.building(E2).id
    specs: list[tuple[str, int, tuple[Role, ...], tuple[int, ...], bool]] = [
        ("requester", 1001, (), (), False),
        ("other_requester", 1002, (), (), False),
        ("technician", 3001, (Role.TECHNICIAN,), (e1,), True),
        ("dispatcher", 4001, (Role.DISPATCHER,), (e1,), False),
        ("supervisor", 5001, (Role.SUPERVISOR,), (e1,), False),
        ("inspector", 6001, (Role.INSPECTOR,), (e1,), False),
        ("admin", 7001, (Role.ADMIN,), (), False),
    ]
    senders: dict[str, Sender] = {}
    for role, telegram_id, roles, buildings, on_duty in specs:
        person = await make_person(
            store, *roles, name=role.title(), telegram_id=telegram_id,
            buildings=buildings, on_duty=on_duty,
        )  # fmt: skip
        senders[role] = Sender(
            role, telegram_id, person.id, frozenset(buildings), everywhere=role == "admin"
        )
    walt = await make_person(store, Role.TECHNICIAN, name="Walt", buildings=(e2,))
    # A newcomer whose Telegram name holds NUL and escape codes.
    senders["newcomer"] = Sender("newcomer", 1003, 0, frozenset())
    rita, bob = senders["requester"].person_id, senders["other_requester"].person_id
    dora, tina = senders["dispatcher"].person_id, senders["technician"].person_id
    ada = senders["admin"].person_id
    ticket_ids = []
    for state in ("dispatching", "assigned", "in_progress", "deferred", "completed"):
        ticket_id = await file_in_room(store, places, rita, "E1-101")
        await put_in_state(store, ticket_id, state, dispatcher_id=dora, technician_id=tina)
        ticket_ids.append(ticket_id)
    for state in ("dispatching", "in_progress", "completed"):
        ticket_id = await file_in_room(store, places, bob, "E2-101")
        await put_in_state(store, ticket_id, state, dispatcher_id=ada, technician_id=walt.id)
        ticket_ids.append(ticket_id)
    app = build_application(harness.settings, store, sender_poll_interval=60, with_scheduler=False)
    await app.initialize()  # no post_init: the outbox sender stays idle, notices stay rows
    world = FuzzWorld(harness, app, senders, ticket_ids, [s.person_id for s in senders.values()])

    async def remember(update: object, context: Ctx) -> None:
        world.errors.append(context.error)

    app.add_error_handler(remember)
    for sender in senders.values():
        name = "Mal\x00lory\x1b[2J" if sender.role == "newcomer" else sender.role.title()
        server.client.user(sender.telegram_id, name, language_code="en")
        await send_text(world, sender, "/start")
        # Each role's own screen, so its buttons (and their data) are there to press, and
        # to steal: pressed from another person's chat, they are forgeries with real ids.
        await send_text(world, sender, FIRST_SCREEN.get(sender.role, "/my"))
    async with store.uow() as uow:
        row = (
            await uow.session.execute(select(Person).where(Person.telegram_id == 1003))
        ).scalar_one()
        assert row.id is not None and "\x00" not in row.name
        senders["newcomer"].person_id = row.id
    return world


async def process(world: FuzzWorld, build: Callable[[int], Update]) -> None:
    update_id = world.harness.server.state.emit("fuzz", build)
    assert update_id is not None
    # As if fetched with getUpdates: every nested object knows the bot (for shortcuts).
    update = Update.de_json(build(update_id).to_dict(), world.app.bot)
    await world.app.process_update(update)


async def send_text(world: FuzzWorld, sender: Sender, text: str) -> None:
    """The sender types `text` (a command when it starts with "/")."""
    state = world.harness.server.state
    message = actions.post(state, sender.telegram_id, None, text=text)
    await process(world, lambda update_id: Update(update_id, message=state.to_ptb(message)))


def bot_messages(world: FuzzWorld, sender: Sender) -> list[BotMessage]:
    state = world.harness.server.state
    stored = [m for m in state.messages.get(sender.telegram_id, []) if m.from_bot]
    return [BotMessage(state, m) for m in stored if not m.deleted]


def button_data(messages: list[BotMessage]) -> list[str]:
    return [b.callback_data for m in messages for row in m.buttons for b in row if b.callback_data]


async def press(world: FuzzWorld, sender: Sender, kind: str, pick: int, data: str | None) -> None:
    """Press on one of the sender's last bot messages: one of its own buttons ("real"),
    one from anybody's chat ("stolen"), or `data` as a modified client would send it
    (None: no data at all)."""
    messages = bot_messages(world, sender)
    # Mostly the newest message with buttons, so a run of presses goes deep into a flow.
    with_buttons = [m for m in messages if button_data([m])][-3:]
    if with_buttons and kind != "forged":
        messages = with_buttons
    messages = messages[-3:]
    if not messages:
        return
    message = messages[-1] if pick % 3 else messages[pick % len(messages)]
    if kind in ("real", "stolen"):
        if kind == "real":
            choices = button_data([message])
        else:
            chats = [bot_messages(world, s)[-8:] for s in world.senders.values()]
            choices = button_data([m for chat in chats for m in chat])
        # Half the time a button that acts on a ticket, so changes are tried often.
        acting = [c for c in choices if c.split(":", 1)[0] in ACTING]
        choices = acting if acting and pick % 2 else choices
        if not choices:
            return
        data = choices[pick % len(choices)]
    state = world.harness.server.state
    chat_instance = str(sender.telegram_id)
    _record, query = forged_callback_query(state, sender.telegram_id, message, data, chat_instance)
    await process(world, lambda update_id: Update(update_id, callback_query=query))


Snapshot = dict[int, tuple[Any, ...]]


async def ticket_snapshot(store: Store) -> tuple[Snapshot, dict[int, int], int]:
    """Each ticket's visible state, its building, and the newest event id."""
    async with store.uow() as uow:
        rows = (await uow.session.execute(select(Ticket, Room.building_id).join(
            Room, col(Room.id) == Ticket.room_id))).all()  # fmt: skip
        tickets = {
            t.id or 0: (t.status, t.assignee_id, t.requester_id, t.rating, t.version,
                        t.promised_at, t.urgency)
            for t, _ in rows
        }  # fmt: skip
        buildings = {t.id or 0: building for t, building in rows}
        events = (await uow.session.execute(select(TicketEvent.id))).scalars().all()
        return tickets, buildings, max((e or 0 for e in events), default=0)


async def new_events(store: Store, after: int) -> list[tuple[int, int | None, str]]:
    """(ticket, actor, action) of the events written after event `after`."""
    async with store.uow() as uow:
        stmt = select(TicketEvent.ticket_id, TicketEvent.actor_id, TicketEvent.action).where(
            col(TicketEvent.id) > after
        )
        return [(t, a, action) for t, a, action in (await uow.session.execute(stmt)).all()]
