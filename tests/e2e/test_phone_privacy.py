"""A requester's phone in the chat: on the ticket card of the building's dispatcher, never
in the queue's list, not for another building's dispatcher, and in an export only as the
`phone` column an admin asks for with `/export --with-phones`."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest

from bot.callbacks import QueueItem
from sandbox.views import BotMessage
from store.domain.filing import NewTicket
from store.intake.report import report
from store.lifecycle import Role
from tests.support.chats import Actor, actor
from tests.support.harness import Harness
from tests.support.world import E1, E2

PHONE = "+86 139 8765 4321"


async def _ticket(bot: Harness, requester_id: int) -> tuple[int, str]:
    """A ticket in E1-101 with the requester's phone on it: its id and number."""
    room = bot.places.room("E1-101").room_id
    new = NewTicket(requester_id, room, "water", "The tap drips.", contact_phone=PHONE)
    ticket = (await report(bot.store.uow(), new)).ticket
    return ticket.id, ticket.number


def _text_of(message: BotMessage) -> str:
    return message.body + "\n" + "\n".join(message.button_texts)


@pytest.mark.parametrize("e2e_db", ["sqlite", "postgres"], indirect=True)
async def test_the_card_shows_it_the_lists_do_not(bot: Harness) -> None:
    alice = await actor(bot, 1001, "Alice")
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    eve = await actor(bot, 4002, "Eve", Role.DISPATCHER, buildings=(E2,))
    ticket_id, number = await _ticket(bot, alice.id)

    await dora.user.command("queue", "all")
    queue = await dora.user.expect(text_contains="Queue · ")
    assert any(number in b for b in queue.button_texts)
    assert PHONE not in _text_of(queue)
    label = next(b for b in queue.button_texts if number in b)
    await dora.user.press(queue, label)
    card = await dora.user.wait_for_edit(queue, lambda m: f"🎫 {number}" in (m.text or ""))
    assert f"Requester's phone: {PHONE}" in card.body

    # Eve dispatches another building: not in her queue, and a forged open is refused.
    await eve.user.command("queue", "all")
    other = await eve.user.expect(text_contains="Queue · ")
    assert not any(number in b for b in other.button_texts)
    answer = await eve.user.press_forged(other, QueueItem("open", ticket_id).pack())
    assert answer is not None and answer.show_alert
    assert all(PHONE not in _text_of(m) for m in eve.user.messages)


async def test_an_export_has_phones_only_for_an_admin_who_asks(bot: Harness) -> None:
    alice = await actor(bot, 1001, "Alice")
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    ada = await actor(bot, 9001, "Ada", Role.ADMIN)
    _ticket_id, number = await _ticket(bot, alice.id)

    await dora.user.command("export", "--with-phones 30d")
    refusal = await dora.user.expect(text_contains="Phone numbers in an export")
    assert "admins only" in refusal.body
    await asyncio.sleep(0.5)
    assert not any(m.document is not None for m in dora.user.messages)  # and no document

    plain = await _csv_rows(ada, "30d")
    assert [r["number"] for r in plain] == [number]
    assert "phone" not in plain[0] and PHONE not in str(plain)
    plain = await _csv_rows(dora, "30d")
    assert [r["number"] for r in plain] == [number]
    assert "phone" not in plain[0] and PHONE not in str(plain)

    with_phones = await _csv_rows(ada, "--with-phones 30d")
    # A leading "+" is kept from being read as a formula, as for every CSV cell.
    assert [(r["number"], r["phone"]) for r in with_phones] == [(number, "'" + PHONE)]


async def _csv_rows(who: Actor, args: str) -> list[dict[str, str]]:
    """/export ARGS: the rows of the CSV document that comes after the XLSX."""
    await who.user.command("export", args)
    await who.user.next_message(lambda m: m.document is not None)  # the XLSX
    table = await who.user.next_message(lambda m: m.document is not None)
    assert table.document is not None and (table.document_name or "").endswith(".csv")
    return list(csv.DictReader(io.StringIO(table.document.decode("utf-8-sig"))))
