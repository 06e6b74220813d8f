"""Racing decisions on one ticket: how many rounds end in a state no serial history gives.

For each scenario the script first runs every serial history for real (some of the actions
applied one after another, each succeeding in its turn, the others refused), then races
the actions N times with `asyncio.gather` (each in its own unit of work and connection,
0-5 ms random delay before each commit) and counts the rounds whose outcome (answers,
ticket status and holder, events, offers, notices with their payloads) is none of them.
"all done" counts rounds where every action was applied, which for these scenarios is a
lost update. PostgreSQL only: SQLite serialises writers, so every round there is serial.

The ticket's version is left out of the comparison, so the script also runs against
trees from before versioned writes (PYTHONPATH=/path/to/old/tree).

    .venv/bin/python bench/race_outcomes.py --rounds 200
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import secrets
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any
from unittest.mock import patch

from sqlalchemy import func, text
from sqlmodel import col, select

# For tests.integration.ticket_world; appended, so PYTHONPATH can point at another tree.
sys.path.append(str(Path(__file__).resolve().parents[1]))

from store.db import create_engine
from store.errors import DomainError
from store.migrate import upgrade
from store.models import Offer, Outbox, Ticket, TicketEvent
from store.repair import dispatch, requester, work
from store.uow import Store, UnitOfWork
from tests.integration.ticket_world import (
    event_lines,
    file_ticket,
    make_env,
    warm_pool,
)

Racer = Callable[[Store, int], Awaitable[object]]
Outcome = tuple[Any, ...]


async def _admin(server: str, sql: str) -> None:
    engine = create_engine(f"{server}/postgres")
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


def _answer(result: object) -> str:
    if isinstance(result, DomainError):
        return "refused"
    if isinstance(result, BaseException):
        return f"error {type(result).__name__}"
    return "done"


async def _mark(st: Store, ticket_id: int) -> tuple[int, int]:
    async with st.uow() as uow:
        last = (await uow.session.execute(select(func.max(Outbox.id)))).scalar_one()
        events = (
            await uow.session.execute(
                select(func.count())
                .select_from(TicketEvent)
                .where(col(TicketEvent.ticket_id) == ticket_id)
            )
        ).scalar_one()
        return int(last or 0), int(events)


async def _observe(
    st: Store, ticket_id: int, since: tuple[int, int], results: Sequence[object]
) -> Outcome:
    after, events_before = since
    async with st.uow() as uow:
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
                select(Outbox).where(Outbox.ticket_id == ticket_id, col(Outbox.id) > after)
            )
        ).scalars()
        notices = sorted(
            (
                r.recipient_id,
                r.kind,
                json.dumps(
                    {k: v for k, v in r.payload.items() if k not in ("ticket_id", "number")},
                    sort_keys=True,
                ),
            )
            for r in sent
        )
        return (
            tuple(_answer(r) for r in results),
            (str(row.status), row.assignee_id),
            tuple(event_lines(list(events)[events_before:])),
            tuple(sorted((o.technician_id, o.outcome) for o in offers)),
            tuple(notices),
        )


async def _serial(
    st: Store, setup: Callable[[], Awaitable[int]], actions: Sequence[Racer]
) -> set[Outcome]:
    outcomes = set()
    for size in range(1, len(actions) + 1):
        for order in itertools.permutations(range(len(actions)), size):
            ticket_id = await setup()
            since = await _mark(st, ticket_id)
            results: list[object] = [DomainError("not applied")] * len(actions)
            try:
                for i in order:
                    results[i] = await actions[i](st, ticket_id)
            except DomainError:
                continue
            outcomes.add(await _observe(st, ticket_id, since, results))
    return outcomes


async def run(server: str, rounds: int) -> None:
    name = f"repairbot_bench_{secrets.token_hex(4)}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    try:
        url = f"{server}/{name}"
        await upgrade(url)
        base = Store(create_engine(url))
        env = await make_env(base, offer_batch=10)
        st, w = env.store, env.world

        async def held_by_tom() -> int:
            ticket_id = (await file_ticket(st, w)).ticket.id
            await dispatch.accept(st.uow(), ticket_id, w.tom)
            return ticket_id

        async def dispatching() -> int:
            return (await file_ticket(st, w)).ticket.id

        def to(dispatcher: int, tech: int, replacing: int | None) -> Racer:
            return lambda s, t: dispatch.assign(s.uow(), t, dispatcher, tech, replacing=replacing)

        def start(s: Store, t: int) -> Awaitable[object]:
            return work.start(s.uow(), t, w.tom)

        def release(s: Store, t: int) -> Awaitable[object]:
            return dispatch.release(s.uow(), t, w.tom, "No part")

        def accept(s: Store, t: int) -> Awaitable[object]:
            return dispatch.accept(s.uow(), t, w.ann)

        def cancel(s: Store, t: int) -> Awaitable[object]:
            return requester.cancel(s.uow(), t, w.requester)

        scenarios: list[tuple[str, Callable[[], Awaitable[int]], list[Racer]]] = [
            ("double reassign", held_by_tom, [to(w.dana, w.ann, w.tom), to(w.ada, w.olga, w.tom)]),
            ("reassign vs start", held_by_tom, [to(w.dana, w.ann, w.tom), start]),
            ("reassign vs release", held_by_tom, [to(w.dana, w.ann, w.tom), release]),
            ("accept vs assign vs cancel", dispatching, [accept, to(w.dana, w.tom, None), cancel]),
        ]
        await warm_pool(st, 3)
        commit = UnitOfWork.commit
        rng = random.Random(1)

        async def jittered(self: UnitOfWork) -> None:
            await asyncio.sleep(rng.uniform(0, 0.005))
            await commit(self)

        print(f"{'scenario':28}  {'rounds':>6}  {'not serial':>10}  {'all done':>8}")
        print(f"{'-' * 28}  {'-' * 6}  {'-' * 10}  {'-' * 8}")
        for label, setup, actions in scenarios:
            allowed = await _serial(st, setup, actions)
            wrong = all_done = 0
            for _ in range(rounds):
                ticket_id = await setup()
                since = await _mark(st, ticket_id)
                with patch.object(UnitOfWork, "commit", jittered):
                    results = await asyncio.gather(
                        *(a(st, ticket_id) for a in actions), return_exceptions=True
                    )
                outcome = await _observe(st, ticket_id, since, results)
                wrong += outcome not in allowed
                all_done += all(a == "done" for a in outcome[0])
            print(f"{label:28}  {rounds:>6}  {wrong:>10}  {all_done:>8}", flush=True)
        await base.dispose()
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    asyncio.run(run(args.pg, args.rounds))


if __name__ == "__main__":
    main()
