"""`repairbot check` in-process against the Bot API stand-in, on both databases: one line
per item, ok when `run` has what it needs, PROBLEM with the setting and what to do
otherwise, exit 1 on any problem, and never the token."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from bot import fonts
from bot.cli import main
from sandbox.server import SandboxServer
from tests.support.databases import truncate
from tests.support.processes import free_port


@pytest.fixture
def office(
    cli_dir: Path, db_url: str, bot_api: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """cli_dir with settings for the stand-in, an empty migrated database, a free board
    port and a CJK font (the test machine may have none)."""
    if not db_url.startswith("sqlite"):
        asyncio.run(truncate(db_url))
    for key, value in {
        "TELEGRAM__TOKEN": bot_api.token,
        "TELEGRAM__API_URL": bot_api.base_url,
        "TELEGRAM__FILE_URL": bot_api.base_file_url,
        "TELEGRAM__BOT_USERNAME": "sandbox_bot",
        "DATABASE__URL": db_url,
        "BOARD__PORT": str(free_port()),
    }.items():
        monkeypatch.setenv(f"REPAIRBOT_{key}", value)
    monkeypatch.setattr(fonts, "cjk_family", lambda: "Noto Sans CJK SC")
    return cli_dir


async def repairbot(*argv: str) -> int:
    """`repairbot ARGV` in a thread: the stand-in keeps serving on this loop meanwhile."""
    return await asyncio.to_thread(main, list(argv))


async def test_a_ready_office_is_all_ok(
    office: Path, bot_api: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await repairbot("staff", "add", "1001", "--role", "admin", "--name", "Ada") == 0
    assert await repairbot("locations", "import", "campus.csv") == 0
    capsys.readouterr()
    assert await repairbot("check") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[-1] == "ready: `repairbot run` has what it needs"
    assert [line for line in lines[:-1] if not line.startswith("ok ")] == []
    items = {line.split()[1]: line for line in lines[:-1]}
    assert set(items) == {
        "token", "getMe", "database", "webhook", "board", "port", "font", "timezone",
        "admins", "categories", "rooms",
    }  # fmt: skip
    assert "@sandbox_bot" in items["getMe"] and "27 rooms" in items["rooms"]
    assert "1 admin" in items["admins"] and "Asia/Shanghai" in items["timezone"]
    assert bot_api.token not in out and bot_api.token.split(":")[1] not in out


async def test_each_problem_is_one_line_naming_what_to_fix(
    office: Path,
    bot_api: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = bot_api.token.split(":")[0] + ":" + "FAKE-other-secret-" + "9" * 20
    monkeypatch.setenv("REPAIRBOT_TELEGRAM__TOKEN", wrong)
    monkeypatch.setenv("REPAIRBOT_TELEGRAM__MODE", "webhook")
    monkeypatch.setenv("REPAIRBOT_TELEGRAM__WEBHOOK_URL", "http://bot.example.edu/telegram")
    monkeypatch.setenv("REPAIRBOT_TELEGRAM__WEBHOOK_PORT", str(free_port()))
    monkeypatch.setenv("REPAIRBOT_BOARD__PUBLIC_URL", "http://board.example.edu")
    monkeypatch.setattr(fonts, "cjk_family", lambda: None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("REPAIRBOT_BOARD__PORT", str(port))
        assert await repairbot("check") == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    problems = [line for line in lines if line.startswith("PROBLEM")]
    assert lines[-1] == f"{len(problems)} problems; fix and run `repairbot check`"
    said = "\n".join(problems)
    assert "Telegram refused the token: check telegram.token" in said
    assert "telegram.webhook_url 'http://bot.example.edu/telegram' is not https://" in said
    assert "board.public_url 'http://board.example.edu' is not https://" in said
    assert f"board.port {port} on 127.0.0.1 is in use" in said
    assert "REPAIRBOT_BOARD__PORT" in said
    assert "no font with Chinese glyphs" in said
    assert "nobody is an admin: add one with `repairbot staff add" in said
    assert "no rooms: import them with `repairbot locations import" in said
    assert len(problems) == 7
    assert wrong not in out and wrong.split(":")[1] not in out


async def test_a_missing_token_or_database_skips_what_needs_them(
    office: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("REPAIRBOT_TELEGRAM__TOKEN")
    monkeypatch.setenv("REPAIRBOT_DATABASE__URL", "postgresql://bot:hunter22@127.0.0.1:1/x")
    assert await repairbot("check") == 1
    out = capsys.readouterr().out
    items = {line.split()[1]: line for line in out.splitlines()[:-1]}
    assert items["token"].startswith("PROBLEM") and "REPAIRBOT_TELEGRAM__TOKEN" in items["token"]
    assert items["getMe"].startswith("skipped")
    assert items["database"].startswith("PROBLEM  database   cannot reach postgresql+asyncpg://")
    assert items["admins"].startswith("skipped") and items["rooms"].startswith("skipped")
    assert "hunter22" not in out


async def test_a_sqlite_file_not_yet_created_is_fine_and_not_created(
    cli_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await repairbot("check") == 1  # no token here
    out = capsys.readouterr().out
    assert "ok       database   sqlite+aiosqlite:///" in out and "`run` creates it" in out
    assert not (cli_dir / "cli.db").exists()
