"""`repairbot run` answers its ops listener (/healthz, /readyz, /metrics) beside the bot,
logs JSON lines when asked (one per update, no personal data, no token), and stops
listening on Ctrl-C. (A port that is taken: tests/e2e/test_run_mistakes.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from sandbox.server import SandboxServer
from store.migrate import head_revision
from tests.support.processes import (
    START_TIMEOUT,
    bot_environment,
    free_port,
    start_repairbot,
    stop,
)


async def test_run_serves_health_and_metrics_and_logs_json_lines(
    bot_api: SandboxServer, tmp_path: Path
) -> None:
    port = free_port()
    env = bot_environment(
        bot_api,
        tmp_path,
        REPAIRBOT_OPS__PORT=str(port),
        REPAIRBOT_LOGGING__FORMAT="json",
    )
    process = await start_repairbot(tmp_path, env)
    base = f"http://127.0.0.1:{port}"
    try:
        alice = bot_api.client.user(7_340_001, "Alicia", language_code="en")
        await alice.command("start")
        await alice.expect(text_contains="Hello Alicia", timeout=START_TIMEOUT)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/healthz") as health:
                assert (health.status, await health.text()) == (200, "ok")
            async with session.get(f"{base}/readyz") as ready:
                body = await ready.json()
                assert ready.status == 200, body
            async with session.get(f"{base}/metrics") as scraped:
                metrics = await scraped.text()
    finally:
        code, output = await stop(process)
    assert code == 0, output
    assert body["role"] == "leader" and body["database"]["revision"] == head_revision()
    assert 'repairbot_updates_total{kind="command",outcome="ok"} 1.0' in metrics
    assert "Alicia" not in metrics and "7340001" not in metrics
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    [update] = [r for r in records if r["logger"] == "bot.updates"]
    assert (update["kind"], update["outcome"]) == ("command", "ok")
    assert isinstance(update["person_id"], int) and isinstance(update["ms"], float)
    assert any(
        r["message"].startswith(f"ops listener on http://127.0.0.1:{port}") for r in records
    )
    assert bot_api.token not in output and bot_api.token.partition(":")[2] not in output
    assert "Alicia" not in output and "7340001" not in output
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as session:
            await session.get(f"{base}/healthz")
