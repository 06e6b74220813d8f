"""My data in the chat: what is kept and for how long, a download of it, and its erasure
after a plain confirmation; only ever for the person pressing."""

from __future__ import annotations

import json

import pytest
from sqlmodel import col, select

from bot.callbacks import MyData
from sandbox.views import BotMessage
from store.domain.filing import NewTicket
from store.intake.report import report
from store.lifecycle import Role
from store.models import Person, Ticket
from tests.support.chats import MENU, Actor, actor
from tests.support.harness import Harness
from tests.support.rows import person_row, ticket_row

OVERVIEW = "🔐 Your data"
DOWNLOAD = "📥 Download my data"
DELETE = "🗑 Delete my data"
CONFIRM = "🗑 Yes, delete it for good"
BACK = "⬅️ Back"
NOT_YOURS = "This button isn't yours, or it is from before your data was erased."
ALICE_PHONE = "+86 138 0000 1111"
BOB_PHONE = "+86 138 0000 2222"


async def _ticket(bot: Harness, who: Actor, description: str, phone: str) -> int:
    room = bot.places.room("E1-101").room_id
    new = NewTicket(who.id, room, "water", description, contact_phone=phone)
    return (await report(bot.store.uow(), new)).ticket.id


async def _mydata(who: Actor) -> BotMessage:
    await who.user.command("mydata")
    return await who.user.expect(text_contains=OVERVIEW)


async def _people_with(bot: Harness, telegram_id: int) -> list[Person]:
    async with bot.store.uow() as uow:
        rows = await uow.session.execute(select(Person).where(Person.telegram_id == telegram_id))
        found = list(rows.scalars())
        uow.session.expunge_all()
        return found


async def test_mydata_says_what_is_kept_and_for_how_long(bot: Harness) -> None:
    alice = await actor(bot, 1001, "Alice")
    overview = await _mydata(alice)
    # The default periods, in words.
    assert "the phone number on a ticket: 30 days after the ticket is closed" in overview.body
    assert "photos: 6 months after the ticket ends" in overview.body
    assert "the rest about you: 2 years after your last message" in overview.body
    assert "the dispatchers and supervisors of that building" in overview.body
    assert overview.button_texts == [DOWNLOAD, DELETE, "⬅️ Menu"]
    # The same from the main menu, and /mydata is in the command menu.
    await alice.user.press(alice.menu, "🔐 My data")
    await alice.user.wait_for_edit(alice.menu, lambda m: OVERVIEW in m.body)
    assert "mydata" in bot.sandbox.commands()


@pytest.mark.parametrize("e2e_db", ["sqlite", "postgres"], indirect=True)
async def test_download_has_my_ticket_and_not_anothers(bot: Harness) -> None:
    alice = await actor(bot, 1001, "Alice")
    bob = await actor(bot, 1002, "Bob")
    mine = await _ticket(bot, alice, "Alice's tap drips.", ALICE_PHONE)
    await _ticket(bot, bob, "Bob's radiator is cold.", BOB_PHONE)

    overview = await _mydata(alice)
    await alice.user.press(overview, DOWNLOAD)
    sent = await alice.user.next_message(lambda m: m.document is not None)
    name = sent.document_name or ""
    assert name.startswith("mydata-") and name.endswith(".json")
    assert sent.document is not None
    document = json.loads(sent.document)
    assert document["profile"]["telegram_id"] == 1001
    number = (await ticket_row(bot.store, mine)).number
    assert [t["number"] for t in document["tickets"]] == [number]
    assert document["tickets"][0]["contact_phone"] == ALICE_PHONE
    text = sent.document.decode()
    assert "Bob" not in text and BOB_PHONE not in text and "radiator" not in text
    # Only Alice got a document.
    assert not any(m.document is not None for m in bob.user.messages)


