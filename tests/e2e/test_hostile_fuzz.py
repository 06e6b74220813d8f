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

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any, get_type_hints

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.callbacks import _REGISTRY, Callback
from tests.support.fuzz_steps import (
    ErrorLog,
    FuzzWorld,
    LoopThread,
    Sender,
    Snapshot,
    new_events,
    press,
    send_text,
    start_fuzz_world,
    ticket_snapshot,
)
from tests.support.world import E1

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
CONTROL = "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\u200b\u202e\ufeff\n\t"


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
    world = thread_loop.run(start_fuzz_world(url))
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
        before, buildings, last_event = thread_loop.run(ticket_snapshot(store))
        if kind == "text":
            thread_loop.run(send_text(world, sender, example[2]))
        else:
            thread_loop.run(press(world, sender, kind, example[2], example[3]))
        assert world.errors == [], world.errors
        assert [r.getMessage() for r in errors.records] == []
        after, buildings_after, _ = thread_loop.run(ticket_snapshot(store))
        for ticket_id, now in after.items():
            was = before.get(ticket_id)
            if now != was:
                building = buildings.get(ticket_id, buildings_after[ticket_id])
                assert _may_change(sender, was, building), (role, ticket_id, was, now)
        for ticket_id, actor_id, action in thread_loop.run(new_events(store, last_event)):
            # Everything a press or a message changes is done by, or on behalf of, the sender.
            assert actor_id in (sender.person_id, None), (role, ticket_id, actor_id, action)
            changes.append(action)

    changes: list[str] = []
    rows, buildings, _ = thread_loop.run(ticket_snapshot(store))
    for forged in _forgeries(world, rows, buildings):
        one_update = example(forged)(one_update)
    try:
        one_update()
    finally:
        for logger in watched:
            logger.removeHandler(errors)
        thread_loop.run(world.shutdown())


def _forgeries(
    world: FuzzWorld, rows: Snapshot, buildings: dict[int, int]
) -> list[tuple[Any, ...]]:
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


def test_the_world_gives_each_role_a_say_only_where_it_should() -> None:
    """The rights oracle itself: without this the property above could pass vacuously."""
    tech = Sender("technician", 1, 10, frozenset({1}))
    requester = Sender("requester", 2, 20, frozenset())
    admin = Sender("admin", 3, 30, frozenset(), everywhere=True)
    theirs = ("assigned", None, 20)
    assert _may_change(tech, theirs, 1) and not _may_change(tech, theirs, 2)
    assert _may_change(requester, theirs, 2) and not _may_change(requester, ("x", None, 21), 1)
    assert _may_change(admin, ("x", None, 21), 2)
