"""Start-up on a big database: how soon does the first user get an answer, next to a bare
python-telegram-bot bot on the same machine, and how much memory does the scheduler's
catch-up take? Prints a table (medians of `--runs`).

    .venv/bin/python bench/startup.py [--db FILE] [--tickets 100000] [--overdue 5000]
    .venv/bin/python bench/startup.py --overdue 100000 --mix --runs 3   # issue 28's case
    .venv/bin/python bench/startup.py --tree OLD_TREE    # the bot from another source tree

Seeds a SQLite file once (kept at `--db`, reused by later runs) with bulk inserts: the
sample campus, `--tickets` tickets (all closed and not yet in the day summaries, but
`--overdue` open past their targets and not yet flagged: in progress, or with `--mix` a
third each dispatching, in progress and deferred past the promised date), one admin who
gets the overdue notices and one supervisor whose daily digest (text and chart) is due
at the start, as after a night's downtime. Each run works on a copy, brought to the
schema of the tree under test before the clock starts (the seed stays at SEED_REVISION,
which every tree compared knows), and the tree's sources are byte-compiled first, as
`pip install` leaves an installed copy.

Then, against the sandbox Bot API stand-in (in this process), a user sends /start and:
  1. a bare PTB bot (a /start handler, polling, nothing else) is spawned as its own
     process: seconds from spawn to its answer, its CPU seconds and RSS then;
  2. `repairbot run` is spawned as its own process on the copy: seconds from spawn to the
     answer, its CPU seconds and RSS then, and for the scheduler's first `--minute`
     seconds a /my every second (p50/p95/max), its RSS 20 s after the answer and at the
     end, its high-water mark (VmHWM) and its CPU seconds by then.
The bare bot runs before and after the repairbot and the better of its two is shown (the
machine is shared). The bot's log is left in the temp folder (repairbot-startup.log).
Never fails on time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.handles import UserHandle
from sandbox.server import SandboxServer
from store.db import create_engine
from store.directory import places, profiles, staff
from store.directory.categories import sync_categories
from store.directory.location_csv import parse_locations_csv
from store.lifecycle import Role, Status
from store.migrate import upgrade
from store.models import Category, Room, Ticket
from store.uow import Store, utcnow

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "campus.csv"
SEED_REVISION = "0011"  # the schema the seed is written at: main's head when written
ADMIN = 60_000
USER = 60_001
SUPERVISOR = 60_003  # gets the daily digest (chart included), due at the start
MIB = 1024 * 1024
TIMEOUT = 120.0

BARE_BOT = """
import os
from telegram.ext import ApplicationBuilder, CommandHandler

async def start(update, context):
    await update.effective_message.reply_text("Hello from a bare bot")

app = (ApplicationBuilder().token(os.environ["BARE_TOKEN"]).base_url(os.environ["BARE_API"])
       .build())