@pytest.mark.parametrize("e2e_db", ["sqlite", "postgres"], indirect=True)
async def test_delete_back_changes_nothing_confirm_erases_and_starts_anew(bot: Harness) -> None:
    alice = await actor(bot, 1001, "Alice")
    ticket_id = await _ticket(bot, alice, "The tap drips.", ALICE_PHONE)
    # She picks a language: her chat gets a command menu of its own.
    await alice.user.command("language")
    choose = await alice.user.expect(text_contains="Choose your language")
    await alice.user.press(choose, "English")
    await alice.user.expect(text_contains=MENU)
    own_menu: dict[str, object] = {"type": "chat", "chat_id": 1001}
    assert "mydata" in bot.sandbox.commands(own_menu)
    before = await person_row(bot.store, alice.id)

    overview = await _mydata(alice)
    await alice.user.press(overview, DELETE)
    ask = await alice.user.wait_for_edit(overview, lambda m: "This is final" in m.body)
    assert "shown as “former user”" in ask.body
    assert "Open tickets stay open" in ask.body and "no more messages" in ask.body
    assert ask.button_texts == [CONFIRM, BACK]
    await alice.user.press(ask, BACK)
    await alice.user.wait_for_edit(overview, lambda m: OVERVIEW in m.body)
    after = await person_row(bot.store, alice.id)
    assert (after.name, after.telegram_id, after.erased_at) == ("Alice", 1001, None)
    assert after.model_dump() == before.model_dump()

    older = await _mydata(alice)  # a second overview, left on screen
    await alice.user.press(overview, DELETE)
    ask = await alice.user.wait_for_edit(overview, lambda m: "This is final" in m.body)
    await alice.user.press(ask, CONFIRM)
    done = await alice.user.wait_for_edit(overview, lambda m: "Your data is erased" in m.body)
    assert done.button_texts == []
    erased = await person_row(bot.store, alice.id)
    assert erased.erased_at is not None and erased.telegram_id is None and erased.name == ""
    ticket = await ticket_row(bot.store, ticket_id)
    assert ticket.requester_id == alice.id and ticket.contact_phone is None  # kept, as former
    assert bot.sandbox.commands(own_menu) == []  # her own menu went too

    # The old overview's buttons are stale now: a clear alert, nothing sent.
    stale = await alice.user.press(older, DOWNLOAD)
    assert stale is not None and stale.show_alert and NOT_YOURS in (stale.text or "")
    assert not any(m.document is not None for m in alice.user.messages)

    # The same account starts as a new person: no tickets, a new row.
    await alice.user.command("start")
    await alice.user.expect(text_contains=MENU)
    (anew,) = await _people_with(bot, 1001)
    assert anew.id != alice.id and anew.erased_at is None
    await alice.user.command("my")
    await alice.user.expect(text_contains="You have no tickets yet.")


@pytest.mark.parametrize("e2e_db", ["sqlite", "postgres"], indirect=True)
async def test_a_forged_press_from_another_user_does_nothing(bot: Harness) -> None:
    alice = await actor(bot, 1001, "Alice")
    bob = await actor(bot, 1002, "Bob")
    await _ticket(bot, alice, "The tap drips.", ALICE_PHONE)
    theirs = await _mydata(bob)
    for action in ("confirm", "delete", "download", "show"):
        pressed = await bob.user.press_forged(theirs, MyData(action, alice.id).pack())
        assert pressed is not None and pressed.show_alert, action
        assert NOT_YOURS in (pressed.text or "")
    assert not any(m.document is not None for m in bob.user.messages)
    row = await person_row(bot.store, alice.id)
    assert (row.name, row.telegram_id, row.erased_at) == ("Alice", 1001, None)
    async with bot.store.uow() as uow:
        kept = await uow.session.execute(
            select(Ticket.contact_phone).where(col(Ticket.requester_id) == alice.id)
        )
        assert list(kept.scalars()) == [ALICE_PHONE]


async def test_staff_are_told_the_office_removes_their_role_first(bot: Harness) -> None:
    tina = await actor(bot, 3001, "Tina", Role.TECHNICIAN)
    overview = await _mydata(tina)
    await tina.user.press(overview, DELETE)
    ask = await tina.user.wait_for_edit(overview, lambda m: "This is final" in m.body)
    refused = await tina.user.press(ask, CONFIRM)
    assert refused is not None and refused.show_alert
    assert "the office revokes the role first" in (refused.text or "")
    assert (await person_row(bot.store, tina.id)).erased_at is None
