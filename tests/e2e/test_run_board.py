"""`repairbot run` serves the office board beside the bot, and stops it on Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from sandbox.server import SandboxServer
from tests.support.processes import START_TIMEOUT, free_port, run_bot, stop


async def test_run_serves_the_board_and_asks_strangers_to_sign_in(
    bot_api: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("REPAIRBOT_BOARD__PORT", str(port))
    process = await run_bot(bot_api, tmp_path)
    try:
        alice = bot_api.client.user(1001, "Alice", language_code="en")
        await alice.command("start")
        await alice.expect(text_contains="Hello Alice", timeout=START_TIMEOUT)
        headers = {"Accept-Language": "en"}
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/board/", headers=headers) as page:
                assert page.status == 401
                assert "send /board in the chat" in await page.text()
            async with session.get(f"http://127.0.0.1:{port}/board/api/overview") as api:
                assert api.status == 401
    finally:
        code, output = await stop(process)
    assert code == 0, output
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as session:
            await session.get(f"http://127.0.0.1:{port}/board/")
