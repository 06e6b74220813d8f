"""`repairbot run`, the command operators start, as a real process against the stand-in:
polling and webhook mode, a SQLite file migrated on start, a clean stop on Ctrl-C, and
the token in no line it prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.server import SandboxServer
from tests.support.processes import START_TIMEOUT, free_port, run_bot, stop


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_run_answers_start_then_stops_cleanly_on_ctrl_c(
    bot_api: SandboxServer, tmp_path: Path, mode: str
) -> None:
    extra: dict[str, str] = {}
    if mode == "webhook":
        port = free_port()
        extra = {
            "mode": "webhook",
            "webhook_listen": "127.0.0.1",
            "webhook_port": str(port),
            "webhook_url": f"http://127.0.0.1:{port}/telegram",
            "webhook_secret": "s3cret-Path_token",
        }
    process = await run_bot(bot_api, tmp_path, **extra)
    try:
        alice = bot_api.client.user(1001, "Alice", language_code="en")
        await alice.command("start")
        try:
            greeting = await alice.expect(text_contains="Hello Alice", timeout=START_TIMEOUT)
        except Exception:
            _code, output = await stop(process)
            pytest.fail(f"no greeting; the bot printed:\n{output}\n{bot_api.transcript()}")
        assert greeting.button_texts[0] == "🛠 Report a repair"
        if mode == "webhook":
            hook = bot_api.state.updates.webhook
            assert hook is not None and hook.url == extra["webhook_url"]
            assert hook.secret_token == extra["webhook_secret"]
    finally:
        code, output = await stop(process)
    assert code == 0, output
    assert (tmp_path / "bot.db").is_file()  # the SQLite file was created and migrated
    assert bot_api.token not in output
    assert bot_api.token.split(":", 1)[1] not in output
