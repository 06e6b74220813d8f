"""The user-side client: waiting, groups, blocking, transcript and HTTP control endpoints."""

from __future__ import annotations

import asyncio
import sys

import pytest

from sandbox.actions import UsageError
from sandbox.client import SandboxClient
from sandbox.notify import WaitTimeout
from sandbox.server import SandboxServer
from sandbox.testing import RawApi


async def test_next_message_waits_for_a_later_send(
    raw_api: RawApi, sandbox: SandboxClient
) -> None:
    alice = sandbox.user(1001, "Alice")
    await alice.send("/start")
    waiter = asyncio.create_task(alice.next_message(timeout=2))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await raw_api.ok("sendMessage", chat_id=1001, text="Welcome")
    assert (await waiter).text == "Welcome"


async def test_send_marks_so_old_messages_are_skipped(
    raw_api: RawApi, sandbox: SandboxClient
) -> None:
    alice = sandbox.user(1001, "Alice")
    await alice.send("/start")
    await raw_api.ok("sendMessage", chat_id=1001, text="old, never read")
    await alice.send("/help")
    await raw_api.ok("sendMessage", chat_id=1001, text="help text")
    assert (await alice.next_message()).text == "help text"
    assert [m.text for m in alice.messages] == ["old, never read", "help text"]


async def test_expect_predicates_and_timeout_message(
    raw_api: RawApi, sandbox: SandboxClient
) -> None:
    alice = sandbox.user(1001, "Alice")
    await alice.send("/start")
    await raw_api.ok("sendMessage", chat_id=1001, text="typing...")
    await raw_api.ok(
        "sendMessage",
        chat_id=1001,
        text="Ticket #5 created",
        reply_markup={"inline_keyboard": [[{"text": "Cancel", "callback_data": "c:5"}]]},
    )
    found = await alice.expect(text_contains="#5", has_buttons=["Cancel"])
    assert found.message_id == 3
    with pytest.raises(WaitTimeout) as caught:
        await alice.expect(text="never", timeout=0.05)
    assert "in chat 1001" in str(caught.value) and "Ticket #5 created" in str(caught.value)
    await alice.assert_no_message(within=0.05)


async def test_wait_for_edit_and_deletion(raw_api: RawApi, sandbox: SandboxClient) -> None:
    alice = sandbox.user(1001, "Alice")
    await alice.send("/start")
    await raw_api.ok("sendMessage", chat_id=1001, text="Status: new")
    message = await alice.next_message()
    with pytest.raises(WaitTimeout):
        await alice.wait_for_edit(message, timeout=0.05)
    edit = asyncio.create_task(
        alice.wait_for_edit(message, lambda m: m.text == "Status: done", timeout=2)
    )
    await raw_api.ok("editMessageText", chat_id=1001, message_id=2, text="Status: assigned")
    await raw_api.ok("editMessageText", chat_id=1001, message_id=2, text="Status: done")
    assert (await edit).history[-2].text == "Status: assigned"
    await raw_api.ok("deleteMessage", chat_id=1001, message_id=2)
    assert (await alice.wait_for_deletion(message)).deleted


async def test_group_chat_with_several_members(raw_api: RawApi, sandbox: SandboxClient) -> None:
    alice, bob = sandbox.user(1001, "Alice"), sandbox.user(1002, "Bob")
    group = sandbox.group("Dorm 3 repairs", [alice, bob])
    await alice.send("/report@sandbox_bot leak", chat=group)
    await bob.send("me too", chat=group)
    updates = await raw_api.ok("getUpdates")
    first, second = (u["message"] for u in updates)
    assert first["chat"] == {"id": group.id, "type": "group", "title": "Dorm 3 repairs"}
    assert first["entities"] == [{"type": "bot_command", "offset": 0, "length": 19}]
    assert (first["from"]["id"], second["from"]["id"]) == (1001, 1002)
    assert second["message_id"] == first["message_id"] + 1
    await raw_api.ok("sendMessage", chat_id=group.id, text="noted")
    assert (await group.next_message()).text == "noted"
    outsider = sandbox.user(1003, "Eve")
    with pytest.raises(UsageError, match="not a member"):
        await outsider.send("hi", chat=group)


