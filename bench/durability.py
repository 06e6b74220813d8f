"""What SQLite's durable default costs: `database.sqlite_synchronous` "full" vs "normal",
per filed report, side by side in one run. Prints a table; never fails on time.

    .venv/bin/python bench/durability.py [--users 30] [--rounds 4]

Each round files `--users` reports through the whole guided flow (QR /start → category →
the one message → Submit: 4 updates, each a committed
write) with bench/updates.py's in-process bot, once with each setting on a fresh SQLite
file, the order alternating between rounds (this machine's speed drifts within a run).
A report's cost is the sum of its 4 updates: wall (perf_counter) and CPU (process time).
Beside it, a bare one-row commit with raw sqlite3 in WAL mode: what one disk sync costs
on this disk. The temporary files live in --dir (default: the system's temp folder), which
should be on the disk the bot's database would be on.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.updates import full
from store.migrate import upgrade

STEPS = 4  # updates per filed report


def raw_commit_us(folder: Path, synchronous: str, n: int = 200) -> float:
    """Median wall µs of a one-row committed INSERT with raw sqlite3 in WAL mode."""
    path = folder / f"raw-{synchronous}.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        db.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        times = []
        for i in range(n):
            start = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t VALUES (?)", (i,))
            db.execute("COMMIT")
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def per_report(values: list[float]) -> list[float]:
    """The 4 updates of each report summed, in ms."""
    return [sum(values[i : i + STEPS]) * 1e3 for i in range(0, len(values), STEPS)]


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--dir", default=None, help="folder for the SQLite files")
    args = parser.parse_args()
    modes = ("normal", "full")
    wall: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    commits: dict[str, float] = {}
    raw: dict[str, list[float]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        for r in range(args.rounds):
            for mode in modes if r % 2 == 0 else modes[::-1]:
                url = f"sqlite+aiosqlite:///{folder / f'{mode}-{r}.db'}"
                await upgrade(url)
                costs, counts, _, _ = await full(url, args.users, synchronous=mode)
                wall[mode] += per_report(costs.wall)
                cpu[mode] += per_report(costs.cpu)
                commits[mode] = counts["commit"] / args.users
                raw[mode].append(raw_commit_us(folder, mode))
                print(f"round {r + 1}: {mode} done", file=sys.stderr)
    reports = args.users * args.rounds
    rounds = f"{args.rounds} rounds x {args.users} users x {STEPS} updates"
    print(f"{reports} reports per setting ({rounds})")
    print()
    head = (
        f"{'sqlite_synchronous':<19} {'wall ms p50':>12} {'wall ms mean':>13} {'wall ms p95':>12}"
        f" {'CPU ms mean':>12} {'commits':>8} {'raw commit µs':>14}"
    )
    print(head)
    print("-" * len(head))
    for mode in modes:
        print(
            f"{mode:<19} {statistics.median(wall[mode]):>12.2f} "
            f"{statistics.fmean(wall[mode]):>13.2f} {p95(wall[mode]):>12.2f} "
            f"{statistics.fmean(cpu[mode]):>12.2f} {commits[mode]:>8.1f} "
            f"{statistics.median(raw[mode]):>14.0f}"
        )
    extra = statistics.fmean(wall["full"]) - statistics.fmean(wall["normal"])
    extra_cpu = statistics.fmean(cpu["full"]) - statistics.fmean(cpu["normal"])
    print()
    print(
        f"full - normal, per filed report: {extra:+.2f} ms wall, {extra_cpu:+.2f} ms CPU "
        f"({extra / max(commits['full'], 1):+.2f} ms wall per commit)"
    )


if __name__ == "__main__":
    asyncio.run(main())
