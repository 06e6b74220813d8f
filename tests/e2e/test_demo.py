"""`repairbot demo` runs the real bot offline and plays a day of the office in the chats."""

from __future__ import annotations

import re

import pytest

from bot import demo
from bot.settings import Settings


async def test_demo_plays_a_day_of_the_office_through_the_chats(
    capsys: pytest.CaptureFixture[str],
) -> None:
    transcript = await demo.run_demo(Settings(), port=0, once=True)
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
    assert re.search(r"bot → Sam: \[photo\] 🗓 Daily digest", transcript)
    closing = capsys.readouterr().out
    assert "Tom (2001): technician, 東校區" in closing
    assert "Wendy (2002): technician, 西校區" in closing
    assert "Dana (3001): dispatcher" in closing and "/_sandbox/chat" in closing
    assert re.search(r"Office board: http://127\.0\.0\.1:\d+/board/", closing)
    assert re.search(r"bot → Sam: 📊 .*\n.*/board/signin\?token=", transcript)


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
