"""Decisions racing on one ticket end as if they had been taken one after another.

Each round files a fresh ticket, brings it to the starting state, then runs the racing
actions with `asyncio.gather`, every one in its own unit of work on its own pooled
connection, each waiting a small random delay before its commit. The outcome (who was
answered "done" and who was refused, the ticket row with its version, the event log, the
offers and every outbox notice with its payload) must equal the outcome of one of the
serial orders, which the test computes by running each order one action at a time on a
ticket of its own. A serial history here applies some of the actions one after another
(each succeeding in its turn) and refuses the others without a trace: a decision taken on
a read that another action changed before it could write is refused, not applied. So no
lost update (two "done"s where no order allows both), no half-applied action, and nobody
is told about something that did not happen.

Rounds: 200 per scenario on PostgreSQL, where the race is real (READ COMMITTED, row
locks); 50 on SQLite, which serialises writers (BEGIN IMMEDIATE) so every round is serial
anyway. REPAIRBOT_RACE_ROUNDS overrides both.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Awaitable, Callable, Sequence

import pytest

from bot.i18n import Texts
from bot.ui import error_text
from store.domain.tickets import load, move
from store.errors import TicketChanged
from store.lifecycle import Action, Status
from store.repair import dispatch, requester, work
from store.uow import Store
from tests.support.races import (
    Outcome,
    Racer,
    jittered_commits,
    mark,
    observe,
    run_serially,
    warm_pool,
)
from tests.support.rows import events_of, outbox_rows, ticket_row
from tests.support.world import Env, file_ticket, make_env


def rounds(store: Store) -> int:
    default = 200 if store.engine.dialect.name == "postgresql" else 50
    return int(os.environ.get("REPAIRBOT_RACE_ROUNDS", default))


async def race(
    env: Env,
    setup: Callable[[], Awaitable[int]],
    actions: Sequence[Racer],
    *,
    seed: int,
) -> tuple[set[Outcome], list[Outcome]]:
    st = env.store
    serial = await run_serially(st, setup, actions)
    await warm_pool(st, len(actions))
    rng = random.Random(seed)
    seen = []
    for _ in range(rounds(st)):
        ticket_id = await setup()
        since = await mark(st, ticket_id)
        with jittered_commits(rng):
            results = await asyncio.gather(
                *(action(st, ticket_id) for action in actions), return_exceptions=True
            )
        outcome = await observe(st, ticket_id, since, list(results))
        assert outcome in serial, (outcome, serial)
        seen.append(outcome)
    return serial, seen


async def assigned_to_tom(env: Env) -> int:
    ticket_id = (await file_ticket(env.store, env.world)).ticket.id
    await dispatch.accept(env.store.uow(), ticket_id, env.world.tom)
    return ticket_id


async def test_two_dispatchers_reassigning_at_once_one_wins(store: Store) -> None:
    env = await make_env(store, offer_batch=10)
    w = env.world

    async def to_ann(st: Store, t: int) -> object:
        return await dispatch.assign(st.uow(), t, w.dana, w.ann, replacing=w.tom)

    async def to_olga(st: Store, t: int) -> object:
        return await dispatch.assign(st.uow(), t, w.ada, w.olga, replacing=w.tom)

    serial, seen = await race(env, lambda: assigned_to_tom(env), [to_ann, to_olga], seed=11)
    # Exactly one reassign is ever applied; Tom is told once, and only the winner is told
    # they got the job.
    for outcome in seen:
        assert sorted(outcome.answers) == ["done", "refused"]
        unassigned = [n for n in outcome.notices if n[1] == "job.unassigned"]
        assert [n[0] for n in unassigned] == [w.tom]
        got = [n[0] for n in outcome.notices if n[1] == "job.assigned"]
        assert got == [outcome.row[1]]
    assert {o.row[1] for o in serial} == {w.ann, w.olga}


async def test_a_reassign_racing_the_old_assignees_start(store: Store) -> None:
    env = await make_env(store, offer_batch=10)
    w = env.world

    async def reassign(st: Store, t: int) -> object:
        return await dispatch.assign(st.uow(), t, w.dana, w.ann, replacing=w.tom)

    async def start(st: Store, t: int) -> object:
        return await work.start(st.uow(), t, w.tom)

    _serial, seen = await race(env, lambda: assigned_to_tom(env), [reassign, start], seed=12)
    for outcome in seen:
        status, assignee, _version = outcome.row
        # Never "in progress under Ann, started by Tom".
        assert (status, assignee) in (("assigned", w.ann), ("in_progress", w.tom))
        assert sorted(outcome.answers) == ["done", "refused"]


async def test_a_reassign_racing_the_old_assignees_release(store: Store) -> None:
    env = await make_env(store, offer_batch=10)
    w = env.world

    async def reassign(st: Store, t: int) -> object:
        return await dispatch.assign(st.uow(), t, w.dana, w.ann, replacing=w.tom)

    async def release(st: Store, t: int) -> object:
        return await dispatch.release(st.uow(), t, w.tom, "Needs a part I don't carry")

    _serial, seen = await race(env, lambda: assigned_to_tom(env), [reassign, release], seed=13)
    for outcome in seen:
        status, assignee, _version = outcome.row
        # Never "Ann silently unassigned": either Ann holds it, or it is back in the pool.
        assert (status, assignee) in (("assigned", w.ann), ("dispatching", None))


async def test_accept_assign_and_cancel_at_once(store: Store) -> None:
    env = await make_env(store, offer_batch=10)
    w = env.world

    async def dispatching() -> int:
        return (await file_ticket(env.store, w)).ticket.id  # offered to Tom and Ann

    async def accept(st: Store, t: int) -> object:
        return await dispatch.accept(st.uow(), t, w.ann)

    async def assign(st: Store, t: int) -> object:
        return await dispatch.assign(st.uow(), t, w.dana, w.tom, replacing=None)

    async def cancel(st: Store, t: int) -> object:
        return await requester.cancel(st.uow(), t, w.requester)

    serial, seen = await race(env, dispatching, [accept, assign, cancel], seed=14)
    for outcome in seen:
        # Accept and assign never both apply; a cancelled job tells at most its one holder.
        assert outcome.answers[:2] != ("done", "done")
        if outcome.row[0] == "cancelled":
            holders = [n[0] for n in outcome.notices if n[1] == "job.cancelled"]
            assert len(holders) <= 1
    assert {o.row[0] for o in serial} == {"assigned", "cancelled"}


async def test_a_stale_decision_is_refused_with_what_the_job_is_now(store: Store) -> None:
    """Tom decides to start on what he read; Dana's reassign commits before his write: the
    write is refused, and he is told what the job is now. Nothing of his is applied."""
    env = await make_env(store, offer_batch=10)
    st, w = env.store, env.world
    t = await assigned_to_tom(env)
    async with st.uow() as uow:
        read = await load(uow, t, w.tom)  # what Tom's decision is based on
    await dispatch.assign(st.uow(), t, w.dana, w.ann, replacing=w.tom)
    async with st.uow() as uow:
        ctx = await load(uow, t, w.tom)
        ctx.capacities, ctx.version = read.capacities, read.version  # decided on that read
        with pytest.raises(TicketChanged) as refused:
            await move(uow, ctx, Action.START, started_at=uow.now())
        await uow.commit()  # nothing to commit: the refused write wrote nothing
    assert refused.value.params == {"action": "start", "status": "assigned", "assignee": "Ann"}
    shown = error_text(Texts("en", "UTC"), refused.value.code, refused.value.params)
    assert shown.startswith("This job changed a moment ago: it is now 👷 Assigned, with Ann.")
    row = await ticket_row(st, t)
    assert (row.status, row.assignee_id, row.started_at) == (Status.ASSIGNED, w.ann, None)
    assert [e.action for e in await events_of(st, t)].count("start") == 0
    assert await outbox_rows(st, ticket_id=t, kind="ticket.in_progress") == []
