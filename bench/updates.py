"""What one update costs the bot, beside a bare python-telegram-bot handler. Prints a table.

    .venv/bin/python bench/updates.py [--users 40] [--db sqlite|postgres]

Feeds the whole report flow (QR /start → category → the one message (a text) → Submit:
4 updates per user) through `Application.process_update` in process,
with every Bot API call answered from memory by PTB's request hook (bench/stub_api.py), on
a SQLite file with the sample campus (synchronous=FULL, the default; bench/durability.py
compares it with NORMAL). In the same run, a bare PTB Application whose /start
handler sends one reply gets as many updates, before and after the flow (the ratios are to
the mean of the two: this machine's speed drifts within a run). CPU is process time (all
threads, so aiosqlite's worker thread counts); wall is perf_counter. SQL statements and
transactions per update are counted on the engine. Never fails on time.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stub_api import StubRequest, Users
from bot.app import build_application
from bot.inbox import InboxApplication
from bot.settings import Settings
from store.db import create_engine
from store.deeplink import room_payload
from store.directory import places
from store.directory.categories import sync_categories
from store.directory.location_csv import parse_locations_csv
from store.migrate import upgrade
from store.uow import Store

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "campus.csv"
TOKEN = f"123456:{secrets.token_urlsafe(24)}"


class Costs:
    """CPU and wall time of each measured update."""

    def __init__(self) -> None:
        self.cpu: list[float] = []
        self.wall: list[float] = []

    async def measure(self, work: Callable[[], Awaitable[object]]) -> None:
        cpu, wall = time.process_time(), time.perf_counter()
        await work()
        self.cpu.append(time.process_time() - cpu)
        self.wall.append(time.perf_counter() - wall)


def counting(store: Store) -> dict[str, int]:
    """SQL statements and transactions (BEGINs) on the store's engine."""
    counts = {"sql": 0, "tx": 0, "commit": 0}

    def on_execute(*_: Any) -> None:
        counts["sql"] += 1

    def on_begin(*_: Any) -> None:
        counts["tx"] += 1

    def on_commit(*_: Any) -> None:
        counts["commit"] += 1

    event.listen(store.engine.sync_engine, "before_cursor_execute", on_execute)
    event.listen(store.engine.sync_engine, "begin", on_begin)
    event.listen(store.engine.sync_engine, "commit", on_commit)
    return counts


async def report_flow(
    app: Application[Any, Any, Any, Any, Any, Any],
    api: StubRequest,
    users: Users,
    user: int,
    code: str,
    costs: Costs,
) -> None:
    """One user files a report through the guided flow; each update is measured."""

    async def feed(update: Update) -> None:
        await costs.measure(lambda: app.process_update(update))

    def press(label: str) -> Update:
        return users.press(user, api.button(user, label), api.last[user])

    await feed(users.text(user, f"/start {room_payload(code)}"))
    await feed(press("🚰 Water & plumbing"))
    await feed(users.text(user, "The tap in the corner drips all night."))
    await feed(press("✅ Submit"))
    if "Submitted" not in api.last[user]["text"]:
        raise RuntimeError(f"the flow did not file a ticket: {api.last[user]['text']!r}")


