"""Bot memory over a big history: the resident memory of the real `repairbot run` process
while staff open the heavy screens. Prints a table.

    .venv/bin/python bench/scale.py --sizes 1000000 --db sqlite --runs 1 --keep DIR  # once
    .venv/bin/python bench/memory.py --db DIR/scale-1000000.db [--in-place]

Takes a SQLite file seeded by bench/scale.py (the sample campus, 2,000 requesters, 40
technicians, a supervisor and a dispatcher over every building, N tickets over three
years) and works on a copy of it (the bot's scheduler writes; `--in-place` skips the
copy). Starts `repairbot run` as its own process (polling the sandbox Bot API stand-in,
which runs in this process, and serving the office board), then, one after another:
  /start            a resident, to see the bot is up (then 5 s idle)
  /my               a resident with tickets: My tickets
  /queue            the dispatcher: the unassigned queue over every building
  /jobs             a technician's open jobs
  /stats 30d        the supervisor's figures, every building
  /digest           the supervisor's digest (chart and text) for yesterday
  /board            sign-in link, then the board's overview page and JSON
  /export 366d      the supervisor's year export, XLSX and CSV (or a too-big notice)
The bot process's RSS (/proc/PID/status) is sampled every 20 ms: each step shows the RSS
before, the peak while the step ran, and the RSS when its answer arrived. The bot's own
high-water mark (VmHWM) is printed at the end, and the RSS after 10 s idle. The seeded
history ends on 2026-11-26 (bench/scale.py's NOW) and the bot runs on the real clock:
periods ending today hold whatever part of the history they reach. Never fails on size.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.handles import UserHandle
from sandbox.server import SandboxServer
from sandbox.views import BotMessage

SUPERVISOR, DISPATCHER, TECHNICIAN, RESIDENT = 7_000_001, 7_000_002, 7_100_000, 8_000_000
TARGET_MIB = 200
START_TIMEOUT = 120.0
STEP_TIMEOUT = 900.0  # a year's export of a big office on a shared 2-core machine
MIB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _status_kib(pid: int, field: str) -> int:
    """A field of /proc/PID/status in KiB (VmRSS: now, VmHWM: the process's peak)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


class Sampler:
    """The bot process's RSS every 20 ms; `peak` is the highest since the last `reset`."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    def now(self) -> int:
        return _status_kib(self.pid, "VmRSS") * 1024

    def reset(self) -> None:
        self.peak = self.now()

    async def _run(self) -> None:
        while True:
            try:
                self.peak = max(self.peak, self.now())
            except (OSError, LookupError):
                return  # the process is gone
            await asyncio.sleep(0.02)

    def start(self) -> None:
        self.reset()
        self._task = asyncio.create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


@dataclass
class Step:
    name: str
    seconds: float
    before: int
    peak: int
    after: int
    note: str


async def _answers(
    user: UserHandle, done: Callable[[BotMessage], bool], count: int = 1
) -> list[BotMessage]:
    """The next `count` messages to `user` that are the step's answer (not notices)."""
    return [await user.next_message(done, timeout=STEP_TIMEOUT) for _ in range(count)]


def _copy(db: Path, folder: Path) -> Path:
    """A consistent copy of the seeded file (SQLite's backup, WAL included)."""
    target = folder / db.name
    with sqlite3.connect(db) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return target


async def _board(port: int, link: str) -> str:
    """Sign in with the link, then the overview page and its JSON, as a browser would."""
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        async with session.get(link) as signin:
            signin.raise_for_status()
        async with session.get(f"http://127.0.0.1:{port}/board/") as page:
            page.raise_for_status()
            html = await page.text()
        async with session.get(f"http://127.0.0.1:{port}/board/api/overview") as api:
            api.raise_for_status()
            body = await api.read()
    return f"page {len(html) / 1024:.0f} kB, overview JSON {len(body) / 1024:.0f} kB"


async def run(db: Path, workdir: Path) -> tuple[list[Step], dict[str, int]]:
    server = SandboxServer(default_timeout=STEP_TIMEOUT)
    await server.start()
    port = _free_port()
    env = {
        **os.environ,
        "REPAIRBOT_TELEGRAM__TOKEN": server.token,
        "REPAIRBOT_TELEGRAM__API_URL": server.base_url,
        "REPAIRBOT_TELEGRAM__FILE_URL": server.base_file_url,
        "REPAIRBOT_DATABASE__URL": f"sqlite+aiosqlite:///{db}",
        "REPAIRBOT_SERVICE__TIMEZONE": "Asia/Shanghai",
        "REPAIRBOT_BOARD__PORT": str(port),
    }
    log = (workdir / "bot.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=workdir, env=env, stdout=log, stderr=log
    )
    sampler = Sampler(process.pid)
    sampler.start()
    client = server.client
    steps: list[Step] = []
    figures: dict[str, int] = {}

    async def step(
        name: str,
        who: UserHandle,
        command: str,
        done: Callable[[BotMessage], bool],
        count: int = 1,
        describe: Callable[[list[BotMessage]], str] = lambda m: "",
    ) -> list[BotMessage]:
        before = sampler.now()
        sampler.reset()
        began = time.perf_counter()
        await who.send(command)
        answers = await _answers(who, done, count)
        seconds = time.perf_counter() - began
        after = sampler.now()
        steps.append(
            Step(name, seconds, before, max(sampler.peak, after), after, describe(answers))
        )
        print(f"  {name}: {steps[-1]}", file=sys.stderr)
        return answers

    try:
        resident = client.user(RESIDENT, "Resident 0")
        supervisor = client.user(SUPERVISOR, "Supervisor")
        dispatcher = client.user(DISPATCHER, "Dispatcher")
        technician = client.user(TECHNICIAN, "Tech 0")
        began = time.perf_counter()
        await resident.send("/start")
        await resident.next_message(timeout=START_TIMEOUT)
        print(f"  up after {time.perf_counter() - began:.1f} s", file=sys.stderr)
        await asyncio.sleep(5)
        figures["idle after start"] = sampler.now()
        figures["peak during start"] = sampler.peak

        def body(*parts: str) -> Callable[[BotMessage], bool]:
            return lambda m: any(p in m.body for p in parts)

        def first_line(answers: list[BotMessage]) -> str:
            return answers[0].body.splitlines()[0][:60]

        await step("My tickets", resident, "/my", body("Your tickets ("), describe=first_line)
        await step("queue", dispatcher, "/queue", body("Queue · "), describe=first_line)
        await step(
            "technician's jobs",
            technician,
            "/jobs",
            body("Your open jobs (", "You have no open jobs"),
            describe=first_line,
        )
        await step("/stats 30d", supervisor, "/stats 30d", body("📊"), describe=first_line)
        await step(
            "digest",
            supervisor,
            "/digest",
            lambda m: m.photo is not None,
            describe=lambda m: f"chart {len(m[0].photo or b'') / 1024:.0f} kB",
        )
        link_at: list[str] = []

        def board_note(answers: list[BotMessage]) -> str:
            found = re.search(r"http://\S+/board/signin\?token=\S+", answers[0].body)
            assert found is not None, answers[0].body
            link_at.append(found.group(0))
            return ""

        before = sampler.now()
        sampler.reset()
        began = time.perf_counter()
        await supervisor.send("/board")
        board_note(await _answers(supervisor, body("/board/signin?token=")))
        note = await _board(port, link_at[0])
        after = sampler.now()
        steps.append(
            Step(
                "board overview",
                time.perf_counter() - began,
                before,
                max(sampler.peak, after),
                after,
                note,
            )
        )
        print(f"  board: {steps[-1]}", file=sys.stderr)

        def export_note(answers: list[BotMessage]) -> str:
            parts = []
            for m in answers:
                if m.document is not None:
                    rows = ""
                    if m.caption:
                        rows = m.caption.split(" ", 1)[0] + " rows, "
                    parts.append(f"{m.document_name} {rows}{len(m.document) / MIB:.1f} MB")
                else:
                    parts.append(m.body.split("(", 1)[0] + "too big: not sent")
            return "; ".join(parts)

        await step(
            "/export 366d",
            supervisor,
            "/export 366d",
            lambda m: m.document is not None or "more than the" in m.body,
            count=2,
            describe=export_note,
        )
        await asyncio.sleep(10)
        figures["after 10 s idle"] = sampler.now()
        figures["VmHWM (the process's peak)"] = _status_kib(process.pid, "VmHWM") * 1024
    finally:
        sampler.stop()
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()
        await server.stop()
    return steps, figures


def table(steps: list[Step], figures: dict[str, int]) -> str:
    head = ["step", "s", "RSS before MiB", "peak MiB", "after MiB", "answer"]
    lines = [head]
    for s in steps:
        lines.append(
            [
                s.name,
                f"{s.seconds:.1f}",
                f"{s.before / MIB:.0f}",
                f"{s.peak / MIB:.0f}",
                f"{s.after / MIB:.0f}",
                s.note,
            ]
        )
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    out.append("")
    for name, value in figures.items():
        out.append(f"{name + ', MiB':<34} {value / MIB:>6.0f}")
    peak = max([s.peak for s in steps] + [figures.get("VmHWM (the process's peak)", 0)])
    verdict = "within" if peak <= TARGET_MIB * MIB else "OVER"
    out.append(f"{'target, MiB':<34} {'≤ ' + str(TARGET_MIB):>6}  ({verdict})")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a SQLite file seeded by bench/scale.py")
    parser.add_argument("--in-place", action="store_true", help="use the file itself")
    args = parser.parse_args()
    db = Path(args.db).resolve()
    with tempfile.TemporaryDirectory(prefix="repairbot-memory-") as tmp:
        folder = Path(tmp)
        if not args.in_place:
            started = time.perf_counter()
            db = _copy(db, folder)
            print(f"  copied in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        steps, figures = asyncio.run(run(db, folder))
        size = db.stat().st_size
        shutil.copy(folder / "bot.log", Path(tempfile.gettempdir()) / "repairbot-memory.log")
    print(f"`repairbot run` on {args.db} ({size / MIB:,.0f} MiB), its own process")
    print(table(steps, figures))


if __name__ == "__main__":
    main()
