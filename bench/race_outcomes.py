"""Racing decisions on one ticket: how many rounds end in a state no serial history gives.

For each scenario the script first runs every serial history for real (some of the actions
applied one after another, each succeeding in its turn, the others refused), then races
the actions N times with `asyncio.gather` (each in its own unit of work and connection,
0-5 ms random delay before each commit) and counts the rounds whose outcome (answers,
ticket status and holder, events, offers, notices with their payloads) is none of them.
"all done" counts rounds where every action was applied, which for these scenarios is a
lost update. PostgreSQL only: SQLite serialises writers, so every round there is serial.

The ticket's version is left out of the comparison, so the script also runs against
trees from before versioned writes that have tests/support (PYTHONPATH=/path/to/old/tree).
The world, the outcome and the serial histories are tests/support's, as the race tests
use them.

    .venv/bin/python bench/race_outcomes.py --rounds 200
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

# For tests.support; appended, so PYTHONPATH can point at another tree.
sys.path.append(str(Path(__file__).resolve().parents[1]))

from store.db import create_engine
from store.migrate import upgrade
from store.repair import dispatch, requester, work
from store.uow import Store
from tests.support.databases import PG_SERVER, throwaway_database
from tests.support.races import (
    Racer,
    jittered_commits,
    mark,
    observe,
    run_serially,
    warm_pool,
)
from tests.support.world import file_ticket, make_env


async def run(server: str, rounds: int) -> None:
    async with throwaway_database(server, prefix="repairbot_bench") as url:
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
        rng = random.Random(1)

        print(f"{'scenario':28}  {'rounds':>6}  {'not serial':>10}  {'all done':>8}")
        print(f"{'-' * 28}  {'-' * 6}  {'-' * 10}  {'-' * 8}")
        for label, setup, actions in scenarios:
            allowed = await run_serially(st, setup, actions, versions=False)
            wrong = all_done = 0
            for _ in range(rounds):
                ticket_id = await setup()
                since = await mark(st, ticket_id)
                with jittered_commits(rng):
                    results = await asyncio.gather(
                        *(a(st, ticket_id) for a in actions), return_exceptions=True
                    )
                outcome = await observe(st, ticket_id, since, results, versions=False)
                wrong += outcome not in allowed
                all_done += all(a == "done" for a in outcome.answers)
            print(f"{label:28}  {rounds:>6}  {wrong:>10}  {all_done:>8}", flush=True)
        await base.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--pg", default=PG_SERVER)
    args = parser.parse_args()
    asyncio.run(run(args.pg, args.rounds))


if __name__ == "__main__":
    main()
