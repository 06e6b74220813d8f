"""Simultaneous presses on real engines: one winner per job, one number per ticket, and a
double tap counts once.

SQLite runs as a file in WAL mode with BEGIN IMMEDIATE (store/db.py), PostgreSQL with
its row locks; each press is its own unit of work on its own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import datetime, timedelta

import pytest

from store.errors import AlreadyTaken, CooldownActive, TransitionNotAllowed
from store.intake.report import follow
from store.lifecycle import Role, Status
from store.repair import dispatch, queries, requester, work
from store.uow import Store, UnitOfWork
from store.views import TicketView
from tests.support.races import warm_pool
from tests.support.rows import events_of, offers_of, outbox_rows, ticket_row
from tests.support.world import file_ticket, make_env, make_person

ROUNDS = 3


def hold_commits(patch: pytest.MonkeyPatch, parties: int, timeout: float = 0.5) -> None:
    """Make each unit of work wait (up to `timeout`) at its commit until `parties` units
    have got there: transactions that can overlap then do, deterministically."""
    barrier = asyncio.Barrier(parties)
    commit = UnitOfWork.commit

    async def held(self: UnitOfWork) -> None:
        with contextlib.suppress(TimeoutError, asyncio.BrokenBarrierError):
            await asyncio.wait_for(barrier.wait(), timeout)
        await commit(self)

    patch.setattr(UnitOfWork, "commit", held)


async def test_five_technicians_accept_at_once_exactly_one_wins(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = await make_env(store, offer_batch=5)
    st, w = env.store, env.world
    extra = [
        (await make_person(st, Role.TECHNICIAN, name=name, campus_id=w.north, on_duty=True)).id
        for name in ("Cy", "Dee", "Eli")
    ]
    techs = [w.tom, w.ann, *extra]
    names = {w.tom: "Tom", w.ann: "Ann", extra[0]: "Cy", extra[1]: "Dee", extra[2]: "Eli"}
    rng = random.Random(20310304)
    for _ in range(ROUNDS):
        result = await file_ticket(st, w)
        t = result.ticket.id
        assert sorted(result.offered_to) == sorted(techs)
        order = rng.sample(techs, len(techs))
        await warm_pool(st, len(order))

        # The first to update holds its commit back a moment: every other press has read
        # the ticket as still open by then and must lose at the conditional UPDATE.
        with monkeypatch.context() as patch:
            hold_commits(patch, parties=len(order), timeout=0.3)
            outcomes = await asyncio.gather(
                *(dispatch.accept(st.uow(), t, tech) for tech in order), return_exceptions=True
            )

        won = [
            (tech, o) for tech, o in zip(order, outcomes, strict=True) if isinstance(o, TicketView)
        ]
        lost = [o for o in outcomes if isinstance(o, AlreadyTaken)]
        assert len(won) == 1, outcomes
        assert len(lost) == 4, outcomes
        winner, view = won[0]
        assert (view.status, view.assignee_id) == (Status.ASSIGNED, winner)
        assert {e.taken_by for e in lost} == {names[winner]}

        row = await ticket_row(st, t)
        assert (row.status, row.assignee_id) == (Status.ASSIGNED, winner)
        accepts = [e for e in await events_of(st, t) if e.action == "accept"]
        assert [(e.actor_id, e.from_status, e.to_status) for e in accepts] == [
            (winner, Status.DISPATCHING, Status.ASSIGNED)
        ]
        assert await offers_of(st, t) == {
            tech: ("accepted" if tech == winner else "taken") for tech in techs
        }
        taken = await outbox_rows(st, ticket_id=t, kind="offer.taken")
        assert sorted(r.recipient_id for r in taken) == sorted(x for x in techs if x != winner)
        assert {r.payload["taken_by"] for r in taken} == {names[winner]}
        assigned = await outbox_rows(st, ticket_id=t, kind="ticket.assigned")
        assert [(r.recipient_id, r.payload["technician"]) for r in assigned] == [
            (w.requester, names[winner])
        ]


async def test_twenty_concurrent_reports_get_distinct_consecutive_numbers(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    first = await file_ticket(st, w)  # the year's counter row exists from here on
    await warm_pool(st, 5)
    results = await asyncio.gather(*(file_ticket(st, w) for _ in range(20)))
    numbers = sorted(r.ticket.number for r in results)
    assert numbers == [f"2031-{n:06d}" for n in range(2, 22)]
    assert first.ticket.number == "2031-000001"
    assert len({r.ticket.id for r in results}) == 20
    for r in results:
        assert r.ticket.status is Status.DISPATCHING
        assert [e.action for e in await events_of(st, r.ticket.id)][:2] == ["file", "dispatch"]


async def test_first_reports_of_a_year_race_for_the_counter_row(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    await warm_pool(st, 5)
    results = await asyncio.gather(*(file_ticket(st, w) for _ in range(8)))
    assert sorted(r.ticket.number for r in results) == [f"2031-{n:06d}" for n in range(1, 9)]


async def test_a_double_tapped_urge_counts_once(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket.id
    await dispatch.accept(st.uow(), t, w.ann)
    await warm_pool(st, 3)
    outcomes = await asyncio.gather(
        *(requester.urge(st.uow(), t, w.requester) for _ in range(3)), return_exceptions=True
    )
    assert sum(isinstance(o, datetime) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, CooldownActive) for o in outcomes) == 2, outcomes
    assert (await ticket_row(st, t)).urge_count == 1
    assert len(await outbox_rows(st, ticket_id=t, kind="job.urged")) == 1
    assert [e.action for e in await events_of(st, t)].count("urge") == 1


async def test_the_last_two_offers_declined_at_once_still_move_on(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = await make_env(store, offer_batch=2)
    st, w = env.store, env.world
    cy = (await make_person(st, Role.TECHNICIAN, name="Cy", campus_id=w.north, on_duty=True)).id
    t = (await file_ticket(st, w)).ticket.id  # offered to Tom and Ann
    await warm_pool(st, 2)
    # Both declines get as far as their commit before either commits (unless one of them
    # is made to wait for the other, which is the point).
    with monkeypatch.context() as patch:
        hold_commits(patch, parties=2)
        await asyncio.gather(
            dispatch.decline(st.uow(), t, w.tom), dispatch.decline(st.uow(), t, w.ann)
        )
    # whoever declined last must hand the job on: here to Cy, the next in line
    assert await offers_of(st, t) == {w.tom: "declined", w.ann: "declined", cy: None}
    assert len(await outbox_rows(st, ticket_id=t, kind="offer.new", recipient=cy)) == 1


async def test_a_double_tapped_follow_adds_one_follower(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket.id
    await warm_pool(st, 2)
    with monkeypatch.context() as patch:
        hold_commits(patch, parties=2)
        outcomes = await asyncio.gather(
            follow(st.uow(), t, w.neighbour),
            follow(st.uow(), t, w.neighbour),
            return_exceptions=True,
        )
    assert list(outcomes) == [None, None]
    assert [e.action for e in await events_of(st, t)].count("follow") == 1
    page = await queries.my_tickets(st.uow(), w.neighbour)
    assert [v.id for v in page.items] == [t]


async def test_a_double_tapped_visit_answer_counts_once(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket.id
    await dispatch.accept(st.uow(), t, w.ann)
    await work.propose_visit(st.uow(), t, w.ann, st.clock() + timedelta(days=1))
    await warm_pool(st, 3)
    outcomes = await asyncio.gather(
        *(work.answer_visit(st.uow(), t, w.requester, accepted=True) for _ in range(3)),
        return_exceptions=True,
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1, outcomes
    assert all(isinstance(o, TransitionNotAllowed) for o in outcomes if isinstance(o, Exception))
    assert (await ticket_row(st, t)).visit_confirmed
    assert len(await outbox_rows(st, ticket_id=t, kind="job.visit_accepted")) == 1
    assert [e.action for e in await events_of(st, t)].count("visit_accepted") == 1
