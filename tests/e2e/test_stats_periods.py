"""/stats ends with other periods as commands to send, and each of them works as it is."""

from __future__ import annotations

from datetime import UTC, datetime

from store.directory.profiles import set_language
from store.domain.filing import NewTicket
from store.intake.report import report
from store.lifecycle import Role
from tests.support.chats import staff
from tests.support.harness import Harness
from tests.support.world import Clock, make_person


async def test_the_last_line_offers_periods_that_work(bot: Harness) -> None:
    clock = Clock(datetime(2026, 2, 20, 3, 0, tzinfo=UTC))
    bot.store.clock = clock
    sue = await staff(bot, 5101, "Sue", Role.SUPERVISOR)
    rita = await make_person(bot.store, name="Rita")
    room = bot.places.room("E1-101").room_id
    await report(bot.store.uow(), NewTicket(rita.id, room, "water", "The tap drips"))
    clock.now = datetime(2026, 3, 3, 4, 0, tzinfo=UTC)  # 12:00 on 03-03 in Shanghai

    sue.user.mark()
    await sue.user.command("stats")
    figures = await sue.user.expect(text_contains="📊")
    last = figures.body.splitlines()[-1]
    assert last == "Other periods: /stats today · /stats 7d · /stats 2026-02"

    seen = {}
    for example in last.removeprefix("Other periods: ").split(" · "):
        sue.user.mark()
        await sue.user.send(example)
        answer = await sue.user.next_message(timeout=10)
        assert answer.body.startswith("📊"), (example, answer.body)
        seen[example] = answer.body.splitlines()[:2]
    assert seen["/stats 2026-02"] == [
        "📊 2026-02-01 – 2026-03-01",
        "Office: 1 reported, 0 completed, 1 open now.",
    ]
    assert seen["/stats today"][1] == "Office: 0 reported, 0 completed, 1 open now."
    assert seen["/stats 7d"][0] == "📊 2026-02-24 – 2026-03-03"


async def test_the_last_line_in_chinese(bot: Harness) -> None:
    bot.store.clock = Clock(datetime(2026, 1, 15, 4, 0, tzinfo=UTC))
    sue = await staff(bot, 5102, "Sue", Role.SUPERVISOR)
    await set_language(bot.store.uow(), sue.id, "zh_Hant")
    sue.user.mark()
    await sue.user.command("stats")
    figures = await sue.user.expect(text_contains="📊")
    # Last month across the new year.
    assert figures.body.splitlines()[-1] == (
        "查看其他期間：/stats today · /stats 7d · /stats 2025-12"
    )