app.add_handler(CommandHandler("start", start))
app.run_polling(poll_interval=0, timeout=1)
"""


def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far: less at the mercy of a
    shared machine than the wall clock."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _late(i: int, mix: bool, old: datetime) -> dict[str, object]:
    """An open ticket past its targets: in progress past its completion target, or with
    `mix` one in three each dispatching past its accept target (an escalation), in
    progress past its target (flagged overdue) and deferred past its promised date (a
    missed promise: a follow-up and the requester told)."""
    kind = i % 3 if mix else 1
    if kind == 0:
        return {"status": Status.DISPATCHING}
    if kind == 1:
        return {"status": Status.IN_PROGRESS}
    return {
        "status": Status.DEFERRED,
        "promised_at": old + timedelta(days=2),
        "defer_reason": "parts",
    }


async def seed(url: str, tickets: int, overdue: int, mix: bool = False) -> None:
    await upgrade(url, SEED_REVISION)
    store = Store(create_engine(url))
    rows = parse_locations_csv(SAMPLE.read_text(encoding="utf-8-sig"))
    await places.import_locations(store.uow(), rows)
    await sync_categories(store.uow(), store.policy)
    await staff.add_staff(store.uow(), ADMIN, Role.ADMIN, name="Office")
    await profiles.ensure_person(store.uow(), ADMIN, "Office", "en")
    await staff.add_staff(store.uow(), SUPERVISOR, Role.SUPERVISOR, name="Supervisor")
    await profiles.ensure_person(store.uow(), SUPERVISOR, "Supervisor", "en")
    requester = await profiles.ensure_person(store.uow(), 60_002, "Requester", "en")
    async with store.uow() as uow:
        rooms = list((await uow.session.execute(select(Room.id))).scalars())
        categories = list((await uow.session.execute(select(Category.id))).scalars())
    old = utcnow() - timedelta(days=30)
    batch = []
    async with store.uow() as uow:
        for i in range(tickets):
            late = i >= tickets - overdue
            batch.append(
                {
                    "number": f"2026-{i + 1:06d}",
                    "status": Status.CLOSED,
                    "promised_at": None,
                    "defer_reason": None,
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
                | (_late(i, mix, old) if late else {})
            )
            if len(batch) == 5000:
                await uow.session.execute(insert(Ticket), batch)
                batch = []
        if batch:
            await uow.session.execute(insert(Ticket), batch)
        await uow.commit()
    await store.dispose()


def _tree_env(tree: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return env


def compile_tree(tree: Path | None) -> None:
    """Byte-compile the bot's sources, as `pip install` does for an installed copy: a
    machine with PYTHONDONTWRITEBYTECODE set (this one) would otherwise compile ~140
    modules from source on every start, ~0.5 s of CPU a deployed bot never spends, while
    the bare bot's site-packages are compiled."""
    base = tree or ROOT
    folders = [str(base / name) for name in ("bot", "store", "scheduler")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *folders], check=True)


def copy_for(seeded: Path, folder: Path, tree: Path | None) -> Path:
    """A copy of the seed at the tree's schema head (done before any clock starts)."""
    target = folder / "startup.db"
    with sqlite3.connect(seeded) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    code = (
        "import asyncio, sys; from store.migrate import upgrade; asyncio.run(upgrade(sys.argv[1]))"
    )
    subprocess.run(
        [sys.executable, "-c", code, f"sqlite+aiosqlite:///{target}"],
        check=True,
        env=_tree_env(tree),
        cwd=folder,
    )
    return target


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), 60)
        except TimeoutError:
            process.kill()
            await process.wait()


async def bare(server: SandboxServer, folder: Path, n: int) -> tuple[float, int, float]:
    """Seconds from spawn to a bare PTB bot's answer to /start, its RSS and CPU seconds
    then."""
    user = server.client.user(USER + 10 + n, f"Bare {n}")
    await user.command("start")
    env = {**os.environ, "BARE_TOKEN": server.token, "BARE_API": server.base_url}
    log = (folder / f"bare-{n}.log").open("wb")
    began = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BARE_BOT, cwd=folder, env=env, stdout=log, stderr=log
    )
    try:
        await user.next_message(timeout=TIMEOUT)
        first = time.perf_counter() - began
        rss = _status_kib(process.pid, "VmRSS") * 1024
        cpu = _cpu_s(process.pid)
    finally:
        await _stop(process)
        log.close()
    return first, rss, cpu


