"""`repairbot run`, the command operators start, as a real process against the stand-in:
polling and webhook mode, a SQLite file migrated on start, a clean stop on Ctrl-C, and
the token in no line it prints."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from sandbox.server import SandboxServer

START_TIMEOUT = 60.0  # a cold interpreter, imports and the migration on a loaded CI box


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _run_bot(
    bot_api: SandboxServer, tmp_path: Path, **extra: str
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "REPAIRBOT_TELEGRAM__TOKEN": bot_api.token,
        "REPAIRBOT_TELEGRAM__API_URL": bot_api.base_url,
        "REPAIRBOT_TELEGRAM__FILE_URL": bot_api.base_file_url,
        "REPAIRBOT_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        **{f"REPAIRBOT_TELEGRAM__{k.upper()}": v for k, v in extra.items()},
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def _stop(process: asyncio.subprocess.Process) -> tuple[int, str]:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
        pytest.fail(f"`repairbot run` did not stop on SIGINT:\n{output.decode()}")
    assert process.returncode is not None
    return process.returncode, output.decode("utf-8", "replace")


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_run_answers_start_then_stops_cleanly_on_ctrl_c(
    bot_api: SandboxServer, tmp_path: Path, mode: str
) -> None:
    extra: dict[str, str] = {}
    if mode == "webhook":
        port = _free_port()
        extra = {
            "mode": "webhook",
            "webhook_listen": "127.0.0.1",
            "webhook_port": str(port),
            "webhook_url": f"http://127.0.0.1:{port}/telegram",
            "webhook_secret": "s3cret-Path_token",
        }
    process = await _run_bot(bot_api, tmp_path, **extra)
    try:
        alice = bot_api.client.user(1001, "Alice", language_code="en")
        await alice.command("start")
        try:
            greeting = await alice.expect(text_contains="Hello Alice", timeout=START_TIMEOUT)
        except Exception:
            _code, output = await _stop(process)
            pytest.fail(f"no greeting; the bot printed:\n{output}\n{bot_api.transcript()}")
        assert greeting.button_texts[0] == "🛠 Report a repair"
        if mode == "webhook":
            hook = bot_api.state.updates.webhook
            assert hook is not None and hook.url == extra["webhook_url"]
            assert hook.secret_token == extra["webhook_secret"]
    finally:
        code, output = await _stop(process)
    assert code == 0, output
    assert (tmp_path / "bot.db").is_file()  # the SQLite file was created and migrated
    assert bot_api.token not in output
    assert bot_api.token.split(":", 1)[1] not in output
