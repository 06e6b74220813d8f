"""Injected faults (429, 5xx, slow, dropped) and Telegram's flood limits."""

from __future__ import annotations

import time

import pytest
from telegram.error import NetworkError, RetryAfter, TimedOut

from sandbox.client import SandboxClient
from sandbox.faults import Fault, RateLimiter
from sandbox.server import SandboxServer
from sandbox.testing import AnyApplication, RawApi


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_flood_fault_raises_retry_after(
    ptb_app: AnyApplication,
    sandbox: SandboxClient,
    raw_api: RawApi,
) -> None:
    sandbox.fail_next("getMe", Fault.flood(7))
    with pytest.raises(RetryAfter) as caught:
        await ptb_app.bot.get_me()
    assert "Retry in 7 seconds" in str(caught.value)
    sandbox.fail_next("getMe", Fault.flood(3))
    status, body = await raw_api("getMe")
    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    assert (await ptb_app.bot.get_me()).is_bot  # the fault was used up


async def test_server_error_fault_is_network_error(
    ptb_app: AnyApplication,
    sandbox: SandboxClient,
    raw_api: RawApi,
) -> None:
    sandbox.fail_next("getMe", Fault.server_error(502))
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await ptb_app.bot.get_me()
    sandbox.fail_next("getMe", Fault.server_error(500))
    status, body = await raw_api("getMe")
    assert (status, body["description"]) == (500, "Internal Server Error")


async def test_dropped_connection_is_network_error(
    ptb_app: AnyApplication,
    sandbox: SandboxClient,
) -> None:
    sandbox.fail_next("getMe", Fault.drop())
    with pytest.raises(NetworkError) as caught:
        await ptb_app.bot.get_me()
    assert not isinstance(caught.value, TimedOut)
    assert "disconnected" in str(caught.value).lower()
    assert (await ptb_app.bot.get_me()).is_bot


async def test_slow_answer_times_out_but_the_call_still_happens(
    ptb_app: AnyApplication,
    sandbox: SandboxClient,
) -> None:
    alice = sandbox.user(1001, "Alice")
    await alice.send("/start")
    sandbox.fail_next("sendMessage", Fault.slow(0.4))
    with pytest.raises(TimedOut):
        await ptb_app.bot.send_message(1001, "late", read_timeout=0.1)
    # Like Telegram, the server still processes a call whose client gave up waiting.
    assert (await alice.next_message(timeout=2)).text == "late"


async def test_slow_answer_within_timeout_succeeds(
    ptb_app: AnyApplication,
    sandbox: SandboxClient,
) -> None:
    sandbox.fail_next("getMe", Fault.slow(0.2))
    started = time.monotonic()
    assert (await ptb_app.bot.get_me()).is_bot
    assert time.monotonic() - started >= 0.2


async def test_times_and_wildcard(sandbox: SandboxClient, raw_api: RawApi) -> None:
    sandbox.fail_next("getMe", Fault.server_error(503), times=2)
    sandbox.fail_next("*", Fault.flood(1))
    assert [(await raw_api("getMe"))[0] for _ in range(3)] == [503, 503, 429]
    assert (await raw_api("getMyCommands"))[0] == 200


async def test_rate_limit_per_chat(bot_api: SandboxServer, raw_api: RawApi) -> None:
    alice, bob = bot_api.client.user(1001, "Alice"), bot_api.client.user(1002, "Bob")
    await alice.send("/start")
    await bob.send("/start")
    bot_api.client.rate_limits(True)
    assert (await raw_api("sendMessage", chat_id=1001, text="1"))[0] == 200
    status, body = await raw_api("sendMessage", chat_id=1001, text="2")
    assert status == 429 and body["description"] == "Too Many Requests: retry after 1"
    assert body["parameters"] == {"retry_after": 1}
    assert (await raw_api("sendMessage", chat_id=1002, text="other chat"))[0] == 200
    bot_api.client.rate_limits(False)
    assert (await raw_api("sendMessage", chat_id=1001, text="3"))[0] == 200


def test_rate_limiter_global_budget_and_recovery() -> None:
    now = [100.0]
    limiter = RateLimiter(enabled=True, clock=lambda: now[0])
    assert all(limiter.check(chat) is None for chat in range(30))
    assert limiter.check(99) == 1  # 31st message within one second
    now[0] += 1.0
    assert limiter.check(99) is None
    assert limiter.check(99) == 1  # per chat: one per second
    now[0] += 0.5
    assert limiter.check(99) == 1
    now[0] += 0.5
    assert limiter.check(99) is None


async def test_unknown_method_faults_do_not_hide_404(
    sandbox: SandboxClient, raw_api: RawApi
) -> None:
    sandbox.fail_next("*", Fault.flood(1))
    assert (await raw_api("sendPoll"))[0] == 404
    assert sandbox.faults.pending("*") == 1
