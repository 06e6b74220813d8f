"""`repairbot run` as a real process, started wrongly as operators do: a webhook Telegram
refuses, a port already taken. Each ends with one line naming the setting, not a traceback
or advice about something else."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sandbox.server import SandboxServer
from tests.support.processes import (
    bot_environment,
    exit_of,
    free_port,
    run_bot,
    start_repairbot,
)


async def test_an_http_webhook_url_quotes_telegrams_refusal(
    bot_api: SandboxServer, tmp_path: Path
) -> None:
    process = await run_bot(
        bot_api,
        tmp_path,
        mode="webhook",
        webhook_port=str(free_port()),
        webhook_url="http://bot.example.edu/telegram",
    )
    code, output = await exit_of(process)
    assert code == 2, output
    last = output.strip().splitlines()[-1]
    # PTB passes Telegram's description on capitalised ("Bad webhook: an https url ...").
    assert "bad webhook: an https url must be provided for webhook" in last.lower(), output
    assert "telegram.webhook_url" in last and "cannot reach" not in output
    assert "Traceback" not in output and bot_api.token not in output


@pytest.mark.parametrize("setting", ["board.port", "telegram.webhook_port", "ops.port"])
async def test_a_port_in_use_names_the_setting_that_holds_it(
    bot_api: SandboxServer, tmp_path: Path, setting: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        variable = "REPAIRBOT_" + setting.replace(".", "__").upper()
        ports = {
            "REPAIRBOT_TELEGRAM__WEBHOOK_PORT": str(free_port()),
            "REPAIRBOT_BOARD__PORT": str(free_port()),
            "REPAIRBOT_OPS__PORT": str(free_port()),
            variable: str(port),
        }
        env = bot_environment(
            bot_api,
            tmp_path,
            REPAIRBOT_TELEGRAM__MODE="webhook",
            REPAIRBOT_TELEGRAM__WEBHOOK_URL=f"http://127.0.0.1:{free_port()}/telegram",
            **ports,
        )
        code, output = await exit_of(await start_repairbot(tmp_path, env))
    assert code == 2, output
    last = output.strip().splitlines()[-1]
    assert f"port {port} is already in use ({setting} ({variable}) = {port})" in last, output
    assert "database" not in last and "Traceback" not in output


async def test_a_demo_port_in_use_names_the_option(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"REPAIRBOT_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"}
        code, output = await exit_of(
            await start_repairbot(tmp_path, env, "demo", "--once", "--port", str(port))
        )
    assert code == 2, output
    assert output.strip().splitlines()[-1] == (
        f"port {port} is already in use (demo --port): choose another, or --port 0 for any "
        "free one."
    )


async def test_settings_mistakes_are_one_line_from_the_real_command(tmp_path: Path) -> None:
    """Through the console entry point, as an operator meets them (no traceback)."""
    (tmp_path / "config.toml").write_text("[telegram\n", encoding="utf-8")
    code, output = await exit_of(await start_repairbot(tmp_path, {}, "db", "upgrade"))
    assert (code, output) == (
        2,
        "config: config.toml is not valid TOML: line 1, column 10: Expected ']' at the end "
        "of a table declaration\n",
    )
    (tmp_path / "config.toml").unlink()
    env = {"REPAIRBOT_DATABASE__URL": "postgresql://u:hunter22@127.0.0.1:1/db"}
    code, output = await exit_of(await start_repairbot(tmp_path, env, "db", "current"))
    assert code == 2 and len(output.splitlines()) == 1, output
    assert "cannot reach" in output or "database error" in output
    assert "psycopg" not in output and "hunter22" not in output
    env = {"REPAIRBOT_DATABSE__URL": "sqlite+aiosqlite:///elsewhere.db"}
    code, output = await exit_of(await start_repairbot(tmp_path, env, "run"))
    assert (code, output) == (
        2,
        "config: unknown setting REPAIRBOT_DATABSE__URL in the environment — did you mean "
        "REPAIRBOT_DATABASE__URL?\n",
    )
    assert not (tmp_path / "repairbot.db").exists() and not (tmp_path / "elsewhere.db").exists()
