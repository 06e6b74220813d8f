"""Webhook mode on PostgreSQL, one `repairbot run` instance vs two behind a round-robin load
balancer (tests/support/balancer.py), the stand-in delivering as Telegram does (up to
max_connections at once, one update per chat at a time). Prints a table.

    .venv/bin/python bench/webhook.py [--users 100] [--rounds 5] [--instances 1,2]

Each user, in a loop, sends /help and /my back to back and waits for both answers (one
round trip: the time until the second answer); an order violation is a round whose /my
answer came before its /help answer. Every user says /start first, before the clock
starts. Each case gets a throw-away PostgreSQL database (REPAIRBOT_TEST_PG, default the
local server). The instances are real processes; the stand-in, the balancer and the
users share this one, whose CPU per round trip is shown beside the instances' (all of
them together): when this process is the busier one, the figures are its limit, not the
bot's. Never fails on a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.concurrency import rounds_of
from sandbox.server import SandboxServer
from store.migrate import upgrade
from tests.support.databases import PG_SERVER, throwaway_database
from tests.support.instances import WebhookCluster, seed_campus


def instances_cpu(cluster: WebhookCluster) -> float:
    """CPU seconds (user + system) the instances' processes have used so far."""
    total = 0
    for instance in cluster.instances:
        assert instance.process is not None
        fields = Path(f"/proc/{instance.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


async def case(instances: int, users: int, rounds: int, server_url: str) -> dict[str, float]:
    """One size of cluster: round trips/s, p50/p95, order violations, retried deliveries."""
    async with throwaway_database(server_url, prefix="repairbot_bench") as url:
        await upgrade(url)
        await seed_campus(url)
        server = SandboxServer(default_timeout=120, webhook_backoff=(0.05, 0.5))
        await server.start()
        with tempfile.TemporaryDirectory() as tmp:
            cluster = await WebhookCluster(server, url, Path(tmp), count=instances).start()
            try:
                handles = [
                    server.client.user(80_000 + i, f"U{i}", language_code="en")
                    for i in range(users)
                ]
                for h in handles:
                    await h.command("start")
                    await h.next_message(timeout=120)
                attempts = server.state.webhook.attempts
                bots_cpu = instances_cpu(cluster)
                own_cpu = time.process_time()
                times: list[float] = []
                violations: list[int] = []
                start = time.perf_counter()
                await asyncio.gather(*(rounds_of(h, rounds, times, violations) for h in handles))
                elapsed = time.perf_counter() - start
                own_cpu = time.process_time() - own_cpu
                bots_cpu = instances_cpu(cluster) - bots_cpu
                updates = 2 * users * rounds
                retried = server.state.webhook.attempts - attempts - updates
                peak = server.state.webhook.peak_in_flight
            finally:
                await cluster.stop()
                await server.stop()
    q = statistics.quantiles(times, n=20)
    return {
        "rps": len(times) / elapsed,
        "p50": statistics.median(times),
        "p95": q[18],
        "violations": len(violations),
        "retried": retried,
        "peak": peak,
        "bots_cpu": bots_cpu / len(times),
        "own_cpu": own_cpu / len(times),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--instances", default="1,2")
    parser.add_argument("--server", default=PG_SERVER, help="PostgreSQL server URL")
    args = parser.parse_args()
    print(
        f"webhook mode, PostgreSQL, {args.users} users, /help + /my round trips, "
        f"{args.rounds} per user; max_connections 40"
    )
    print()
    head = (
        f"{'instances':>9} {'round trips/s':>13} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'order violations':>17} {'redelivered':>11} {'peak open':>9} "
        f"{'bots CPU ms/rt':>14} {'stand-in+users CPU ms/rt':>24}"
    )
    print(head)
    print("-" * len(head))
    for count in (int(x) for x in args.instances.split(",")):
        r = await case(count, args.users, args.rounds, args.server)
        print(
            f"{count:>9} {r['rps']:>13.1f} {r['p50'] * 1000:>8.0f} {r['p95'] * 1000:>8.0f} "
            f"{r['violations']:>17.0f} {r['retried']:>11.0f} {r['peak']:>9.0f} "
            f"{r['bots_cpu'] * 1000:>14.1f} {r['own_cpu'] * 1000:>24.1f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
