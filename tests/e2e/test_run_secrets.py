"""`repairbot run` as a process, started wrong in the ways operators do: a token Telegram
rejects, a database it cannot use, an API URL nobody answers. Each time it stops at once
with exit 2 and one line saying what to do, and no line it prints holds a secret (the
token, its secret half, the webhook secret or the database password)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from sandbox.server import SandboxServer
from tests.support.processes import START_TIMEOUT, bot_environment, exit_of, start_repairbot

PASSWORD = "Pw-" + "never-print-me-" + "4711"  # built, not a credential
WEBHOOK_SECRET = "hook-" + "secret-" + "0815"


def _fake_token(bot_id: str = "987654321") -> str:
    return bot_id + ":" + "FAKE-rejected-" + "abcdefghij" * 2  # built, not a credential


def _assert_no_secret(output: str, *secrets: str) -> None:
    for line in output.splitlines():
        for secret in secrets:
            assert secret not in line, f"{secret!r} printed: {line}"
    assert "Traceback" not in output, output


def _env(bot_api: SandboxServer, tmp_path: Path, **overrides: str) -> dict[str, str]:
    return bot_environment(
        bot_api, tmp_path, REPAIRBOT_TELEGRAM__WEBHOOK_SECRET=WEBHOOK_SECRET, **overrides
    )


async def _run(tmp_path: Path, env: dict[str, str], *argv: str) -> tuple[int, str]:
    return await exit_of(await start_repairbot(tmp_path, env, *argv))


async def test_a_token_the_server_rejects_is_named_not_printed(
    bot_api: SandboxServer, tmp_path: Path
) -> None:
    token = _fake_token()
    env = _env(bot_api, tmp_path, REPAIRBOT_TELEGRAM__TOKEN=token)
    code, output = await _run(tmp_path, env)
    assert code == 2, output
    assert output.splitlines()[-1].startswith("Telegram refused the bot token: check telegram")
    _assert_no_secret(output, token, token.split(":", 1)[1], WEBHOOK_SECRET)


@pytest.mark.parametrize(
    "where",
    ["127.0.0.1:1", "127.0.0.1:5432"],  # nobody listening; the server, but no such role
)
@pytest.mark.parametrize("command", [("run",), ("db", "upgrade")])
async def test_a_database_it_cannot_use_is_named_without_its_password(
    bot_api: SandboxServer, tmp_path: Path, where: str, command: tuple[str, ...]
) -> None:
    url = f"postgresql+asyncpg://nobody_here:{PASSWORD}@{where}/no_such_db"
    env = _env(bot_api, tmp_path, REPAIRBOT_DATABASE__URL=url)
    code, output = await _run(tmp_path, env, *command)
    assert code == 2, output
    last = output.splitlines()[-1]
    assert "database" in last and "REPAIRBOT_DATABASE__URL" in last, output
    _assert_no_secret(output, PASSWORD, bot_api.token, WEBHOOK_SECRET)


async def test_an_unparsable_database_url_is_refused_without_echoing_it(
    bot_api: SandboxServer, tmp_path: Path
) -> None:
    url = f"postgresql+asyncpg://bot:{PASSWORD}@127.0.0.1:port/db"
    code, output = await _run(tmp_path, _env(bot_api, tmp_path, REPAIRBOT_DATABASE__URL=url))
    assert code == 2 and "database.url: not a database URL" in output, output
    _assert_no_secret(output, PASSWORD)


@pytest.mark.parametrize("api_url", ["http://127.0.0.1:9/bot", "ftp://127.0.0.1:9/bot"])
async def test_an_unreachable_api_url_is_named_with_what_to_check(
    bot_api: SandboxServer, tmp_path: Path, api_url: str
) -> None:
    env = _env(bot_api, tmp_path, REPAIRBOT_TELEGRAM__API_URL=api_url)
    code, output = await _run(tmp_path, env)
    assert code == 2, output
    last = output.splitlines()[-1]
    assert last.startswith(f"cannot reach Telegram at {api_url}") and "api_url" in last
    _assert_no_secret(output, bot_api.token, bot_api.token.split(":", 1)[1], WEBHOOK_SECRET)


async def test_an_uncaught_exception_is_printed_without_the_secrets(tmp_path: Path) -> None:
    """The last resort: whatever escapes, Python's own traceback printer is redacted."""
    token = _fake_token("123")
    script = (
        "from bot import logs\n"
        f"logs.protect({token!r}, {PASSWORD!r})\n"
        f"raise RuntimeError('bad token ' + {token!r} + ' and ' + {token.split(':')[1]!r}"
        f" + ' password ' + {PASSWORD!r})\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        cwd=Path(__file__).parents[2],
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
    text = err.decode()
    assert process.returncode == 1 and "RuntimeError: bad token <secret> and <secret>" in text
    for secret in (token, token.split(":", 1)[1], PASSWORD):
        assert secret not in text
