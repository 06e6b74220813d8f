"""Property: whatever a person of any role sends (a button from the chat, a forged or
garbage press, text with control characters, a command with odd arguments), the real
handlers answer it without an error, and no ticket changes unless the sender had a right
to change it. On SQLite and on PostgreSQL.

The bot is the project's own Application, fed through `Application.process_update` (its
replies go to the sandbox stand-in over HTTP, which enforces Telegram's limits). It runs
on an event loop of its own thread, so hypothesis drives a plain function and can shrink a
failure to the smallest input. The world persists across examples, as a chat does; the
example order is fixed (derandomize), so a run in CI is the same every time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_type_hints

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select
from telegram import CallbackQuery, Update

from bot.app import BotApp, build_application
from bot.callbacks import _REGISTRY, Callback
from sandbox import actions
from sandbox.models import CallbackRecord
from sandbox.server import SandboxServer
from sandbox.views import BotMessage
from store.db import create_engine
from store.lifecycle import Role
from store.models import Person, Room, Ticket, TicketEvent
from store.uow import Store
from tests.conftest import _empty
from tests.e2e.authz_steps import new_ticket, put_in_state
from tests.e2e.conftest import Harness, make_settings
from tests.factories import make_categories, make_person, make_places

T = TypeVar("T")
E1, E2 = "E1公寓", "E2公寓"
EXAMPLES = {"sqlite": 150, "postgres": 60}
COMMANDS = (
    "start", "report", "my", "myroom", "phones", "language", "cancel", "help", "menu",
    "duty", "jobs", "queue", "followups", "stats", "export", "digest", "timezone",
    "invite", "sweep", "booth",
)  # fmt: skip
# Words the buttons use, so forged presses often reach a handler, not only the boundary.
WORDS = (
    "report", "my", "phones", "lang", "menu", "open", "urge", "cancel", "cancel_yes",
    "fixed", "notfixed", "complain", "ok", "no", "accept", "decline", "visit", "start",
    "complete", "defer", "resume", "release", "list", "assign", "duplicate", "resolve",
    "fault", "done", "nobody", "stop", "close", "progress", "back", "skip", "confirm",
    "edit", "file_anyway", "fine", "en", "zh_Hans", "unassigned", "overdue", "all", "-",
    "parts", "campus", "building", "floor", "room", "cat", "urg", "page", "water",
)  # fmt: skip
# Prefixes of buttons that change a ticket (or a follow-up, or a sweep).
ACTING = frozenset({"o", "t", "va", "r", "j", "vs", "dp", "rl", "qi", "qa", "fu", "sw"})
FIRST_SCREEN = {
    "technician": "/jobs",
    "dispatcher": "/queue all",
    "supervisor": "/followups",
    "inspector": "/sweep E1公寓",
    "admin": "/queue all",
}
CONTROL = "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\u200b\u202e\ufeff\n\t"


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
class World:
    """The running bot and what the property needs to know about it."""

    harness: Harness
    app: BotApp
    senders: dict[str, Sender]
    ticket_ids: list[int]
    person_ids: list[int]
    errors: list[BaseException | None] = field(default_factory=list)


async def _build(url: str, is_postgres: bool) -> World:
    server = SandboxServer(default_timeout=10.0)
    await server.start()
    settings_ = make_settings(server, url)
    store = Store(create_engine(url), settings_.policy())
    if is_postgres:
        await _empty(store.engine)
    places = await make_places(store)
    await make_categories(store)
    harness = Harness(server, store, settings_, places)
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
        ticket_id = await new_ticket(harness, rita, "E1-101")
        await put_in_state(harness, ticket_id, state, dispatcher_id=dora, technician_id=tina)
        ticket_ids.append(ticket_id)
    for state in ("dispatching", "in_progress", "completed"):
        ticket_id = await new_ticket(harness, bob, "E2-101")
        await put_in_state(harness, ticket_id, state, dispatcher_id=ada, technician_id=walt.id)
        ticket_ids.append(ticket_id)
    app = build_application(settings_, store, sender_poll_interval=60, with_scheduler=False)
    await app.initialize()  # no post_init: the outbox sender stays idle, notices stay rows
    world = World(harness, app, senders, ticket_ids, [s.person_id for s in senders.values()])

    async def remember(update: object, context: Any) -> None:
        world.errors.append(context.error)

    app.add_error_handler(remember)
    for sender in senders.values():
        name = "Mal\x00lory\x1b[2J" if sender.role == "newcomer" else sender.role.title()
        server.client.user(sender.telegram_id, name, language_code="en")
        await _text(world, sender, "/start")
        # Each role's own screen, so its buttons (and their data) are there to press, and
        # to steal: pressed from another person's chat, they are forgeries with real ids.
        await _text(world, sender, FIRST_SCREEN.get(sender.role, "/my"))
    async with store.uow() as uow:
        row = (
            await uow.session.execute(select(Person).where(Person.telegram_id == 1003))
        ).scalar_one()
        assert row.id is not None and "\x00" not in row.name
        senders["newcomer"].person_id = row.id
    return world


async def _process(world: World, build: Any) -> None:
    update_id = world.harness.server.state.emit("fuzz", build)
    assert update_id is not None
    # As if fetched with getUpdates: every nested object knows the bot (for shortcuts).
    update = Update.de_json(build(update_id).to_dict(), world.app.bot)
    await world.app.process_update(update)


async def _text(world: World, sender: Sender, text: str) -> None:
    """The sender types `text` (a command when it starts with "/")."""
    state = world.harness.server.state
    message = actions.post(state, sender.telegram_id, None, text=text)
    await _process(world, lambda update_id: Update(update_id, message=state.to_ptb(message)))


def _bot_messages(world: World, sender: Sender) -> list[BotMessage]:
    state = world.harness.server.state
    stored = [m for m in state.messages.get(sender.telegram_id, []) if m.from_bot]
    return [BotMessage(state, m) for m in stored if not m.deleted]


def _button_data(messages: list[BotMessage]) -> list[str]:
    return [b.callback_data for m in messages for row in m.buttons for b in row if b.callback_data]


async def _press(world: World, sender: Sender, kind: str, pick: int, data: str | None) -> None:
    """Press on one of the sender's last bot messages: one of its own buttons ("real"),
    one from anybody's chat ("stolen"), or `data` as a modified client would send it
    (None: no data at all)."""
    messages = _bot_messages(world, sender)
    # Mostly the newest message with buttons, so a run of presses goes deep into a flow.
    with_buttons = [m for m in messages if _button_data([m])][-3:]
    if with_buttons and kind != "forged":
        messages = with_buttons
    messages = messages[-3:]
    if not messages:
        return
    message = messages[-1] if pick % 3 else messages[pick % len(messages)]
    if kind in ("real", "stolen"):
        if kind == "real":
            choices = _button_data([message])
        else:
            chats = [_bot_messages(world, s)[-8:] for s in world.senders.values()]
            choices = _button_data([m for chat in chats for m in chat])
        # Half the time a button that acts on a ticket, so changes are tried often.
        acting = [c for c in choices if c.split(":", 1)[0] in ACTING]
        choices = acting if acting and pick % 2 else choices
        if not choices:
            return
        data = choices[pick % len(choices)]
    state = world.harness.server.state
    record = CallbackRecord(
        id=str(secrets.randbits(63)),
        user_id=sender.telegram_id,
        chat_id=message.chat_id,
        message_id=message.message_id,
        data=data or "",
        created=time.monotonic(),
    )
    state.callbacks[record.id] = record
    query = CallbackQuery(
        id=record.id,
        from_user=state.users[sender.telegram_id].to_ptb(),
        chat_instance=str(sender.telegram_id),
        message=state.to_ptb(message.stored),
        data=data,
    )
    await _process(world, lambda update_id: Update(update_id, callback_query=query))


Snapshot = dict[int, tuple[Any, ...]]


async def _tickets(store: Store) -> tuple[Snapshot, dict[int, int], int]:
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


async def _new_events(store: Store, after: int) -> list[tuple[int, int | None, str]]:
    """(ticket, actor, action) of the events written after event `after`."""
    async with store.uow() as uow:
        stmt = select(TicketEvent.ticket_id, TicketEvent.actor_id, TicketEvent.action).where(
            col(TicketEvent.id) > after
        )
        return [(t, a, action) for t, a, action in (await uow.session.execute(stmt)).all()]


def _may_change(sender: Sender, before: tuple[Any, ...] | None, building: int) -> bool:
    """Whether the sender's role gives them any say over this ticket (its requester, its
    technician, staff whose scope covers its building, an admin) or they filed it now."""
    if before is None or sender.everywhere or building in sender.buildings:
        return True
    _status, assignee, requester = before[0], before[1], before[2]
    return sender.person_id in (assignee, requester)


def callback_data(ticket_ids: list[int], person_ids: list[int]) -> st.SearchStrategy[str | None]:
    """Forged and garbage callback data."""
    ints = st.one_of(
        st.sampled_from(ticket_ids + person_ids),
        st.sampled_from([0, -1, 2**31 - 1, 2**31, 2**53, -(2**63)]),
        st.integers(),
    )
    words = st.one_of(st.sampled_from(WORDS), st.text(max_size=12))
    forged = st.builds(
        lambda prefix, parts: ":".join([prefix, *parts]),
        st.sampled_from(sorted(_REGISTRY)),
        st.lists(st.one_of(ints.map(str), words), max_size=5),
    )

    def well_formed(cls: type[Callback]) -> st.SearchStrategy[str]:
        # Right shape, forged values: another person's ticket, a made-up action...
        hints = get_type_hints(cls)
        parts = [
            ints.map(str) if hints[f.name] is int else st.sampled_from(WORDS)
            for f in dataclasses.fields(cls)
        ]
        return st.tuples(*parts).map(lambda values: ":".join([cls.PREFIX, *values]))

    typed = st.sampled_from(sorted(_REGISTRY.values(), key=lambda c: c.PREFIX)).flatmap(
        well_formed
    )
    return st.one_of(
        typed,
        typed,
        typed,
        st.none(),
        st.just(""),
        forged,
        st.text(max_size=80),
        st.text(min_size=65, max_size=200),  # beyond Telegram's 64 bytes
    )


def typed_text() -> st.SearchStrategy[str]:
    """Text as anyone can type it, control characters included, and commands."""
    chars = st.one_of(st.characters(), st.sampled_from(CONTROL))
    free = st.text(alphabet=chars, min_size=1, max_size=120)
    command = st.builds(
        lambda name, arg: f"/{name} {arg}".rstrip(),
        st.sampled_from(COMMANDS),
        st.one_of(st.just(""), st.sampled_from([E1, "E1", "E1-101", "all", "4w", "x"]), free),
    )
    answers = st.sampled_from(["E1-101", "E1-1\x0001", "-", "+8613800000000", "5", "ok"])
    return st.one_of(free, command, answers)


@st.composite
def inputs(
    draw: st.DrawFn, roles: list[str], ticket_ids: list[int], person_ids: list[int]
) -> tuple[Any, ...]:
    """(role, kind, payload...) for one update: kind "real" (a button of the sender's
    chat), "stolen" (a button of anybody's chat), "forged" (made-up data) or "text"."""
    role = draw(st.sampled_from(roles))
    kind = draw(st.sampled_from(["real", "real", "stolen", "stolen", "forged", "text"]))
    if kind == "text":
        return role, kind, draw(typed_text())
    pick = draw(st.integers(0, 1000))
    data = draw(callback_data(ticket_ids, person_ids)) if kind == "forged" else None
    return role, kind, pick, data


@pytest.fixture
def thread_loop() -> Iterator[LoopThread]:
    """An event loop of the test's own (hypothesis calls a plain function)."""
    loop = LoopThread()
    try:
        yield loop
    finally:
        loop.close()


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_no_input_from_any_role_errors_or_changes_what_it_may_not(
    db: str, request: pytest.FixtureRequest, thread_loop: LoopThread
) -> None:
    url: str = request.getfixturevalue("postgres_url" if db == "postgres" else "sqlite_url")
    world = thread_loop.run(_build(url, db == "postgres"))
    errors = ErrorLog()
    watched = [logging.getLogger(n) for n in ("bot", "telegram.ext", "store")]
    for logger in watched:
        logger.addHandler(errors)
    store = world.harness.store

    @settings(
        max_examples=EXAMPLES[db],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(inputs(sorted(world.senders), world.ticket_ids, world.person_ids))
    def one_update(example: tuple[Any, ...]) -> None:
        role, kind = example[0], example[1]
        sender = world.senders[role]
        world.errors.clear()  # each example answers for itself (and shrinks to the culprit)
        errors.records.clear()
        before, buildings, last_event = thread_loop.run(_tickets(store))
        if kind == "text":
            thread_loop.run(_text(world, sender, example[2]))
        else:
            thread_loop.run(_press(world, sender, kind, example[2], example[3]))
        assert world.errors == [], world.errors
        assert [r.getMessage() for r in errors.records] == []
        after, buildings_after, _ = thread_loop.run(_tickets(store))
        for ticket_id, now in after.items():
            was = before.get(ticket_id)
            if now != was:
                building = buildings.get(ticket_id, buildings_after[ticket_id])
                assert _may_change(sender, was, building), (role, ticket_id, was, now)
        for ticket_id, actor_id, action in thread_loop.run(_new_events(store, last_event)):
            # Everything a press or a message changes is done by, or on behalf of, the sender.
            assert actor_id in (sender.person_id, None), (role, ticket_id, actor_id, action)
            changes.append(action)

    changes: list[str] = []
    rows, buildings, _ = thread_loop.run(_tickets(store))
    for forged in _forgeries(world, rows, buildings):
        one_update = example(forged)(one_update)
    try:
        one_update()
    finally:
        for logger in watched:
            logger.removeHandler(errors)
        thread_loop.run(_shutdown(world))


def _forgeries(world: World, rows: Snapshot, buildings: dict[int, int]) -> list[tuple[Any, ...]]:
    """Always tried, besides the random ones: each role presses, with forged data, the
    buttons that change a ticket, on an open and on a completed ticket it has no say over
    (someone else's, in another building)."""
    tina = world.senders["technician"].person_id
    forged = []
    for role, sender in sorted(world.senders.items()):
        foreign = [t for t in world.ticket_ids if not _may_change(sender, rows[t], buildings[t])]
        open_ones = [t for t in foreign if rows[t][0] != "completed"]
        done = [t for t in foreign if rows[t][0] == "completed"]
        for ticket_id in open_ones[:1] + done[:1]:
            for data in (
                f"t:cancel_yes:{ticket_id}", f"t:notfixed:{ticket_id}", f"o:accept:{ticket_id}",
                f"j:complete:{ticket_id}", f"j:release:{ticket_id}", f"dp:{ticket_id}:3:parts",
                f"r:{ticket_id}:1", f"qa:{ticket_id}:{tina}:0", f"qi:cancel:{ticket_id}",
            ):  # fmt: skip
                forged.append((role, "forged", 0, data))
    return forged


async def _shutdown(world: World) -> None:
    await world.app.shutdown()
    await world.harness.store.dispose()
    await world.harness.server.stop()


def test_the_world_gives_each_role_a_say_only_where_it_should() -> None:
    """The rights oracle itself: without this the property above could pass vacuously."""
    tech = Sender("technician", 1, 10, frozenset({1}))
    requester = Sender("requester", 2, 20, frozenset())
    admin = Sender("admin", 3, 30, frozenset(), everywhere=True)
    theirs = ("assigned", None, 20)
    assert _may_change(tech, theirs, 1) and not _may_change(tech, theirs, 2)
    assert _may_change(requester, theirs, 2) and not _may_change(requester, ("x", None, 21), 1)
    assert _may_change(admin, ("x", None, 21), 2)
