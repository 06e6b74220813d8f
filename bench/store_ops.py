"""Store throughput on SQLite and PostgreSQL, side by side in one run. Prints a table.

    .venv/bin/python bench/store_ops.py [--tickets 200] [--pg postgresql+asyncpg://postgres@127.0.0.1:5432]

Measures, per engine: importing the sample campus (3,032 places), filing a ticket (report
with auto-dispatch), a five-way accept race, and draining 500 outbox rows' bookkeeping.
Figures are medians of per-operation wall times on a shared machine: compare ratios
within one run, not absolute numbers across runs. Never fails on time.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import text

from store.db import create_engine
from store.delivery import outbox
from store.directory import places, profiles, staff
from store.directory.categories import sync_categories
from store.directory.location_csv import parse_locations_csv
from store.domain.filing import NewTicket
from store.errors import AlreadyTaken
from store.intake.report import report
from store.lifecycle import Role
from store.migrate import upgrade
from store.repair import dispatch
from store.uow import Store

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "campus.csv"


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


async def run_engine(url: str, tickets: int) -> dict[str, str]:
    await upgrade(url)
    store = Store(create_engine(url))
    try:
        rows = parse_locations_csv(SAMPLE.read_text(encoding="utf-8-sig"))
        t_import = await timed(lambda: places.import_locations(store.uow(), rows))
        await sync_categories(store.uow(), store.policy)
        building = await places.building_by_name(store.uow(), rows[0].building, rows[0].campus)
        room = await places.room_by_code(store.uow(), rows[0].code)
        assert room is not None
        techs = []
        for i in range(5):
            tg = 9_000_000 + i
            await staff.add_staff(store.uow(), tg, Role.TECHNICIAN, building_ids=[building.id])
            view = await profiles.ensure_person(store.uow(), tg, f"Tech {i}", "en")
            await staff.set_duty(store.uow(), view.id, True)
            techs.append(view.id)
        requester = await profiles.ensure_person(store.uow(), 8_000_000, "Requester", "en")
        file_times, race_times, ids = [], [], []
        for _ in range(tickets):
            new = NewTicket(requester.id, room.room_id, "water", "Tap drips")
            start = time.perf_counter()
            result = await report(store.uow(), new)
            file_times.append(time.perf_counter() - start)
            ids.append(result.ticket.id)
        for ticket_id in ids[: min(50, len(ids))]:

            async def press(tech: int, ticket_id: int = ticket_id) -> bool:
                try:
                    await dispatch.accept(store.uow(), ticket_id, tech)
                    return True
                except AlreadyTaken:
                    return False

            start = time.perf_counter()
            winners = await asyncio.gather(*(press(t) for t in techs))
            race_times.append(time.perf_counter() - start)
            assert sum(winners) == 1
        # Up to 500 notices, read as the sender reads them (each chat's next one per round).
        marked, marking = 0, 0.0
        while marked < 500 and (notices := await outbox.next_per_chat(store.uow(), limit=500)):
            start = time.perf_counter()
            for n in notices[: 500 - marked]:
                await outbox.mark_sent(store.uow(), n.id, 1)
            marking += time.perf_counter() - start
            marked += len(notices[: 500 - marked])
        drain = marking / max(marked, 1)
        return {
            "import 3,032 places (s)": f"{t_import:.2f}",
            "report, median (ms)": f"{statistics.median(file_times) * 1000:.1f}",
            "report, p90 (ms)": f"{sorted(file_times)[int(len(file_times) * 0.9)] * 1000:.1f}",
            "5-way accept race, median (ms)": f"{statistics.median(race_times) * 1000:.1f}",
            "mark_sent per notice (ms)": f"{drain * 1000:.2f}",
        }
    finally:
        await store.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    results: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite file"] = await run_engine(
            f"sqlite+aiosqlite:///{tmp}/bench.db", args.tickets
        )
    name = f"repairbot_bench_{secrets.token_hex(4)}"
    admin = create_engine(f"{args.pg}/postgres")
    try:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        results["PostgreSQL"] = await run_engine(f"{args.pg}/{name}", args.tickets)
    except OSError as exc:
        print(f"PostgreSQL skipped: {exc}")
    finally:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
    engines = list(results)
    metrics = list(next(iter(results.values())))
    width = max(len(m) for m in metrics) + 2
    print("metric".ljust(width) + "".join(e.rjust(14) for e in engines))
    for metric in metrics:
        print(metric.ljust(width) + "".join(results[e][metric].rjust(14) for e in engines))


if __name__ == "__main__":
    asyncio.run(main())
