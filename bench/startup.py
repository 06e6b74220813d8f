"""Starting on a big database left behind by the clock: how soon and how fast does a user
get answers while the scheduler catches up? Prints a table.

    .venv/bin/python bench/startup.py [--tickets 100000] [--overdue 5000]

Seeds a SQLite file with bulk inserts: the sample campus, `--tickets` tickets (all closed
but `--overdue` in progress, past their completion target and not yet flagged) and one
admin who gets the overdue notices. Then starts the real bot (bot/app.py with its
scheduler and outbox sender) against the sandbox Bot API; a user sends /start at once and
/my every 100 ms until the scheduler has flagged every overdue ticket. Reported: the first
answer after start, the answers' p50/p95/max during the catch-up, how long the catch-up
took, and the process's peak RSS (bot, stand-in and client share this process). Never
fails on time.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import col, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import BotApp, build_application
from bot.settings import Settings
from sandbox.server import SandboxServer
from sandbox.testing import start_polling
from store.db import create_engine
from store.directory import places, profiles, staff
from store.directory.categories import sync_categories
from store.directory.location_csv import parse_locations_csv
from store.lifecycle import Role, Status
from store.migrate import upgrade
from store.models import Category, Person, Room, Ticket
from store.uow import Store, utcnow

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "campus.csv"
ADMIN = 60_000
USER = 60_001


def rss_mib() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def seed(store: Store, tickets: int, overdue: int) -> None:
    rows = parse_locations_csv(SAMPLE.read_text(encoding="utf-8-sig"))
    await places.import_locations(store.uow(), rows)
    await sync_categories(store.uow(), store.policy)
    await staff.add_staff(store.uow(), ADMIN, Role.ADMIN, name="Office")
    await profiles.ensure_person(store.uow(), ADMIN, "Office", "en")
    requester = await profiles.ensure_person(store.uow(), 60_002, "Requester", "en")
    async with store.uow() as uow:
        rooms = list((await uow.session.execute(select(Room.id))).scalars())
        categories = list((await uow.session.execute(select(Category.id))).scalars())
    now = utcnow()
    old = now - timedelta(days=30)
    batch = []
    async with store.uow() as uow:
        for i in range(tickets):
            late = i >= tickets - overdue
            batch.append(
                {
                    "number": f"2026-{i + 1:06d}",
                    "status": Status.IN_PROGRESS if late else Status.CLOSED,
                    "requester_id": requester.id,
                    "filed_by_id": requester.id,
                    "room_id": rooms[i % len(rooms)],
                    "category_id": categories[i % len(categories)],
                    "description": "Seeded ticket for the start-up bench.",
                    "accept_due_at": old + timedelta(minutes=30),
                    "due_at": old + timedelta(hours=4),
                    "created_at": old,
                    "updated_at": old,
                    "closed_at": None if late else old + timedelta(days=1),
                }
            )
            if len(batch) == 5000:
                await uow.session.execute(insert(Ticket), batch)
                batch = []
        if batch:
            await uow.session.execute(insert(Ticket), batch)
        await uow.commit()


async def flagged(store: Store) -> int:
    async with store.read() as uow:
        query = select(func.count()).where(col(Ticket.overdue_at).is_not(None))
        return int((await uow.session.execute(query)).scalar_one())


async def run(tickets: int, overdue: int) -> dict[str, float]:
    server = SandboxServer(default_timeout=60)
    await server.start()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/startup.db"
        await upgrade(url)
        store = Store(create_engine(url))
        began = time.perf_counter()
        await seed(store, tickets, overdue)
        seeded = time.perf_counter() - began
        async with store.read() as uow:
            assert (await uow.session.execute(select(func.count(col(Person.id))))).scalar_one()
        await store.dispose()
        rss_before = rss_mib()
        settings = Settings.model_validate(
            {
                "telegram": {
                    "token": server.token,
                    "api_url": server.base_url,
                    "file_url": server.base_file_url,
                },
                "database": {"url": url},
            }
        )
        store = Store(create_engine(url), settings.policy())
        user = server.client.user(USER, "Walk-in")
        await server.client.user(ADMIN, "Office").command("start")
        start = time.perf_counter()
        await user.command("start")
        app: BotApp = build_application(settings, store, sender_poll_interval=0.5)
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        await start_polling(app)
        await user.next_message(timeout=60)
        first = time.perf_counter() - start
        answers: list[float] = []
        caught_up = None
        while time.perf_counter() - start < 300:
            sent = time.perf_counter()
            await user.send("/my")
            await user.next_message(timeout=60)
            answers.append(time.perf_counter() - sent)
            if await flagged(store) >= overdue:
                caught_up = time.perf_counter() - start
                break
            await asyncio.sleep(0.1)
        if app.updater is not None:
            await app.updater.stop()
        await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
        await store.dispose()
    await server.stop()
    return {
        "seeded": seeded,
        "first": first,
        "p50": statistics.median(answers),
        "p95": statistics.quantiles(answers, n=20)[18] if len(answers) > 1 else answers[0],
        "max": max(answers),
        "n": len(answers),
        "caught_up": caught_up if caught_up is not None else float("nan"),
        "rss_before": rss_before,
        "rss_peak": rss_mib(),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--overdue", type=int, default=5_000)
    args = parser.parse_args()
    r = await run(args.tickets, args.overdue)
    print(
        f"{args.tickets:,} tickets, {args.overdue:,} overdue and unflagged, SQLite file "
        f"(seeded in {r['seeded']:.1f} s)"
    )
    print()
    print(f"{'measure':<44} {'value':>10}")
    print("-" * 55)
    print(f"{'first answer after start (/start), ms':<44} {r['first'] * 1000:>10.0f}")
    print(f"{'/my during the catch-up, answers':<44} {r['n']:>10.0f}")
    print(f"{'/my during the catch-up, p50 ms':<44} {r['p50'] * 1000:>10.0f}")
    print(f"{'/my during the catch-up, p95 ms':<44} {r['p95'] * 1000:>10.0f}")
    print(f"{'/my during the catch-up, max ms':<44} {r['max'] * 1000:>10.0f}")
    print(f"{'catch-up done after start (first tick 5 s), s':<44} {r['caught_up']:>10.1f}")
    print(f"{'peak RSS before start (after seeding), MiB':<44} {r['rss_before']:>10.0f}")
    print(f"{'peak RSS at the end, MiB':<44} {r['rss_peak']:>10.0f}")


if __name__ == "__main__":
    asyncio.run(main())
