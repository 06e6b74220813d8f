"""`repairbot demo` runs the real bot offline and plays a whole repair."""

from __future__ import annotations

from bot.demo import run_demo
from bot.settings import Settings


async def test_demo_plays_a_repair_from_qr_to_rating() -> None:
    transcript = await run_demo(Settings(), port=0, once=True)
    assert "/start r_" in transcript
    assert "New job" in transcript and "o:accept" in transcript
    assert "Thank you for rating" in transcript and "★★★★★" in transcript
