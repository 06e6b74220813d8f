"""Who may press which staff button and send which staff command: the whole matrix.

Every press is forged: data packed by the real classes of bot/callbacks.py, sent on a
message in the presser's own chat, as a modified client could. A refused press gets an
alert (a refused command, a message) and changes nothing: not the ticket's status,
assignee or visit, not one TicketEvent, Outbox or open follow-up row, and no question is
parked for the presser. Where a role should pass, it does, and it sees the result.

The matrix shares one bot per module. Each case presses on a ticket walked to the state
its button needs and untouched by any other case: a ticket is handed on only while every
press on it was refused and changed nothing. The outbox sender is stopped: notices are
not what this is about, and with nothing writing behind the presses' backs the row counts
compare exactly.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from bot.callbacks import (
    AssignTo,
    Callback,
    DeferPick,
    FollowUpAction,
    JobAction,
    OfferAnswer,
    QueueItem,
    Rate,
    ReleaseReason,
    TicketAction,
    VisitSlot,
)
from bot.i18n import catalog
from sandbox.server import SandboxServer
from store.directory import staff
from store.intake import drafts
from store.lifecycle import Role, Status
from store.repair import requester
from tests.support.chats import NOT_FOUND, STALE, Actor, actor, shows, snapshot, until
from tests.support.harness import Harness, new_harness
from tests.support.rows import ticket_row
from tests.support.world import E1, E2, W1, file_in_room, put_in_state

# The presser's relation to the ticket (always filed by Alice in E1公寓, worked by Tina).
REQUESTER = "requester"  # a plain requester who never filed anything
OTHER_REQUESTER = "other_requester"  # filed a ticket of their own in the same building
TECH_ELSEWHERE = "tech_elsewhere"  # a technician of another building
TECH_OTHER_JOB = "tech_other_job"  # a technician of this building, busy with another job
DISPATCHER_ELSEWHERE = "dispatcher_elsewhere"
SUPERVISOR_ELSEWHERE = "supervisor_elsewhere"
ADMIN = "admin"  # everywhere: dispatcher and supervisor powers, but no technician
ROLES = (
    REQUESTER,
    OTHER_REQUESTER,
    TECH_ELSEWHERE,
    TECH_OTHER_JOB,
    DISPATCHER_ELSEWHERE,
    SUPERVISOR_ELSEWHERE,
    ADMIN,
)
# How a refusal may begin (the catalog's text up to its first placeholder).
REFUSALS = tuple(
    text.split("{")[0]
    for key, text in catalog("en").items()
    if key
    in (
        "error.not_permitted",
        "error.not_found",  # a ticket the presser may not even see, as if missing
        "error.transition",  # the service's state check: the button's moment has passed
        "error.already_taken",  # the job is someone else's
        "error.reason_required",  # admin on the requester's cancel: dispatchers give reasons
        "followups.gone",
        "common.stale_button",
        "jobs.technicians_only",
    )
)


# --- the world every case starts from ------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """The ticket (and follow-up) one press is about."""

    ticket: int
    followup: int
    number: str
    tina: int
    slot: int  # a visit time tomorrow, in minutes since the epoch


@dataclass
class World:
    """The bot and its people; `numbers` collects every ticket number the cases filed."""

    bot: Harness
    alice: Actor  # files every ticket the cases press on
    tina: Actor  # the technician those tickets go to (E1, on duty: she gets the offers)
    dora: Actor  # the dispatcher of E1, who walks the tickets to their states
    roles: dict[str, Actor]
    numbers: list[str] = field(default_factory=list)
    ready: dict[str, Case] = field(default_factory=dict)  # state → an untouched ticket


async def build_world(bot: Harness) -> World:
    """Alice, Tina and Dora in E1, and one person for each role of the matrix."""
    assert bot.app is not None and bot.app.bot_data.sender is not None
    await bot.app.bot_data.sender.stop()
    alice = await actor(bot, 1001, "Alice")
    tina = await actor(bot, 3001, "Tina", Role.TECHNICIAN, buildings=(E1,), on_duty=True)
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    roles = {
        REQUESTER: await actor(bot, 1002, "Sam"),
        OTHER_REQUESTER: await actor(bot, 1003, "Rita"),
        TECH_ELSEWHERE: await actor(bot, 3002, "Wes", Role.TECHNICIAN, buildings=(W1,)),
        TECH_OTHER_JOB: await actor(bot, 3003, "Ted", Role.TECHNICIAN, buildings=(E1,)),
        DISPATCHER_ELSEWHERE: await actor(bot, 4002, "Eve", Role.DISPATCHER, buildings=(E2,)),
        SUPERVISOR_ELSEWHERE: await actor(bot, 5002, "Walt", Role.SUPERVISOR, buildings=(W1,)),
        ADMIN: await actor(bot, 6001, "Ada", Role.ADMIN),
    }
    await actor(bot, 5001, "Sue", Role.SUPERVISOR, buildings=(E1,))
    # Rita's own ticket, with a complaint (so admins always have a follow-up to list).
    ritas = await file_in_room(bot.store, bot.places, roles[OTHER_REQUESTER].id, "E1-201")
    await requester.complain(bot.store.uow(), ritas, roles[OTHER_REQUESTER].id, "Still broken.")
    teds = await file_in_room(bot.store, bot.places, alice.id, "E1-102", "electrical")
    await put_in_state(
        bot.store,
        teds,
        "in_progress",
        dispatcher_id=dora.id,
        technician_id=roles[TECH_OTHER_JOB].id,
    )
    world = World(bot, alice, tina, dora, roles)
    world.numbers += [
        (await ticket_row(bot.store, ritas)).number,
        (await ticket_row(bot.store, teds)).number,
    ]
    return world


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """One bot (SQLite) for the whole matrix."""
    path = tmp_path_factory.mktemp("authz") / "repairbot.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    server = SandboxServer(default_timeout=10.0)
    await server.start()
    harness = await new_harness(server, url)
    await harness.start()
    try:
        yield await build_world(harness)
    finally:
        await harness.stop()
        await harness.store.dispose()
        await server.stop()


# --- buttons --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Button:
    """A staff button: the ticket state it is meant for, its data, and who may press it
    (role → what they then see; `then` is the ticket's (status, assignee) afterwards)."""

    state: str
    data: Callable[[Case], Callback]
    passes: dict[str, str] = field(default_factory=dict)
    then: tuple[Status, str | None] | None = None


def _q(action: str) -> Callable[[Case], Callback]:
    return lambda c: QueueItem(action, c.ticket)


def _j(action: str) -> Callable[[Case], Callback]:
    return lambda c: JobAction(action, c.ticket)


def _t(action: str) -> Callable[[Case], Callback]:
    return lambda c: TicketAction(action, c.ticket)


BUTTONS: dict[str, Button] = {
    "queue_open": Button("dispatching", _q("open"), {ADMIN: "🎫 {number}"}),
    "queue_assign": Button("dispatching", _q("assign"), {ADMIN: "Who should take {number}?"}),
    "queue_cancel": Button("dispatching", _q("cancel"), {ADMIN: "Why is it rejected"}),
    "queue_duplicate": Button("dispatching", _q("duplicate"), {ADMIN: "Type the number"}),
    "assign_to": Button(
        "dispatching",
        lambda c: AssignTo(c.ticket, c.tina),
        {ADMIN: "{number} assigned to Tina"},
        then=(Status.ASSIGNED, "tina"),
    ),
    "followup_open": Button(
        "complaint", lambda c: FollowUpAction("open", c.followup), {ADMIN: "🎫 {number}"}
    ),
    "followup_resolve": Button(
        "complaint", lambda c: FollowUpAction("resolve", c.followup), {ADMIN: "What was done"}
    ),
    "job_start": Button("assigned", _j("start")),
    "job_resume": Button("deferred", _j("resume")),
    "job_complete_now": Button("in_progress", _j("complete_now")),
    "job_visit": Button("assigned", _j("visit")),
    "job_defer": Button("in_progress", _j("defer")),
    "job_release": Button("assigned", _j("release")),
    "visit_slot": Button("assigned", lambda c: VisitSlot(c.ticket, c.slot)),
    "defer_pick_day": Button("in_progress", lambda c: DeferPick(c.ticket, 2, "-")),
    "defer_pick_reason": Button("in_progress", lambda c: DeferPick(c.ticket, 2, "parts")),
    # A dispatcher may hand an assigned job back to dispatch (lifecycle: release).
    "release_reason": Button(
        "assigned",
        lambda c: ReleaseReason(c.ticket, "skill"),
        {ADMIN: "{number} went back to dispatch"},
        then=(Status.DISPATCHING, None),
    ),
    # Any technician covering the building may take a dispatching job (lifecycle: accept),
    # offered to them or not.
    "offer_accept": Button(
        "dispatching",
        lambda c: OfferAnswer("accept", c.ticket),
        {TECH_OTHER_JOB: "{number} is yours"},
        then=(Status.ASSIGNED, TECH_OTHER_JOB),
    ),
    "offer_decline": Button("dispatching", lambda c: OfferAnswer("decline", c.ticket)),
    # Staff covering the building may look at a ticket; nobody else may.
    "ticket_open": Button(
        "dispatching", _t("open"), {TECH_OTHER_JOB: "🎫 {number}", ADMIN: "🎫 {number}"}
    ),
    "ticket_urge": Button("dispatching", _t("urge")),
    "ticket_cancel": Button("dispatching", _t("cancel")),
    "ticket_cancel_yes": Button("dispatching", _t("cancel_yes")),
    "ticket_fixed": Button("completed", _t("fixed")),
    "ticket_notfixed": Button("completed", _t("notfixed")),
    "ticket_complain": Button("dispatching", _t("complain")),
    "ticket_visit_ok": Button("visit", _t("visit_ok")),
    "ticket_visit_no": Button("visit", _t("visit_no")),
    "rate": Button("completed", lambda c: Rate(c.ticket, 5)),
}


def _button_cases() -> list[object]:
    cases: list[object] = []
    for name, spec in BUTTONS.items():
        for role in ROLES:
            expected = "passes" if role in spec.passes else "refused"
            cases.append(pytest.param(role, name, id=f"{name}-{role}-{expected}"))
    return cases


async def _prepare(world: World, state: str) -> Case:
    bot = world.bot
    ticket = await file_in_room(bot.store, bot.places, world.alice.id)
    followup = await put_in_state(
        bot.store, ticket, state, dispatcher_id=world.dora.id, technician_id=world.tina.id
    )
    number = (await ticket_row(bot.store, ticket)).number
    world.numbers.append(number)
    slot = int((bot.store.clock() + timedelta(days=1)).timestamp() // 60)
    return Case(ticket, followup or 0, number, world.tina.id, slot)


async def press_as(world: World, role: str, name: str) -> None:
    """One cell of the matrix: `role` presses button `name` on a ticket in its state.

    A ticket serves the next case only while every press on it was refused and changed
    nothing (which each such case asserts); after a press that passed, or any failure,
    the next case gets a freshly prepared one. Filing and walking a ticket per case would
    cost most of the matrix's time.
    """
    bot, spec, who = world.bot, BUTTONS[name], world.roles[role]
    case = world.ready.pop(spec.state, None) or await _prepare(world, spec.state)
    await drafts.drop_draft(bot.store.uow(), who.id)
    before = await snapshot(bot, case.ticket, who.id)
    answer = await who.user.press_forged(who.menu, spec.data(case).pack())
    assert answer is not None
    after = await snapshot(bot, case.ticket, who.id)
    sees = spec.passes.get(role)
    if sees is None:
        assert answer.show_alert and (answer.text or "").startswith(REFUSALS), answer
        assert after == before
        world.ready[spec.state] = case  # untouched: good for the next refused press
        return
    assert not answer.show_alert, answer
    needle = sees.format(number=case.number)
    await until(bot, shows(who.user, needle), f"{role} to see {needle!r}")
    if spec.then is None:
        assert (after.status, after.assignee_id) == (before.status, before.assignee_id)
        assert (after.events, after.outbox) == (before.events, before.outbox)
    else:
        status, holder = spec.then
        holder_id = world.tina.id if holder == "tina" else who.id if holder else None
        assert (after.status, after.assignee_id) == (status, holder_id)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("role", "name"), _button_cases())
async def test_staff_button(world: World, role: str, name: str) -> None:
    await press_as(world, role, name)


# --- commands -------------------------------------------------------------------------------

# command → role → what that role sees; every other role is refused.
COMMANDS: dict[str, dict[str, str]] = {
    "queue": {DISPATCHER_ELSEWHERE: "Queue · Unassigned (0):", ADMIN: "Queue · Unassigned ("},
    "followups": {SUPERVISOR_ELSEWHERE: "No open follow-ups.", ADMIN: "Open follow-ups ("},
    "stats": {
        DISPATCHER_ELSEWHERE: "Office: 0 reported",
        SUPERVISOR_ELSEWHERE: "Office: 0 reported",
        ADMIN: "📊",
    },
    "export": {
        DISPATCHER_ELSEWHERE: "0 tickets",
        SUPERVISOR_ELSEWHERE: "0 tickets",
        ADMIN: "tickets with their timings",
    },
    "jobs": {TECH_ELSEWHERE: "You have no open jobs", TECH_OTHER_JOB: "Your open jobs ("},
    "duty": {TECH_ELSEWHERE: "You're on duty", TECH_OTHER_JOB: "You're on duty"},
    "invite": {SUPERVISOR_ELSEWHERE: "Usage: /invite", ADMIN: "Usage: /invite"},
}


async def send_as(world: World, role: str, command: str) -> None:
    """One cell of the matrix: `role` sends `/command`."""
    bot, who = world.bot, world.roles[role]
    await drafts.drop_draft(bot.store.uow(), who.id)
    before = await snapshot(bot, None, who.id)
    await who.user.command(command)
    sees = COMMANDS[command].get(role)
    if sees is None:
        refusal = await who.user.next_message()
        assert refusal.body.startswith(REFUSALS), refusal
        assert await snapshot(bot, None, who.id) == before
        return
    reply = await who.user.expect(text_contains=sees)
    if command == "export":
        await who.user.next_message(lambda m: (m.document_name or "").endswith(".csv"))
    if command == "duty":  # back off duty, as the world had them
        await staff.set_duty(bot.store.uow(), who.id, False)
    assert await snapshot(bot, None, who.id) == before
    if role in (DISPATCHER_ELSEWHERE, SUPERVISOR_ELSEWHERE):  # none of E1's tickets shows
        seen = reply.body + " ".join(reply.button_texts)
        assert not [n for n in world.numbers if n in seen], seen


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("role", "command"),
    [
        pytest.param(
            role, command, id=f"{command}-{role}-{'passes' if role in who else 'refused'}"
        )
        for command, who in COMMANDS.items()
        for role in ROLES
    ],
)
async def test_staff_command(world: World, role: str, command: str) -> None:
    await send_as(world, role, command)