async def bare(n: int) -> Costs:
    """A bare PTB Application: /start answered with one message."""
    api = StubRequest()
    app = ApplicationBuilder().token(TOKEN).request(api).build()

    async def start(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await update.effective_chat.send_message("Hello")

    app.add_handler(CommandHandler("start", start))
    costs = Costs()
    await app.initialize()
    users = Users(app.bot)
    for i in range(n):
        update = users.text(10_000 + i, "/start")
        await costs.measure(partial(app.process_update, update))
    await app.shutdown()
    return costs


async def bare_with_write(n: int, url: str) -> Costs:
    """The same bare /start, plus what every step of a guided flow needs at least: one
    committed write (a one-row UPDATE through the project's engine on `url`, which the
    caller migrated), the floor the flow's cost is better read against."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO counter (name, last) VALUES ('bench', 0)"))
    api = StubRequest()
    app = ApplicationBuilder().token(TOKEN).request(api).build()

    async def start(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE counter SET last = last + 1 WHERE name = 'bench'"))
        await update.effective_chat.send_message("Hello")

    app.add_handler(CommandHandler("start", start))
    costs = Costs()
    await app.initialize()
    users = Users(app.bot)
    await app.process_update(users.text(9_999, "/start"))  # the pool's first connection
    for i in range(n):
        update = users.text(10_000 + i, "/start")
        await costs.measure(partial(app.process_update, update))
    await app.shutdown()
    await engine.dispose()
    return costs


async def full(
    url: str, n_users: int, synchronous: str = "full", polling: bool = False
) -> tuple[Costs, dict[str, int], int, int]:
    """The project's Application on `url`, n_users reports; returns costs and counts.
    `synchronous`: SQLite's PRAGMA (the default, "full", syncs at every commit).
    `polling`: as the polling leader runs it (bot/polling.py), updates above the last one
    marked handled skip the handled check, and the marks are the poller's, which one at a
    time never need one (each is confirmed by the next getUpdates); else each is checked
    and marked, as in webhook mode."""
    store = Store(create_engine(url, synchronous=synchronous))
    rows = parse_locations_csv(SAMPLE.read_text(encoding="utf-8-sig"))
    await places.import_locations(store.uow(), rows)
    await sync_categories(store.uow(), store.policy)
    settings = Settings.model_validate(
        {"telegram": {"token": TOKEN}, "database": {"url": url, "sqlite_synchronous": synchronous}}
    )
    api = StubRequest()
    app = build_application(settings, store, with_scheduler=False, request=api)
    await app.initialize()
    if polling:
        assert isinstance(app, InboxApplication)
        app.unseen_above = 0
        app.mark_later = lambda _: True
    users = Users(app.bot)
    warm = Costs()
    await report_flow(app, api, users, 1, rows[0].code, warm)  # caches, pools, imports
    counts = counting(store)
    api.calls = 0
    costs = Costs()
    for i in range(n_users):
        await report_flow(app, api, users, 100 + i, rows[(i + 1) % len(rows)].code, costs)
    calls = api.calls
    await app.shutdown()
    await store.dispose()
    return costs, counts, calls, len(costs.cpu)


def us(values: list[float]) -> float:
    return statistics.median(values) * 1e6


def mean_us(values: list[float]) -> float:
    return statistics.fmean(values) * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432")
    parser.add_argument(
        "--polling",
        action="store_true",
        help="updates skip the handled check as the polling leader's do (default: checked)",
    )
    args = parser.parse_args()
    n = args.users * 7
    with tempfile.TemporaryDirectory() as tmp:
        floor_url = f"sqlite+aiosqlite:///{tmp}/floor.db"
        await upgrade(floor_url)
        # The bare handler before and after: this machine's speed drifts within a run, and
        # the first rows must not pay for what the flow left behind (threads, garbage).
        base = await bare(n)
        floor = await bare_with_write(n, floor_url)
        if args.db == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
            await upgrade(url)
            result = await full(url, args.users, polling=args.polling)
        else:
            name = f"bench_updates_{secrets.token_hex(4)}"
            admin = create_engine(f"{args.pg}/postgres")
            async with admin.connect() as conn:
                await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(
                    text(f'CREATE DATABASE "{name}"')
                )
            try:
                await upgrade(f"{args.pg}/{name}")
                result = await full(f"{args.pg}/{name}", args.users, polling=args.polling)
            finally:
                async with admin.connect() as conn:
                    await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(
                        text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    )
                await admin.dispose()
        costs, counts, calls, n = result
        base_after = await bare(n)
    check = "and mark left to the poller (polling)" if args.polling else "and mark per update"
    print(
        f"report flow: {args.users} users x 4 updates on {args.db}, handled check {check}; "
        f"bare: {n} /start updates"
    )
    print()
    head = f"{'handler':<26} {'CPU µs p50':>11} {'CPU µs mean':>12} {'wall µs p50':>12} "
    print(head + f"{'wall µs mean':>13} {'x bare CPU':>11}")
    print("-" * (len(head) + 26))
    b_cpu = (mean_us(base.cpu) + mean_us(base_after.cpu)) / 2  # the ratios' unit
    rows = (
        ("bare PTB /start + reply", base),
        ("bare + one SQLite write", floor),
        ("repairbot report flow", costs),
        ("bare PTB, again after", base_after),
    )
    for label, c in rows:
        print(
            f"{label:<26} {us(c.cpu):>11.0f} {mean_us(c.cpu):>12.0f} {us(c.wall):>12.0f} "
            f"{mean_us(c.wall):>13.0f} {mean_us(c.cpu) / b_cpu:>11.1f}"
        )
    print()
    print(
        f"per update: {counts['sql'] / n:.1f} SQL statements, {counts['tx'] / n:.2f} "
        f"transactions ({counts['commit'] / n:.2f} commits), {calls / n:.2f} Bot API calls"
    )


if __name__ == "__main__":
    asyncio.run(main())
