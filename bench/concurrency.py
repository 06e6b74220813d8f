"""Many users at once over the sandbox Bot API: one update at a time vs per-chat order with
chats side by side. Prints a table.

    .venv/bin/python bench/concurrency.py [--users 20,100] [--rounds 5] [--slow-delay 5]

Each user, in a loop, sends /help and /my back to back and waits for both answers (one
round trip: the time until the second answer). The same bot (bot/app.py, its rate limiter,
a SQLite file) runs twice per size: with PTB's one-at-a-time processing (what main did)
and with bot/processor.py. An order violation is a round whose /my answer came before its
/help answer. The stand-in and the users run in a child process, so the bot's process
has its own core as it would in production and its CPU per round trip is the bot's alone
(`--one-process` puts them all in one process, as this bench did at first). The slow-chat
case: one user's every Telegram call is held `--slow-delay` seconds (PTB's request hook);
how long do the other users wait for /start? Never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.ext import SimpleUpdateProcessor
from telegram.request import HTTPXRequest, RequestData

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import BotApp, build_application
from bot.settings import Settings
from sandbox.client import UserHandle
from sandbox.server import SandboxServer
from sandbox.testing import start_polling
from store.db import create_engine
from store.migrate import upgrade
from store.uow import Store

HELP = "Use /report to report a repair"
MY = "You have no tickets yet."


class SlowChatRequest(HTTPXRequest):
    """The bot's HTTP client, holding every call to one chat for `delay` seconds."""

    def __init__(self, slow_chat: int | None, delay: float) -> None:
        super().__init__(connection_pool_size=256)
        self.slow_chat = slow_chat
        self.delay = delay

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        chat = request_data.parameters.get("chat_id") if request_data is not None else None
        if chat is not None and chat == self.slow_chat:
            await asyncio.sleep(self.delay)
        return await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )


async def started_bot(
    server: SandboxServer, store: Store, url: str, sequential: bool, request: HTTPXRequest
) -> BotApp:
    return await started_bot_at(
        server.token, server.base_url, server.base_file_url, store, url, sequential, request
    )


async def started_bot_at(
    token: str,
    base_url: str,
    file_url: str,
    store: Store,
    url: str,
    sequential: bool,
    request: HTTPXRequest | None = None,
) -> BotApp:
    settings = Settings.model_validate(
        {
            "telegram": {"token": token, "api_url": base_url, "file_url": file_url},
            "database": {"url": url},
        }
    )
    request = request or SlowChatRequest(None, 0)
    app = build_application(settings, store, with_scheduler=False, request=request)
    if sequential:
        # What PTB does without concurrent_updates: the next update waits for this one.
        app._update_processor = SimpleUpdateProcessor(1)
    await app.initialize()
    await start_polling(app)
    return app


def counted_calls(app: BotApp) -> Counter[str]:
    """Bot API calls by method from here on, getUpdates included (PTB keeps two HTTP
    clients: `bot._request` is (getUpdates', everything else's))."""
    calls: Counter[str] = Counter()
    for request in app.bot._request:
        call = request.do_request

        async def counting(url: str, *args: Any, _call: Any = call, **kwargs: Any) -> Any:
            calls[url.rsplit("/", 1)[-1]] += 1
            return await _call(url, *args, **kwargs)

        request.do_request = counting
    return calls


async def stopped(app: BotApp) -> None:
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()


async def rounds_of(
    user: UserHandle, rounds: int, times: list[float], violations: list[int]
) -> None:
    for _ in range(rounds):
        start = time.perf_counter()
        await user.send("/help")
        await user.send("/my")
        first, second = await user.collect(2, timeout=120)
        times.append(time.perf_counter() - start)
        if HELP not in (first.text or "") or MY not in (second.text or ""):
            violations.append(user.id)


async def users_side(
    server: SandboxServer, users: int, rounds: int, warmed: Callable[[], Awaitable[None]]
) -> tuple[list[float], list[int], float]:
    """The users: each known to the bot first (then `warmed`), then their rounds, all at
    once."""
    handles = [server.client.user(70_000 + i, f"U{i}", language_code="en") for i in range(users)]
    for h in handles:  # each user known to the bot before the clock starts
        await h.command("start")
        await h.next_message(timeout=120)
    await warmed()
    times: list[float] = []
    violations: list[int] = []
    start = time.perf_counter()
    await asyncio.gather(*(rounds_of(h, rounds, times, violations) for h in handles))
    return times, violations, time.perf_counter() - start


def users_process(pipe: Connection, users: int, rounds: int) -> None:
    """Child process: the stand-in and the users. Out: its addresses, "warm" once every
    user has been answered once, the results. In: "start" (the bot polls), "go" (the
    bot's clock runs), "stopped" (the bot no longer polls; the stand-in may go)."""

    async def warmed() -> None:
        pipe.send("warm")
        await asyncio.to_thread(pipe.recv)

    async def run() -> None:
        server = SandboxServer(default_timeout=120)
        await server.start()
        pipe.send((server.token, server.base_url, server.base_file_url))
        await asyncio.to_thread(pipe.recv)
        pipe.send(await users_side(server, users, rounds, warmed))
        await asyncio.to_thread(pipe.recv)
        await server.stop()

    asyncio.run(run())


