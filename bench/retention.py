"""The personal-data retention pass at scale: the catch-up after an upgrade and the hourly
pass after it, on bench/scale.py's seeded office.

    .venv/bin/python bench/retention.py [--tickets 100000] [--db sqlite|pg|both]
        [--pg postgresql+asyncpg://postgres@127.0.0.1:5432]

bench/scale.py seeds N tickets over three years (2,000 requesters, 40 technicians); here
every ticket gets a contact phone and one in ten a photo, as if the office had run for
three years before issue 25. Then scheduler.ticks.privacy_tick runs as the leader's
hourly job does (no pause between batches here): first the catch-up (every phone of a
ticket ended 30+ days ago, every photo of one ended 180+ days ago, every requester idle
730+ days), then the steady pass an hour later, which finds next to nothing due. Printed:
wall time of each pass, how many moves, and the longest single batch (one transaction:
on SQLite, how long it holds the write lock users' updates queue behind). Never fails on
time; a shared 2-core machine: compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, text, update
from sqlmodel import col, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import scale
from scheduler.ticks import privacy_tick
from store.db import create_engine
from store.migrate import upgrade
from store.models import Ticket, TicketPhoto
from store.uow import Store


class Longest:
    """The pause between batches, used to time each batch (the time since the last one)."""

    def __init__(self) -> None:
        self.mark = time.perf_counter()
        self.longest = 0.0

    async def pause(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.mark)
        self.mark = now


async def _dress(store: Store) -> None:
    """Every ticket a contact phone, one in ten a photo."""
    async with store.uow() as uow:
        await uow.session.execute(update(Ticket).values(contact_phone="+86 138 0000 0000"))
        await uow.commit()
    async with store.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO ticketphoto (ticket_id, position, file_id, kind) "
                "SELECT id, 0, 'AgAD-bench-' || id, 'report' FROM ticket WHERE id % 10 = 0"
            )
        )


async def _pass(store: Store, label: str) -> None:
    timer = Longest()
    started = time.perf_counter()
    done = await privacy_tick(store, pause=timer.pause)
    wall = time.perf_counter() - started
    timer.longest = max(timer.longest, time.perf_counter() - timer.mark)
    counts = ", ".join(f"{k} {len(v):,}" for k, v in done.items())
    print(
        f"  {store.engine.dialect.name:10} {label:8} {wall * 1000:9.0f} ms   "
        f"longest batch {timer.longest * 1000:6.0f} ms   {counts}"
    )


async def run(url: str, n: int) -> None:
    await upgrade(url)
    now = [scale.NOW]
    store = Store(create_engine(url), clock=lambda: now[0])
    try:
        started = time.perf_counter()
        await scale.seed(store, n)
        await _dress(store)
        await scale.vacuum(store)
        print(f"  seeded {n:,} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        await _pass(store, "catch-up")
        now[0] += timedelta(hours=1)
        await _pass(store, "hourly")
        async with store.read() as uow:
            left = await uow.session.execute(
                select(func.count())
                .select_from(Ticket)
                .where(col(Ticket.contact_phone).is_not(None))
            )
            photos = await uow.session.execute(select(func.count()).select_from(TicketPhoto))
            print(
                f"  {store.engine.dialect.name:10} left: {left.scalar_one():,} phones "
                f"(open or ended < 30 days), {photos.scalar_one():,} photos",
            )
    finally:
        await store.dispose()


async def on_sqlite(n: int, _pg: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite+aiosqlite:///{tmp}/retention.db", n)


async def on_postgres(n: int, pg: str) -> None:
    name = f"repairbot_retention_{secrets.token_hex(4)}"
    admin = create_engine(f"{pg}/postgres")
    try:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        await run(f"{pg}/{name}", n)
    finally:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "pg", "both"], default="both")
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    runs: list[Callable[[int, str], Awaitable[None]]] = []
    if args.db in ("sqlite", "both"):
        runs.append(on_sqlite)
    if args.db in ("pg", "both"):
        runs.append(on_postgres)
    print(f"retention pass, {args.tickets:,} tickets over three years")
    for fn in runs:
        await fn(args.tickets, args.pg)


if __name__ == "__main__":
    asyncio.run(main())