async def repairbot(
    server: SandboxServer, db: Path, folder: Path, tree: Path | None, minute: float
) -> dict[str, float]:
    user: UserHandle = server.client.user(USER, "Walk-in")
    await server.client.user(ADMIN, "Office").command("start")
    await server.client.user(SUPERVISOR, "Supervisor").command("start")
    await user.command("start")
    env = {
        **_tree_env(tree),
        "REPAIRBOT_TELEGRAM__TOKEN": server.token,
        "REPAIRBOT_TELEGRAM__API_URL": server.base_url,
        "REPAIRBOT_TELEGRAM__FILE_URL": server.base_file_url,
        "REPAIRBOT_DATABASE__URL": f"sqlite+aiosqlite:///{db}",
        # The supervisor's digest is due at once (as after a night's downtime): the
        # scheduler's first minute draws its chart too.
        "REPAIRBOT_SERVICE__DIGEST_TIME": "00:00",
    }
    log = (folder / "bot.log").open("wb")
    began = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=folder, env=env, stdout=log, stderr=log
    )
    out: dict[str, float] = {}
    try:
        await user.next_message(timeout=TIMEOUT)
        answered = time.perf_counter()
        out["first"] = answered - began
        out["rss_first"] = _status_kib(process.pid, "VmRSS") * 1024
        out["cpu_first"] = _cpu_s(process.pid)
        answers: list[float] = []
        rss: list[int] = []
        while time.perf_counter() - answered < minute:
            sent = time.perf_counter()
            rss.append(_status_kib(process.pid, "VmRSS") * 1024)
            if sent - answered >= 20 and "rss_20" not in out:
                out["rss_20"] = rss[-1]
            await user.send("/my")
            await user.next_message(timeout=TIMEOUT)
            answers.append(time.perf_counter() - sent)
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - sent)))
        out["rss_minute"] = _status_kib(process.pid, "VmRSS") * 1024
        out.setdefault("rss_20", out["rss_minute"])
        out["cpu_minute"] = _cpu_s(process.pid)
        out["hwm"] = _status_kib(process.pid, "VmHWM") * 1024
        out["p50"] = statistics.median(answers)
        out["p95"] = statistics.quantiles(answers, n=20)[18] if len(answers) > 1 else answers[0]
        out["max"] = max(answers)
        out.update(_done_so_far(db))
    finally:
        stopping = time.perf_counter()
        await _stop(process)
        out["stop"] = time.perf_counter() - stopping
        log.close()
    said = (folder / "bot.log").read_text(encoding="utf-8", errors="replace")
    out["digests"] = said.count("digest: sent to")
    return out


def _done_so_far(db: Path) -> dict[str, float]:
    """What the catch-up has committed (read beside the running bot: WAL)."""
    counted = {
        "flagged": "overdue_at IS NOT NULL",
        "summarized": "summarized",
        "escalated": "escalated_at IS NOT NULL",
        "promise_missed": "promise_missed_at IS NOT NULL",
    }
    with sqlite3.connect(db) as conn:
        return {
            key: conn.execute(f"SELECT count(*) FROM ticket WHERE {where}").fetchone()[0]
            for key, where in counted.items()
        }


async def run(seeded: Path, tree: Path | None, minute: float) -> dict[str, float]:
    server = SandboxServer(default_timeout=TIMEOUT)
    await server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="repairbot-startup-") as tmp:
            folder = Path(tmp)
            db = copy_for(seeded, folder, tree)
            compile_tree(tree)
            bare_before = await bare(server, folder, 0)
            r = await repairbot(server, db, folder, tree, minute)
            bare_after = await bare(server, folder, 1)
            shutil.copy(folder / "bot.log", Path(tempfile.gettempdir()) / "repairbot-startup.log")
            best = min(bare_before, bare_after)
            r["bare_first"], r["bare_rss"], r["bare_cpu"] = best
            r["bare_cpu"] = min(bare_before[2], bare_after[2])
            r["bare_worst"] = max(bare_before[0], bare_after[0])
    finally:
        await server.stop()
    return r