async def load_case(
    users: int, rounds: int, sequential: bool, one_process: bool
) -> dict[str, float]:
    """One size and processor: round trips per second, their p50/p95, the bot's CPU per
    round trip (its whole process's in --one-process), its getUpdates polls and other
    Bot API calls per round trip, and order violations."""
    clock: list[float] = []
    calls: list[Counter[str]] = []

    async def warmed() -> None:
        clock.append(time.process_time())
        calls.append(counted_calls(app))

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/c.db"
        await upgrade(url)
        store = Store(create_engine(url))
        if one_process:
            server = SandboxServer(default_timeout=120)
            await server.start()
            app = await started_bot(server, store, url, sequential, SlowChatRequest(None, 0))
            times, violations, elapsed = await users_side(server, users, rounds, warmed)
        else:
            spawn = multiprocessing.get_context("spawn")
            here, there = spawn.Pipe()
            child = spawn.Process(target=users_process, args=(there, users, rounds))
            child.start()
            token, base, files = await asyncio.to_thread(here.recv)
            app = await started_bot_at(token, base, files, store, url, sequential)
            here.send("start")
            await asyncio.to_thread(here.recv)
            await warmed()
            here.send("go")
            times, violations, elapsed = await asyncio.to_thread(here.recv)
        cpu = time.process_time() - clock[0]
        polls = calls[0].pop("getUpdates", 0)
        others = sum(calls[0].values())
        await stopped(app)
        await store.dispose()
        if one_process:
            await server.stop()
        else:
            here.send("stopped")
            await asyncio.to_thread(child.join)
    q = statistics.quantiles(times, n=20)
    return {
        "rps": len(times) / elapsed,
        "p50": statistics.median(times),
        "p95": q[18],
        "violations": len(violations),
        "cpu": cpu / len(times),
        "polls": polls / len(times),
        "calls": others / len(times),
    }


async def slow_case(users: int, delay: float, sequential: bool) -> dict[str, float]:
    server = SandboxServer(default_timeout=120)
    await server.start()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/s.db"
        await upgrade(url)
        store = Store(create_engine(url))
        slow = server.client.user(79_999, "Slow", language_code="en")
        app = await started_bot(server, store, url, sequential, SlowChatRequest(slow.id, delay))
        others = [
            server.client.user(71_000 + i, f"U{i}", language_code="en") for i in range(users)
        ]
        waits: list[float] = []

        async def start_and_wait(user: UserHandle) -> None:
            begin = time.perf_counter()
            await user.command("start")
            await user.next_message(timeout=120)
            waits.append(time.perf_counter() - begin)

        await slow.command("start")  # its answer hangs `delay` s ...
        await asyncio.sleep(0.2)
        await asyncio.gather(*(start_and_wait(u) for u in others))  # ... the others?
        await slow.next_message(timeout=120)
        await stopped(app)
        await store.dispose()
    await server.stop()
    return {
        "p50": statistics.median(waits),
        "max": max(waits),
        "within_1s": sum(1 for w in waits if w <= 1.0),
        "n": len(waits),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="20,100")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--slow-delay", type=float, default=5.0)
    parser.add_argument("--slow-users", type=int, default=20)
    parser.add_argument("--one-process", action="store_true")
    args = parser.parse_args()
    sizes = [int(x) for x in args.users.split(",")]
    modes = (("one at a time", True), ("per-chat", False))
    where = "one process" if args.one_process else "stand-in and users in a child process"
    print(f"/help + /my round trips, {args.rounds} per user, SQLite file, {where}")
    print()
    head = f"{'users':>5} {'processor':<14} {'round trips/s':>13} {'p50 ms':>8} {'p95 ms':>8}"
    print(
        head + f" {'CPU ms/rt':>9} {'polls/rt':>8} {'calls/rt':>8} {'order violations':>17} "
        f"{'x rt/s':>7}"
    )
    print("-" * (len(head) + 54))
    for size in sizes:
        base = None
        for label, sequential in modes:
            r = await load_case(size, args.rounds, sequential, args.one_process)
            base = base or r["rps"]
            print(
                f"{size:>5} {label:<14} {r['rps']:>13.1f} {r['p50'] * 1000:>8.0f} "
                f"{r['p95'] * 1000:>8.0f} {r['cpu'] * 1000:>9.1f} {r['polls']:>8.2f} "
                f"{r['calls']:>8.2f} {r['violations']:>17.0f} "
                f"{r['rps'] / base:>7.1f}"
            )
    print()
    print(
        f"slow chat: one user's Telegram calls held {args.slow_delay:.0f} s; "
        f"{args.slow_users} others send /start"
    )
    print()
    print(f"{'processor':<14} {'p50 ms':>8} {'max ms':>8} {'answered within 1 s':>20}")
    print("-" * 53)
    for label, sequential in modes:
        s = await slow_case(args.slow_users, args.slow_delay, sequential)
        print(
            f"{label:<14} {s['p50'] * 1000:>8.0f} {s['max'] * 1000:>8.0f} "
            f"{s['within_1s']:>11.0f} of {s['n']:.0f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
