"""`repairbot` as a real process, as operators start it: its environment pointed at the
Bot API stand-in, started, stopped with Ctrl-C, or left to stop by itself."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from sandbox.server import SandboxServer

START_TIMEOUT = 60.0  # a cold interpreter, imports and the migration on a loaded CI box


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bot_environment(bot_api: SandboxServer, tmp_path: Path, **overrides: str) -> dict[str, str]:
    """REPAIRBOT_* settings for the stand-in and a SQLite file in `tmp_path`, then
    `overrides` (full variable names)."""
    return {
        "REPAIRBOT_TELEGRAM__TOKEN": bot_api.token,
        "REPAIRBOT_TELEGRAM__API_URL": bot_api.base_url,
        "REPAIRBOT_TELEGRAM__FILE_URL": bot_api.base_file_url,
        "REPAIRBOT_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        **overrides,
    }


async def start_repairbot(
    cwd: Path, env: dict[str, str], *argv: str
) -> asyncio.subprocess.Process:
    """`repairbot ARGV` (default: run) in `cwd`, with `env` over this environment; its
    output, stderr included, piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *(argv or ("run",)),
        cwd=cwd,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def run_bot(
    bot_api: SandboxServer, tmp_path: Path, **telegram: str
) -> asyncio.subprocess.Process:
    """`repairbot run` against the stand-in, with `[telegram]` settings added (lower-case
    keys, e.g. mode="webhook")."""
    extra = {f"REPAIRBOT_TELEGRAM__{k.upper()}": v for k, v in telegram.items()}
    return await start_repairbot(tmp_path, bot_environment(bot_api, tmp_path, **extra))


async def _output(process: asyncio.subprocess.Process, seconds: float, failure: str) -> str:
    try:
        output, _ = await asyncio.wait_for(process.communicate(), seconds)
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
        pytest.fail(f"{failure}:\n{output.decode()}")
    return output.decode("utf-8", "replace")


async def stop(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """Ctrl-C (SIGINT) unless it already ended; its exit code and everything it printed."""
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
    output = await _output(process, 30, "`repairbot run` did not stop on SIGINT")
    assert process.returncode is not None
    return process.returncode, output


async def exit_of(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """Wait for it to stop by itself; its exit code and everything it printed."""
    output = await _output(process, START_TIMEOUT, "`repairbot run` did not stop by itself")
    assert process.returncode is not None
    return process.returncode, output


class Output:
    """What a running process prints (stdout with stderr), read as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        self.process = process
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read(process.stdout))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self.lines.append(line.decode("utf-8", "replace"))
            self._changed.set()
        self._changed.set()

    @property
    def text(self) -> str:
        """Everything printed so far."""
        return "".join(self.lines)

    def count(self, needle: str) -> int:
        """How many lines printed so far contain `needle`."""
        return sum(needle in line for line in self.lines)

    async def wait_for(
        self, needle: str, *, times: int = 1, seconds: float = START_TIMEOUT
    ) -> None:
        """Until `times` lines contain `needle`; fails with the output after `seconds`."""
        deadline = asyncio.get_running_loop().time() + seconds
        while self.count(needle) < times:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0 or self._reader.done():
                pytest.fail(f"no {needle!r} (x{times}) in the output:\n{self.text}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def stop(self, sig: int = signal.SIGINT) -> int:
        """Send `sig` unless it already ended; its exit code once it did (and all output)."""
        if self.process.returncode is None:
            self.process.send_signal(sig)
        try:
            code = await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            pytest.fail(f"the process did not stop on signal {sig}:\n{self.text}")
        await self._reader
        return code