async def test_start_payload_and_command_entity(raw_api: RawApi, sandbox: SandboxClient) -> None:
    alice = sandbox.user(1001, "Alice", language_code="zh-hans")
    await alice.command("start", "room-101")
    message = (await raw_api.ok("getUpdates"))[0]["message"]
    assert message["text"] == "/start room-101"
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert message["from"]["language_code"] == "zh-hans"


async def test_block_sends_my_chat_member_and_forbids(
    raw_api: RawApi, sandbox: SandboxClient
) -> None:
    alice = sandbox.user(1001, "Alice")
    await alice.send("/start")
    await alice.block()
    with pytest.raises(UsageError, match="blocked"):
        await alice.send("hi")
    updates = await raw_api.ok("getUpdates")
    change = updates[-1]["my_chat_member"]
    assert change["new_chat_member"]["status"] == "kicked"
    assert change["old_chat_member"]["status"] == "member"
    status, body = await raw_api("sendChatAction", chat_id=1001, action="typing")
    assert (status, body["description"]) == (403, "Forbidden: bot was blocked by the user")


async def test_transcript_records_both_sides(raw_api: RawApi, sandbox: SandboxClient) -> None:
    alice = sandbox.user(1001, "Alice")
    await alice.send("/start")
    await raw_api.ok("getUpdates")
    await raw_api.ok("sendMessage", chat_id=1001, text="Welcome")
    await raw_api("sendMessage", chat_id=1001, text="")
    lines = sandbox.transcript().splitlines()
    assert "Alice (1001): sends in 1001 #1: '/start'" in lines[0]
    assert "bot: getUpdates" in lines[1]
    assert "bot: sendMessage chat_id=1001 text='Welcome' -> ok #2" in lines[2]
    assert lines[3].endswith("-> 400 Bad Request: message text is empty")


async def test_http_control_endpoints(bot_api: SandboxServer, raw_api: RawApi) -> None:
    session, base = raw_api.session, f"{bot_api.url}/_sandbox"
    async with session.post(f"{base}/users", json={"id": 7, "first_name": "Ann"}) as response:
        assert (await response.json()) == {"id": 7}
    async with session.post(f"{base}/users/7/send", json={"text": "/start"}) as response:
        assert (await response.json())["message"]["text"] == "/start"
    await raw_api.ok(
        "sendMessage",
        chat_id=7,
        text="menu",
        reply_markup={"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]},
    )
    async with session.get(f"{base}/chats/7/messages?after=1&timeout=1") as response:
        [message] = await response.json()
    assert message["message"]["text"] == "menu" and message["deleted"] is False
    body = {"message_id": 2, "text": "Go", "wait": False}
    async with session.post(f"{base}/users/7/press", json=body) as response:
        assert (await response.json()) == {"answer": None}
    fault = {"method": "getMe", "kind": "server_error", "status": 503}
    async with session.post(f"{base}/faults", json=fault) as response:
        assert (await response.json()) == {"queued": 1}
    assert (await raw_api("getMe"))[0] == 503
    async with session.post(f"{base}/users/99/send", json={"text": "x"}) as response:
        assert response.status == 400
    async with session.get(f"{base}/transcript") as response:
        assert "Ann (7): presses in 7 #2: data='go'" in await response.text()
    async with session.get(f"{base}/info") as response:
        assert (await response.json())["base_url"] == bot_api.base_url


async def test_python_m_sandbox_prints_urls() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        "0",
        "--token",
        "42:abc",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(10):
            first = (await process.stdout.readline()).decode()
            await process.stdout.readline()
            base = (await process.stdout.readline()).decode()
        assert first.startswith("Telegram Bot API stand-in on http://127.0.0.1:")
        assert base.strip().endswith("/bot") and "base_url" in base
    finally:
        process.terminate()
        await process.wait()