ROWS = [
    ("spawn to first answer (/start), s: this bot", "first", 1, "{:.2f}"),
    ("spawn to first answer (/start), s: bare PTB", "bare_first", 1, "{:.2f}"),
    ("  difference, s", "gap", 1, "{:+.2f}"),
    ("CPU to first answer, s: this bot", "cpu_first", 1, "{:.2f}"),
    ("CPU to first answer, s: bare PTB", "bare_cpu", 1, "{:.2f}"),
    ("  difference, s", "cpu_gap", 1, "{:+.2f}"),
    ("RSS at the first answer, MiB: this bot", "rss_first", MIB, "{:.0f}"),
    ("RSS at the first answer, MiB: bare PTB", "bare_rss", MIB, "{:.0f}"),
    ("RSS 20 s after the first answer, MiB", "rss_20", MIB, "{:.0f}"),
    ("RSS after the first {minute} s, MiB", "rss_minute", MIB, "{:.0f}"),
    ("high-water mark (VmHWM), MiB", "hwm", MIB, "{:.0f}"),
    ("CPU by the end of the {minute} s, s", "cpu_minute", 1, "{:.1f}"),
    ("/my meanwhile, p50 ms", "p50", 1e-3, "{:.0f}"),
    ("/my meanwhile, p95 ms", "p95", 1e-3, "{:.0f}"),
    ("/my meanwhile, max ms", "max", 1e-3, "{:.0f}"),
    ("SIGINT to exit at the minute's end, s", "stop", 1, "{:.1f}"),
    ("digests sent (a chart each)", "digests", 1, "{:.0f}"),
    ("offers escalated by then", "escalated", 1, "{:,.0f}"),
    ("missed promises followed up by then", "promise_missed", 1, "{:,.0f}"),
    ("overdue flagged by then", "flagged", 1, "{:,.0f}"),
    ("closed tickets summarized by then", "summarized", 1, "{:,.0f}"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--overdue", type=int, default=5_000)
    parser.add_argument(
        "--mix",
        action="store_true",
        help="the overdue tickets a third each dispatching, in progress and deferred",
    )
    parser.add_argument("--db", help="the seeded file, made if missing and then reused")
    parser.add_argument("--tree", help="run the bot from this source tree (PYTHONPATH)")
    parser.add_argument("--minute", type=float, default=60.0, help="seconds to watch")
    parser.add_argument("--runs", type=int, default=1, help="runs; medians are shown")
    args = parser.parse_args()
    mixed = "-mix" if args.mix else ""
    seeded = Path(
        args.db
        or Path(tempfile.gettempdir())
        / f"repairbot-startup-{args.tickets}-{args.overdue}{mixed}-{SEED_REVISION}-s.db"
    )
    if not seeded.exists():
        began = time.perf_counter()
        asyncio.run(seed(f"sqlite+aiosqlite:///{seeded}", args.tickets, args.overdue, args.mix))
        print(f"  seeded {seeded} in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    tree = Path(args.tree).resolve() if args.tree else None
    runs = []
    for n in range(args.runs):
        r = asyncio.run(run(seeded, tree, args.minute))
        r["gap"] = r["first"] - r["bare_first"]
        r["cpu_gap"] = r["cpu_first"] - r["bare_cpu"]
        runs.append(r)
        print(
            f"  run {n + 1}: first {r['first']:.2f} s (bare {r['bare_first']:.2f} s), CPU "
            f"{r['cpu_first']:.2f} s (bare {r['bare_cpu']:.2f} s), RSS "
            f"{r['rss_first'] / MIB:.0f} / {r['rss_minute'] / MIB:.0f} MiB",
            file=sys.stderr,
        )
    kind = "a third each dispatching, in progress, deferred" if args.mix else "in progress"
    print(
        f"{args.tickets:,} tickets ({args.overdue:,} open past their targets and unflagged, "
        f"{kind}; the rest closed and not summarized), SQLite file; bot from {tree or ROOT}; "
        f"median of {args.runs} run(s)"
    )
    print()
    print(f"{'measure':<48} {'value':>10}")
    print("-" * 59)
    minute = f"{args.minute:.0f}"
    for name, key, unit, shown in ROWS:
        value = statistics.median(r[key] for r in runs) / unit
        print(f"{name.format(minute=minute):<48} {shown.format(value):>10}")
    worst = max(r["bare_worst"] for r in runs)
    print(f"\n(bare PTB, the slowest of its runs: {worst:.2f} s)")


if __name__ == "__main__":
    main()
