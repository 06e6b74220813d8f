"""Supervisors: follow-ups from low ratings and complaints reach the building's supervisor
and are resolved with a note the requester hears; /stats figures and /export documents."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from bot.export import ExportFiles
from bot.flows import reports
from bot.ratelimit import REPLY_RETRIES
from sandbox.faults import Fault
from store.lifecycle import Role
from store.models import FollowUp
from store.repair import dispatch, followups, requester, work
from store.reporting import export
from tests.support.chats import WAIT, Actor, actor
from tests.support.harness import Harness
from tests.support.rows import event_actions, outbox_kinds, ticket_row
from tests.support.world import (
    E1,
    E2,
    W1,
    Clock,
    file_in_room,
    put_in_state,
    set_building_supervisor,
)


async def _followup(bot: Harness, ticket_id: int) -> FollowUp:
    async with bot.store.uow() as uow:
        found = (
            await uow.session.execute(select(FollowUp).where(FollowUp.ticket_id == ticket_id))
        ).scalar_one()
        uow.session.expunge(found)
        return found


async def _start_resolving(supervisor: Actor, number: str) -> None:
    """/followups, open the follow-up, press Resolve: the note is asked for."""
    await supervisor.user.command("followups")
    listing = await supervisor.user.expect(text_contains="Open follow-ups (1):")
    label = next(b for b in listing.button_texts if b.startswith(number))
    await supervisor.user.press(listing, label)
    detail = await supervisor.user.wait_for_edit(listing, lambda m: "📣" in (m.text or ""))
    await supervisor.user.press(detail, "✅ Resolve")
    await supervisor.user.wait_for_edit(detail, lambda m: "What was done" in (m.text or ""))


async def test_low_rating_reaches_the_named_supervisor_who_resolves_it(bot: Harness) -> None:
    alice = await actor(bot, 1001, "Alice")
    sue = await actor(bot, 5001, "Sue", Role.SUPERVISOR, buildings=(E1,))
    sid = await actor(bot, 5002, "Sid", Role.SUPERVISOR, buildings=(E1,))
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    tina = await actor(bot, 3001, "Tina", Role.TECHNICIAN, buildings=(E1,))
    # Sue is the building's named supervisor.
    await set_building_supervisor(bot.store, bot.places.building(E1).id, sue.id)
    ticket_id = await file_in_room(bot.store, bot.places, alice.id)
    await put_in_state(
        bot.store, ticket_id, "completed", dispatcher_id=dora.id, technician_id=tina.id
    )
    number = (await ticket_row(bot.store, ticket_id)).number

    done = await alice.user.expect(text_contains=f"{number} is done", timeout=WAIT)
    await alice.user.press(done, "2★")
    await alice.user.expect(text_contains="Add a comment")
    await alice.user.send("Still drips, and the floor is wet.")
    await alice.user.expect(text_contains="comment was saved")
    followup = await _followup(bot, ticket_id)
    assert (followup.kind, followup.supervisor_id) == ("low_rating", sue.id)
    notice = await sue.user.expect(text_contains=f"Follow-up {followup.number}", timeout=WAIT)
    assert "(low rating)" in notice.body and number in notice.body
    assert "followup.new" not in await outbox_kinds(bot.store, sid.id)  # only the named one

    await _start_resolving(sue, followup.number)
    await sue.user.send_photo()  # a note has words
    await sue.user.expect(text="Please give a reason.")
    assert (await _followup(bot, ticket_id)).resolved_at is None
    note = "Plumber goes back tomorrow at 9; floor dried today."
    await sue.user.send(note)
    await sue.user.expect(text=f"✅ {followup.number} resolved; the requester was told.")
    told = await alice.user.expect(text_contains=f"Follow-up {followup.number}", timeout=WAIT)
    assert told.body == f"📣 Follow-up {followup.number} on {number}: {note}"
    resolved = await _followup(bot, ticket_id)
    assert resolved.resolved_at is not None
    assert (resolved.resolved_by_id, resolved.resolution) == (sue.id, note)
    assert (await event_actions(bot.store, ticket_id))[-1] == ("followup_resolved", note)
    await sue.user.command("followups")
    await sue.user.expect(text="No open follow-ups. 👍")


async def test_complaint_reaches_the_supervisors_covering_the_building(bot: Harness) -> None:
    bob = await actor(bot, 1002, "Bob")
    sven = await actor(bot, 5003, "Sven", Role.SUPERVISOR, buildings=(E2,))
    sue = await actor(bot, 5001, "Sue", Role.SUPERVISOR, buildings=(E1,))
    ada = await actor(bot, 6001, "Ada", Role.ADMIN)
    ticket_id = await file_in_room(bot.store, bot.places, bob.id, "E2-101")
    number = (await ticket_row(bot.store, ticket_id)).number

    await bob.user.command("my")
    listing = await bob.user.expect(text_contains="Your tickets")
    await bob.user.press(listing, next(b for b in listing.button_texts if number in b))
    detail = await bob.user.wait_for_edit(listing, lambda m: "History:" in (m.text or ""))
    await bob.user.press(detail, "📣 Complain")
    await bob.user.expect(text_contains="Tell us what went wrong")
    await bob.user.send("Nobody came for three days.")
    await bob.user.expect(text_contains="was passed to the supervisor")
    followup = await _followup(bot, ticket_id)
    notice = await sven.user.expect(text_contains=f"Follow-up {followup.number}", timeout=WAIT)
    assert "(complaint)" in notice.body and "Nobody came for three days." in notice.body
    assert "followup.new" not in await outbox_kinds(bot.store, sue.id)
    await sue.user.command("followups")
    await sue.user.expect(text="No open follow-ups. 👍")  # not her building

    # Sven starts resolving; meanwhile an admin resolves it. Sven's note finds it gone,
    # and his question is over rather than refusing every later message.
    await _start_resolving(sven, followup.number)
    await followups.resolve(bot.store.uow(), followup.id or 0, ada.id, "Apologised by phone.")
    await bob.user.expect(text_contains="Apologised by phone.", timeout=WAIT)
    await sven.user.send("Called Bob.")
    await sven.user.expect(text="This follow-up is already resolved or not yours.")
    await sven.user.send("Called Bob.")
    await sven.user.expect(text_contains="Please choose one of the buttons")
    resolved = await _followup(bot, ticket_id)
    assert (resolved.resolved_by_id, resolved.resolution) == (ada.id, "Apologised by phone.")
    assert (await outbox_kinds(bot.store, bob.id)).count("followup.resolved") == 1


async def _scenario(bot: Harness, clock: Clock) -> dict[str, str]:
    """A day on the clock: two repairs done (in 40 min and 2 h), one open, one elsewhere."""
    alice = await actor(bot, 1001, "Alice")
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    ada = await actor(bot, 6001, "Ada", Role.ADMIN)
    tina = await actor(bot, 3001, "Tina", Role.TECHNICIAN, buildings=(E1,))
    tom = await actor(bot, 3002, "Tom", Role.TECHNICIAN, buildings=(E1,))
    wes = await actor(bot, 3003, "Wes", Role.TECHNICIAN, buildings=(W1,))
    uow = bot.store.uow

    async def repair(
        code: str, category: str, tech: Actor, by: Actor, accept: float, fix: float, stars: int
    ) -> str:
        ticket_id = await file_in_room(bot.store, bot.places, alice.id, code, category)
        clock.advance(minutes=accept)
        await dispatch.assign(uow(), ticket_id, by.id, tech.id)
        await work.start(uow(), ticket_id, tech.id)
        clock.advance(minutes=fix)
        await work.complete(uow(), ticket_id, tech.id)
        await requester.confirm_and_rate(uow(), ticket_id, alice.id, stars)
        return (await ticket_row(bot.store, ticket_id)).number

    numbers = {"quick": await repair("E1-101", "water", tina, dora, 10, 30, 5)}
    clock.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    numbers["slow"] = await repair("E1-102", "electrical", tom, dora, 30, 90, 2)
    clock.now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    numbers["open"] = (
        await ticket_row(bot.store, await file_in_room(bot.store, bot.places, alice.id, "E1-201"))
    ).number
    numbers["elsewhere"] = await repair("W1-101", "water", wes, ada, 5, 5, 1)
    clock.now = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    return numbers


async def test_stats_and_export_for_a_day_on_the_clock(bot: Harness) -> None:
    clock = Clock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    bot.store.clock = clock
    sue = await actor(bot, 5001, "Sue", Role.SUPERVISOR, buildings=(E1,))
    numbers = await _scenario(bot, clock)
    mine = [numbers["quick"], numbers["slow"], numbers["open"]]

    await sue.user.command("stats")
    figures = await sue.user.expect(text_contains="📊")
    lines = figures.body.splitlines()
    assert "Office: 3 reported, 2 completed, 1 open now." in lines
    assert "⏱ Repaired within an hour: 50%" in lines
    assert "Median accept 20 min · median repair 1 h 20 min" in lines
    assert "⭐ 3.5★ from 2 rated · 1 low · 1 open follow-ups" in lines
    techs = [line for line in lines if line.startswith("👷")]
    assert techs == [  # busiest first, then by name; Wes works in another building
        "👷 Tina: 1 done · accept 10 min · repair 40 min · 5.0★ (1 rated) · rework 0% · overdue 0",
        "👷 Tom: 1 done · accept 30 min · repair 2 h 0 min · 2.0★ (1 rated) · "
        "rework 0% · overdue 0",
    ]

    await sue.user.command("stats", "garbage")
    error = await sue.user.expect(text_contains="I don't understand the period “garbage”")
    assert "today" in error.body and "2026-03-01..2026-03-15" in error.body

    await sue.user.command("export", "30d")
    xlsx = await sue.user.next_message(lambda m: m.document is not None)
    table = await sue.user.next_message(lambda m: m.document is not None)
    assert (xlsx.document_name or "").endswith(".xlsx") and xlsx.caption is not None
    assert xlsx.caption.startswith("3 tickets")
    assert xlsx.document is not None and table.document is not None
    sheet = load_workbook(io.BytesIO(xlsx.document)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    assert [r[header.index("number")] for r in rows[1:]] == mine
    slow = rows[1 + mine.index(numbers["slow"])]
    assert (slow[header.index("technician")], slow[header.index("rating")]) == ("Tom", 2)
    assert slow[header.index("accept_minutes")] == 30
    assert (table.document_name or "").endswith(".csv")
    assert table.document.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    records = list(csv.DictReader(io.StringIO(table.document.decode("utf-8-sig"))))
    assert [r["number"] for r in records] == mine
    assert {r["building"] for r in records} == {E1}


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the bot's temporary files go during the test (the export's, openpyxl's)."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


async def _left_in(folder: Path) -> list[str]:
    """What is still in `folder` once the handler is done (it cleans up after its reply)."""
    for _ in range(int(WAIT / 0.05)):
        left = await asyncio.to_thread(os.listdir, folder)
        if not left:
            break
        await asyncio.sleep(0.05)
    return left


async def test_an_export_goes_out_in_batches_and_leaves_no_file_behind(
    bot: Harness, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    bot.store.clock = clock
    sue = await actor(bot, 5001, "Sue", Role.SUPERVISOR, buildings=(E1,))
    numbers = await _scenario(bot, clock)
    mine = [numbers["quick"], numbers["slow"], numbers["open"]]
    monkeypatch.setattr(export, "EXPORT_BATCH", 2)
    batches: list[int] = []
    add = ExportFiles.add

    def counted_add(files: ExportFiles, rows: Sequence[export.ExportRow]) -> None:
        batches.append(len(rows))
        add(files, rows)

    monkeypatch.setattr(ExportFiles, "add", counted_add)

    await sue.user.command("export", "30d")
    xlsx = await sue.user.next_message(lambda m: m.document is not None)
    table = await sue.user.next_message(lambda m: m.document is not None)
    assert batches == [2, 1]  # never more rows in hand than a batch
    assert xlsx.caption is not None and xlsx.caption.startswith("3 tickets")
    assert xlsx.document is not None and table.document is not None
    sheet = load_workbook(io.BytesIO(xlsx.document)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert [r[rows[0].index("number")] for r in rows[1:]] == mine
    assert sheet.auto_filter.ref == "A1:X4"
    records = list(csv.DictReader(io.StringIO(table.document.decode("utf-8-sig"))))
    assert [r["number"] for r in records] == mine
    assert await _left_in(scratch) == []


async def test_a_failed_upload_leaves_no_file_behind(bot: Harness, scratch: Path) -> None:
    clock = Clock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    bot.store.clock = clock
    sue = await actor(bot, 5001, "Sue", Role.SUPERVISOR, buildings=(E1,))
    await _scenario(bot, clock)
    # Every try of the upload fails (a reply is retried on a passing failure).
    bot.sandbox.fail_next("sendDocument", Fault.server_error(502), len(REPLY_RETRIES) + 1)

    await sue.user.command("export", "30d")
    await sue.user.expect(text_contains="Something went wrong")
    assert not [m for m in sue.user.messages if m.document is not None]
    assert await _left_in(scratch) == []


async def test_an_upload_retried_after_a_passing_failure_sends_the_whole_file(
    bot: Harness, scratch: Path
) -> None:
    clock = Clock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    bot.store.clock = clock
    sue = await actor(bot, 5001, "Sue", Role.SUPERVISOR, buildings=(E1,))
    numbers = await _scenario(bot, clock)
    # The file is streamed from disk as it is uploaded: the retry must start from the top.
    bot.sandbox.fail_next("sendDocument", Fault.server_error(502))

    await sue.user.command("export", "30d")
    xlsx = await sue.user.next_message(lambda m: m.document is not None)
    table = await sue.user.next_message(lambda m: m.document is not None)
    assert xlsx.document is not None and table.document is not None
    sheet = load_workbook(io.BytesIO(xlsx.document)).active
    assert sheet is not None
    assert sheet.max_row == 4
    assert bot.sandbox.faults.pending("sendDocument") == 0  # the first try did fail
    records = list(csv.DictReader(io.StringIO(table.document.decode("utf-8-sig"))))
    assert {r["number"] for r in records} == {numbers[k] for k in ("quick", "slow", "open")}
    assert await _left_in(scratch) == []


async def test_a_file_over_telegrams_upload_limit_is_explained_instead(
    bot: Harness, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    bot.store.clock = clock
    sue = await actor(bot, 5001, "Sue", Role.SUPERVISOR, buildings=(E1,))
    await _scenario(bot, clock)
    # The sheet of three tickets is a few kB (a zip of XML parts), the CSV under one.
    monkeypatch.setattr(reports, "UPLOAD_LIMIT", 2_000)

    await sue.user.command("export", "30d")
    refusal = await sue.user.expect(text_contains="more than the")
    assert ".xlsx (3 tickets)" in refusal.body
    assert "Export a shorter period" in refusal.body and "/export 2026-01" in refusal.body
    table = await sue.user.next_message(lambda m: m.document is not None)
    assert (table.document_name or "").endswith(".csv")
    assert [m.document_name for m in sue.user.messages if m.document is not None] == [
        table.document_name
    ]
    assert await _left_in(scratch) == []
