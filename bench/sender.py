"""The outbox sender under Telegram's flood limits: fair across chats? Prints a table.

    .venv/bin/python bench/sender.py [--notices 1000] [--chats 200]

Queues N notices to M chats on a SQLite file, in two orders: interleaved (chat 1, 2, ...
M, 1, 2, ...) and grouped (each chat's notices in a row, as when one ticket tells one
person several things), then lets the real OutboxSender, behind the bot's rate limiter
(bot/ratelimit.py), drain them to the sandbox Bot API with its flood limits on (30/s
overall, 1/s per chat, answered with 429). Counted at the stand-in, per accepted
message: msg/s, 429s, one-second windows holding more than 30 messages, and messages
to a chat less than 1 s after the previous one. Never fails on time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from unittest.mock import patch

from sqlmodel import col, func, select
from telegram.ext import ExtBot

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.ratelimit import ReplyFirstLimiter
from bot.sender import OutboxSender
from bot.settings import Settings
from sandbox.server import SandboxServer
from store.db import create_engine
from store.domain.notices import notify
from store.migrate import upgrade
from store.models import Outbox, Person
from store.uow import Store, utcnow


def payload(number: int) -> dict[str, object]:
    return {
        "number": f"2026-{number:06d}",
        "category": "water",
        "building": "E1",
        "room": "101",
        "is_requester": True,
    }


async def run(order: str, notices: int, chats: int) -> dict[str, float]:
    server = SandboxServer(rate_limits=True)
    await server.start()
    accepted: list[tuple[float, int]] = []
    refused = [0]
    check = server.state.rate_limiter.check

    flood = server.state.rate_limiter

    def watched(chat_id: int) -> int | None:
        last = flood._last_by_chat.get(chat_id)
        result = check(chat_id)
        if result is None:
            accepted.append((time.monotonic(), chat_id))
        else:
            refused[0] += 1
            too_soon = last is not None and time.monotonic() - last < flood.per_chat_interval
            print(f"429 ({'chat gap' if too_soon else 'overall'})", file=sys.stderr)
        return result

    with patch.object(flood, "check", watched), tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/sender.db"
        await upgrade(url)
        store = Store(create_engine(url))
        async with store.uow() as uow:
            people = [
                Person(telegram_id=50_000 + i, name=f"P{i}", language="en", created_at=utcnow())
                for i in range(chats)
            ]
            uow.session.add_all(people)
            await uow.commit()
            ids = [p.id for p in people if p.id is not None]
        for i in range(chats):  # a chat Telegram lets the bot write to
            await server.client.user(50_000 + i, f"P{i}").command("start")
        per_chat = notices // chats
        async with store.uow() as uow:
            if order == "interleaved":
                plan = [ids[c] for _ in range(per_chat) for c in range(chats)]
            else:
                plan = [ids[c] for c in range(chats) for _ in range(per_chat)]
            for n, person_id in enumerate(plan):
                notify(uow, person_id, "ticket.completed", payload(n))
            await uow.commit()
        limiter = ReplyFirstLimiter()
        bot = ExtBot(server.token, base_url=server.base_url, rate_limiter=limiter)
        await bot.initialize()
        sender = OutboxSender(bot, store, Settings(), 0.05, 1.0, limiter.budget)
        start = time.monotonic()
        sender.start()
        while True:
            await asyncio.sleep(0.25)
            async with store.read() as uow:
                query = select(func.count()).where(
                    col(Outbox.sent_at).is_(None), col(Outbox.failed_at).is_(None)
                )
                left = (await uow.session.execute(query)).scalar_one()
            if left == 0:
                break
        elapsed = time.monotonic() - start
        await sender.stop()
        await bot.shutdown()
        await store.dispose()
    await server.stop()
    times = [t for t, _ in accepted]
    over = sum(1 for i, t in enumerate(times) if i + 30 < len(times) and times[i + 30] - t < 1.0)
    by_chat: dict[int, list[float]] = defaultdict(list)
    for t, chat in accepted:
        by_chat[chat].append(t)
    gaps = sum(1 for ts in by_chat.values() for a, b in itertools.pairwise(ts) if b - a < 1.0)
    return {
        "sent": len(accepted),
        "seconds": elapsed,
        "rate": len(accepted) / elapsed,
        "429": refused[0],
        "over": over,
        "gaps": gaps,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=1000)
    parser.add_argument("--chats", type=int, default=200)
    args = parser.parse_args()
    rows = [
        (order, await run(order, args.notices, args.chats)) for order in ("interleaved", "grouped")
    ]
    print(f"{args.notices} notices to {args.chats} chats, stand-in flood limits on")
    print()
    head = f"{'order':<12} {'sent':>6} {'seconds':>8} {'msg/s':>7} {'429s':>5} "
    print(head + f"{'windows >30/s':>14} {'chat gaps <1 s':>15}")
    print("-" * (len(head) + 30))
    for order, r in rows:
        print(
            f"{order:<12} {r['sent']:>6.0f} {r['seconds']:>8.1f} {r['rate']:>7.1f} "
            f"{r['429']:>5.0f} {r['over']:>14.0f} {r['gaps']:>15.0f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
