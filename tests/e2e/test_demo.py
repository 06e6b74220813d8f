"""`repairbot demo` runs the real bot offline and plays a day of the office in the chats."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot import demo
from bot.settings import Settings
from sandbox.chatlog import ChatLine
from sandbox.server import SandboxServer

BOB, WENDY = 1002, 2002


async def test_demo_plays_a_day_of_the_office_through_the_chats(
    capsys: pytest.CaptureFixture[str],
) -> None:
    played: list[SandboxServer] = []
    transcript = await demo.run_demo(Settings(), port=0, once=True, after_play=played.append)
    today = datetime.now(ZoneInfo(Settings().service.timezone)).date().isoformat()
    # A readable chat, not an API log: whole texts, buttons by label, photos marked.
    assert "callback_data" not in transcript and "sendMessage" not in transcript
    assert "Alice: /start r_" in transcript and "Alice: [photo]" in transcript
    assert "[✅ Accept] [✖️ Decline]" in transcript
    summary = transcript.index("Please check your report:")
    assert "📝 The tap in the bathroom drips all night." in transcript[summary:]
    # Tom's whole job is in his own chat: accept, visit time, start, complete with a photo.
    for seen in (
        "Tom presses [✅ Accept]",
        "Tom presses [🕒 Propose a visit time]",
        "Alice presses [👍 That time works]",
        "Tom presses [▶️ Start work]",
        "Tom presses [✅ Complete]",
        "Tom: [photo]",
        "Alice presses [5★]",
        "Wendy presses [Parts to order]",
        "Sam: /stats",
    ):
        assert seen in transcript, seen
    # The job card follows the accept at once, with its next steps.
    accepted = transcript.index("is yours. The requester has been told.\n\n")
    assert "[🕒 Propose a visit time]" in transcript[accepted : accepted + 600]
    assert re.search(
        r"bot → Bob: 📅 \d{4}-\d{6}: this needs more time \(Parts to order\)", transcript
    )
    # The digest of the day played, not of the empty day before it.
    digest = transcript.index("Sam: /digest today\n  bot → Sam: [photo] 🗓 Daily digest for")
    assert f"Daily digest for {today}\n" in transcript[digest:]
    assert "Received 2 · completed 1 · cancelled 0" in transcript[digest:]
    # /stats ends with other periods to ask for, as commands.
    assert re.search(r"Other periods: /stats today · /stats 7d · /stats \d{4}-\d{2}\n", transcript)
    printed = capsys.readouterr().out
    assert transcript in printed
    assert "Tom (2001): technician, 東校區" in printed
    assert "Wendy (2002): technician, 西校區" in printed
    assert "Dana (3001): dispatcher" in printed
    # --once: the stand-in and the board are gone, so no address and no Ctrl-C.
    assert "Ctrl-C" not in printed and "http" not in printed and "127.0.0.1" not in printed
    assert "without --once" in printed
    assert re.search(r"bot → Sam: 📊 .*\n +\[link: closed with the demo\]", transcript)
    # Each chat shows things in the order they reached it.
    (server,) = played
    lines = server.state.chatlog.lines
    for chat_id, stored in server.state.messages.items():
        shown = [line.message_id for line in lines if new_message(line, chat_id)]
        assert shown == [m.message_id for m in stored], chat_id
    # Bob hears his report is offered before Wendy takes it and starts: sent in that
    # order, and printed in it.
    offered = index_of(lines, BOB, "bot", "offered to 1 on-duty technician")
    took = index_of(lines, BOB, "bot", "Wendy took your job")
    accept = index_of(lines, WENDY, "press", "[✅ Accept]")
    start = index_of(lines, WENDY, "press", "[▶️ Start work]")
    assert offered < accept < took < start
    printed_order = [
        transcript.index(": offered to 1 on-duty technician.", transcript.index("Bob: /start r_")),
        transcript.index("Wendy presses [✅ Accept]"),
        transcript.index("Wendy took your job"),
        transcript.index("Wendy presses [▶️ Start work]"),
    ]
    assert printed_order == sorted(printed_order)


def new_message(line: ChatLine, chat_id: int) -> bool:
    return line.chat_id == chat_id and line.kind in ("user", "bot")


def index_of(lines: list[ChatLine], chat_id: int, kind: str, text: str) -> int:
    """Where in the stand-in's receive order a chat's line of that kind appears."""
    found = [
        i
        for i, line in enumerate(lines)
        if line.chat_id == chat_id and line.kind == kind and text in line.body
    ]
    assert len(found) == 1, (chat_id, text, found)
    return found[0]


async def test_the_running_demo_prints_its_addresses_while_they_answer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    running = asyncio.create_task(demo.run_demo(Settings(), port=0, once=False))
    printed = ""
    try:
        async with asyncio.timeout(90):
            while "Ctrl-C stops the demo" not in printed:
                assert not running.done(), printed
                await asyncio.sleep(0.2)
                printed += capsys.readouterr().out
        chat = re.search(r"Browser chat: (http://127\.0\.0\.1:\d+/_sandbox/chat)", printed)
        board = re.search(r"Office board: (http://127\.0\.0\.1:\d+/board/)", printed)
        signin = re.search(r"(http://127\.0\.0\.1:\d+/board/signin\?token=\S+)", printed)
        assert chat and board and signin, printed
        assert signin.group(1).startswith(board.group(1))
        async with httpx.AsyncClient() as client:  # they answer while the demo runs
            assert (await client.get(chat.group(1))).status_code == 200
            assert (await client.get(board.group(1))).status_code < 500
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


def test_every_campus_has_a_technician_and_the_office_has_its_staff() -> None:
    cast = demo.personas(["North", "South", "East"])
    techs = [p.campus for p in cast if p.role is not None and p.role.value == "technician"]
    assert techs == ["North", "South", "East"]
    assert {p.role.value for p in cast if p.role} >= {"dispatcher", "supervisor", "inspector"}


async def test_a_step_that_does_not_happen_fails_the_demo(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(demo, "STEP", 0.5)

    async def nobody_accepts(tech: object, number: str) -> object:
        raise demo.DemoStepFailed(f"nobody accepted {number}")

    monkeypatch.setattr(demo, "_accept", nobody_accepts)
    with pytest.raises(demo.DemoStepFailed):
        await demo.run_demo(Settings(), port=0, once=True)
