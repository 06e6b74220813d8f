"""The other lists built from rows come a page at a time too: a campus's buildings and a
building's floors in the report flow, /followups, and /sweep's open campaigns. Each is
seeded past a page (the stand-in refuses an oversized keyboard as Telegram does), walked
with ◀️/▶️, and a forged page button shows the nearest page there is."""

from __future__ import annotations

import re

from bot.callbacks import FollowUpPage, Pick, SweepPage
from sandbox.client import UserHandle
from sandbox.views import BotMessage
from store.intake import campaigns
from store.lifecycle import Role
from tests.support.chats import actor
from tests.support.harness import Harness
from tests.support.world import E1, file_in_room, make_places, put_in_state

NEXT, PREV = "Next ▶️", "◀️ Prev"
NORTH = "北校區"
BUILDING = re.compile(r"N\d\d")


async def _walk(user: UserHandle, first: BotMessage) -> list[list[str]]:
    """Every page's buttons (without the ◀️/▶️ row), pressing ▶️ to the end."""
    pages, shown = [], first
    while True:
        pages.append([b for b in shown.button_texts if b not in (NEXT, PREV)])
        if NEXT not in shown.button_texts:
            return pages
        await user.press(shown, NEXT)
        shown = await user.wait_for_edit(shown)


async def test_a_campus_of_70_buildings_and_a_building_of_45_floors_page(bot: Harness) -> None:
    rows = [(NORTH, f"N{n:02d}", "1", "101", f"N{n:02d}-101") for n in range(1, 71)]
    rows += [(NORTH, "N01", str(f), "1", f"N01-F{f}") for f in range(2, 46)]
    await make_places(bot.store, rows)
    alice = await actor(bot, 1001, "Alice")
    await alice.user.command("report")
    step = await alice.user.expect(text_contains="Where is it?")
    await alice.user.press(step, "📋 Choose on a list")
    await alice.user.wait_for_edit(step, lambda m: "Choose the campus" in m.body)
    await alice.user.press(step, NORTH)
    buildings = await alice.user.wait_for_edit(step, lambda m: "Choose the building" in m.body)
    pages = [[b for b in p if BUILDING.fullmatch(b)] for p in await _walk(alice.user, buildings)]
    names = [b for page in pages for b in page]
    assert [len(p) for p in pages] == [30, 30, 10]
    assert sorted(names) == [f"N{n:02d}" for n in range(1, 71)]
    last = alice.user.messages[-1]
    # A forged page below zero shows the first page; one far past the end the last.
    await alice.user.press_forged(last, Pick("building", "page", -30).pack())
    first = await alice.user.wait_for_edit(last, lambda m: PREV not in m.button_texts)
    assert [b for b in first.button_texts if BUILDING.fullmatch(b)] == pages[0]
    await alice.user.press_forged(first, Pick("building", "page", 2**31 - 1).pack())
    last = await alice.user.wait_for_edit(first, lambda m: NEXT not in m.button_texts)
    assert [b for b in last.button_texts if BUILDING.fullmatch(b)] == pages[2]
    await alice.user.press(last, PREV)
    await alice.user.wait_for_edit(last, lambda m: NEXT in m.button_texts)
    await alice.user.press(last, PREV)
    first = await alice.user.wait_for_edit(last, lambda m: PREV not in m.button_texts)
    await alice.user.press(first, "N01")
    floors = await alice.user.wait_for_edit(first, lambda m: "Choose the floor" in m.body)
    floor_pages = await _walk(alice.user, floors)
    assert [len([b for b in p if b.isdigit()]) for p in floor_pages] == [40, 5]


async def test_followups_page(bot: Harness) -> None:
    alice = await actor(bot, 1001, "Alice")
    sue = await actor(bot, 5001, "Sue", Role.SUPERVISOR, buildings=(E1,))
    tom = await actor(bot, 3001, "Tom", Role.TECHNICIAN, buildings=(E1,))
    for _ in range(23):
        ticket_id = await file_in_room(bot.store, bot.places, alice.id)
        await put_in_state(bot.store, ticket_id, "complaint", technician_id=tom.id)
    await sue.user.command("followups")
    listing = await sue.user.expect(text="Open follow-ups (23):")
    pages = await _walk(sue.user, listing)
    assert [len(p) for p in pages] == [10, 10, 3]
    assert len({b for p in pages for b in p}) == 23
    last = sue.user.messages[-1]
    await sue.user.press_forged(last, FollowUpPage(10).pack())
    middle = await sue.user.wait_for_edit(
        last, lambda m: PREV in m.button_texts and NEXT in m.button_texts
    )
    assert middle.button_texts[:10] == pages[1]
    await sue.user.press_forged(middle, FollowUpPage(2**31 - 1).pack())
    end = await sue.user.wait_for_edit(middle, lambda m: NEXT not in m.button_texts)
    assert end.button_texts[:3] == pages[2]


async def test_open_campaigns_page(bot: Harness) -> None:
    rows = [(NORTH, f"N{n:02d}", "1", "101", f"N{n:02d}-101") for n in range(1, 14)]
    places = await make_places(bot.store, rows)
    ivan = await actor(bot, 6001, "Ivan", Role.INSPECTOR)
    checklist = next(iter(bot.store.policy.checklists))
    for n in range(1, 14):
        await campaigns.start_campaign(
            bot.store.uow(),
            actor_id=ivan.id,
            building_id=places.building(f"N{n:02d}").id,
            checklist=checklist,
        )
    await ivan.user.command("sweep")
    listing = await ivan.user.expect(text_contains="Open campaigns")
    pages = await _walk(ivan.user, listing)
    assert [len(p) for p in pages] == [10, 3]
    assert sorted(b.split(" · ")[0] for p in pages for b in p) == [
        f"🏢 N{n:02d}" for n in range(1, 14)
    ]
    last = ivan.user.messages[-1]
    await ivan.user.press_forged(last, SweepPage(-(2**31)).pack())
    first = await ivan.user.wait_for_edit(last, lambda m: PREV not in m.button_texts)
    assert first.button_texts[:10] == pages[0]
