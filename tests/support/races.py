"""Racing actions on one ticket, for the race tests and bench/race_outcomes.py: what a
round's outcome is, every outcome a serial history allows, and the means to make a race
real (a warm connection pool, jittered commits)."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import func, text
from sqlmodel import col, select

from store.errors import DomainError
from store.lifecycle import Status
from store.models import Offer, Outbox, Ticket, TicketEvent
from store.uow import Store, UnitOfWork
from tests.support.rows import event_lines

Racer = Callable[[Store, int], Awaitable[object]]


async def warm_pool(store: Store, n: int) -> None:
    """Open `n` pooled connections at once, so a later `gather` of n units really races
    instead of the first one finishing while the others are still connecting."""

    async def hold() -> None:
        async with store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            await asyncio.sleep(0.05)

    await asyncio.gather(*(hold() for _ in range(n)))


@contextmanager
def jittered_commits(rng: random.Random) -> Iterator[None]:
    """Inside, every unit of work waits 0-5 ms before its commit: the interleavings vary."""
    commit = UnitOfWork.commit

    async def jittered(self: UnitOfWork) -> None:
        await asyncio.sleep(rng.uniform(0, 0.005))
        await commit(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(UnitOfWork, "commit", jittered)
        yield


@dataclass(frozen=True)
class Outcome:
    """Everything a person or operator could observe about one ticket after the actions."""

    answers: tuple[str, ...]  # per action: "done" or "refused"
    row: tuple[str, int | None, int | None]  # status, assignee, version (None: not compared)
    events: tuple[tuple[str, Status | None, Status | None, int | None], ...]
    offers: tuple[tuple[int, str | None], ...]
    notices: tuple[tuple[int, str, str], ...]  # recipient, kind, payload


def answer_of(result: object) -> str:
    """What the person who took the action was told: "done", "refused" or an error."""
    if isinstance(result, DomainError):
        return "refused"
    if isinstance(result, BaseException):  # a crash, a deadlock: never an acceptable answer
        return f"error: {type(result).__name__}: {result}"
    return "done"


async def mark(store: Store, ticket_id: int) -> tuple[int, int]:
    """Where the outbox and the ticket's event log stand before the actions."""
    async with store.uow() as uow:
        s = uow.session
        last = (await s.execute(select(func.max(Outbox.id)))).scalar_one()
        events = (
            await s.execute(
                select(func.count())
                .select_from(TicketEvent)
                .where(col(TicketEvent.ticket_id) == ticket_id)
            )
        ).scalar_one()
        return int(last or 0), int(events)


async def observe(
    store: Store,
    ticket_id: int,
    since: tuple[int, int],
    results: Sequence[object],
    *,
    versions: bool = True,
) -> Outcome:
    """The outcome of the actions since `mark` gave `since`; `versions=False` leaves the
    ticket's version out (for trees from before versioned writes)."""
    outbox_after, events_before = since
    async with store.uow() as uow:
        s = uow.session
        row = await s.get(Ticket, ticket_id)
        assert row is not None
        events = (
            await s.execute(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket_id)
                .order_by(col(TicketEvent.id))
            )
        ).scalars()
        offers = (await s.execute(select(Offer).where(Offer.ticket_id == ticket_id))).scalars()
        sent = (
            await s.execute(
                select(Outbox).where(Outbox.ticket_id == ticket_id, col(Outbox.id) > outbox_after)
            )
        ).scalars()
        notices = []
        for r in sent:
            payload = {k: v for k, v in r.payload.items() if k not in ("ticket_id", "number")}
            notices.append((r.recipient_id, r.kind, json.dumps(payload, sort_keys=True)))
        return Outcome(
            answers=tuple(answer_of(r) for r in results),
            row=(str(row.status), row.assignee_id, row.version if versions else None),
            events=tuple(event_lines(list(events)[events_before:])),
            offers=tuple(sorted((o.technician_id, o.outcome) for o in offers)),
            notices=tuple(sorted(notices)),
        )


async def run_serially(
    store: Store,
    setup: Callable[[], Awaitable[int]],
    actions: Sequence[Racer],
    *,
    versions: bool = True,
) -> set[Outcome]:
    """Every outcome a serial history allows: some of the actions applied one after
    another, each succeeding in its turn, and the others refused without a trace (a
    decision taken on a read that another action then changed). Each history is run for
    real, on a ticket of its own."""
    outcomes = set()
    for size in range(1, len(actions) + 1):
        for order in itertools.permutations(range(len(actions)), size):
            ticket_id = await setup()
            since = await mark(store, ticket_id)
            results: list[object] = [DomainError("not applied")] * len(actions)
            try:
                for i in order:
                    results[i] = await actions[i](store, ticket_id)
            except DomainError:
                continue  # not a history in which all of these are applied
            outcomes.add(await observe(store, ticket_id, since, results, versions=versions))
    return outcomes