# --- garbage --------------------------------------------------------------------------------


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("role", "data", "expected"),
    [
        # A well-formed press on a ticket that does not exist gets the answer every ticket
        # the presser may not see gets (so ids cannot be probed), as for requesters.
        pytest.param(REQUESTER, "t:urge:99999999", NOT_FOUND, id="missing-ticket"),
        pytest.param(REQUESTER, "p:x", STALE, id="pick-without-fields"),
        pytest.param(REQUESTER, "zz:1", STALE, id="unknown-prefix"),
        pytest.param(REQUESTER, "€" * 21 + "x", STALE, id="64-bytes-of-junk"),
        pytest.param(ADMIN, "qi:nuke:1", STALE, id="queue-item-unknown-action"),
        pytest.param(ADMIN, "fu:nuke:1", STALE, id="followup-unknown-action"),
        pytest.param(ADMIN, "q:bogus:0", STALE, id="queue-unknown-filter"),
        pytest.param(TECH_OTHER_JOB, "j:nuke:1", STALE, id="job-unknown-action"),
        pytest.param(TECH_OTHER_JOB, "dp:1:9999:-", STALE, id="deferral-beyond-limit"),
        pytest.param(TECH_OTHER_JOB, "rl:1:bribe", STALE, id="release-unknown-reason"),
    ],
)
async def test_garbage_is_refused(world: World, role: str, data: str, expected: str) -> None:
    assert len(data.encode()) <= 64
    who = world.roles[role]
    before = await snapshot(world.bot, None, who.id)
    answer = await who.user.press_forged(who.menu, data)
    assert answer is not None and (answer.text, answer.show_alert) == (expected, True)
    assert await snapshot(world.bot, None, who.id) == before


# --- a few cells on PostgreSQL too ------------------------------------------------------------


@pytest.mark.parametrize("e2e_db", ["sqlite", "postgres"], indirect=True)
async def test_some_cells_on_both_databases(bot: Harness) -> None:
    world = await build_world(bot)
    for role, name in (
        (DISPATCHER_ELSEWHERE, "assign_to"),
        (TECH_OTHER_JOB, "job_complete_now"),
        (OTHER_REQUESTER, "ticket_cancel_yes"),
        (SUPERVISOR_ELSEWHERE, "followup_resolve"),
        (TECH_ELSEWHERE, "offer_accept"),
        (ADMIN, "assign_to"),
    ):
        await press_as(world, role, name)
    await send_as(world, REQUESTER, "queue")
