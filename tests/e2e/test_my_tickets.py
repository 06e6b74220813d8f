"""My tickets: list, detail with timeline, and the requester's actions on their own ticket."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.callbacks import MyPage
from sandbox.views import BotMessage
from store.domain.filing import NewTicket
from store.intake.report import report
from store.lifecycle import Role, Status
from store.models import FollowUp, Person, Ticket
from store.repair import dispatch, work
from tests.support.harness import Harness
from tests.support.report_steps import file_report
from tests.support.world import make_person


async def _ticket(bot: Harness, number: str) -> Ticket:
    async with bot.store.uow() as uow:
        ticket = (
            await uow.session.execute(select(Ticket).where(Ticket.number == number))
        ).scalar_one()
        uow.session.expunge(ticket)
        return ticket


async def _open_detail(bot: Harness, user_id: int, number: str) -> BotMessage:
    user = bot.sandbox.user(user_id)
    await user.command("my")
    listing = await user.expect(text_contains="Your tickets")
    label = next(b for b in listing.button_texts if b.startswith(number))
    await user.press(listing, label)
    return await user.wait_for_edit(listing, lambda m: "History:" in m.body)


async def test_list_and_detail_with_timeline(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    first = await file_report(alice, description="Tap drips.")
    second = await file_report(
        alice, category="💡 Electrical", code="E1-102", description="Lamp is dead."
    )
    await alice.command("my")
    listing = await alice.expect(text_contains="Your tickets (2)")
    assert listing.body.index(second) < listing.body.index(first)  # newest first
    detail = await _open_detail(bot, 1001, first)
    assert "Tap drips." in detail.body and "reported" in detail.body
    assert "sent to dispatch" in detail.body and "escalated to dispatchers" in detail.body
    assert "⏰ Urge" in detail.button_texts and "🚫 Cancel ticket" in detail.button_texts


async def test_urge_has_a_cool_down(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    number = await file_report(alice)
    detail = await _open_detail(bot, 1001, number)
    first = await alice.press(detail, "⏰ Urge")
    assert first is not None and "Reminder sent" in (first.text or "")
    detail = await alice.wait_for_edit(detail)
    label = next(b for b in detail.button_texts if b.startswith("⏰"))
    assert "after" in label
    second = await alice.press(detail, label)
    assert second is not None and second.show_alert and "Urge again after" in (second.text or "")
    ticket = await _ticket(bot, number)
    assert ticket.urge_count == 1


async def test_cancel_before_work_starts(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    number = await file_report(alice)
    detail = await _open_detail(bot, 1001, number)
    await alice.press(detail, "🚫 Cancel ticket")
    confirm = await alice.wait_for_edit(detail, lambda m: "can't be undone" in m.body)
    await alice.press(confirm, "Yes, cancel it")
    await alice.expect(text_contains=f"{number} was cancelled")
    assert (await _ticket(bot, number)).status == Status.CANCELLED


async def _assign_and_complete(bot: Harness, number: str) -> int:
    tech = await make_person(
        bot.store, Role.TECHNICIAN, name="Tina", buildings=[bot.places.room("E1-101").building_id]
    )
    ticket = await _ticket(bot, number)
    assert ticket.id is not None
    dispatcher = await make_person(bot.store, Role.DISPATCHER)
    await dispatch.assign(bot.store.uow(), ticket.id, dispatcher.id, tech.id)
    await work.start(bot.store.uow(), ticket.id, tech.id)
    await work.complete(bot.store.uow(), ticket.id, tech.id)
    return ticket.id


async def test_not_fixed_reopens(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    number = await file_report(alice)
    await _assign_and_complete(bot, number)
    done = await alice.expect(text_contains="is done")
    await alice.press(done, "🔁 Not fixed")
    answered = await alice.wait_for_edit(done)
    assert f"Sorry it isn't fixed. {number}" in answered.body
    assert answered.button_texts == []  # nothing left to press twice
    ticket = await _ticket(bot, number)
    assert ticket.status == Status.DISPATCHING and ticket.rework_count == 1


async def test_low_rating_opens_a_follow_up(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    number = await file_report(alice)
    await _assign_and_complete(bot, number)
    done = await alice.expect(text_contains="is done")
    await alice.press(done, "1★")
    ask = await alice.expect(text_contains="Add a comment")
    await alice.send("Left a mess and it still drips.")
    await alice.expect(text_contains="comment was saved")
    async with bot.store.uow() as uow:
        followup = (await uow.session.execute(select(FollowUp))).scalar_one()
        assert followup.kind == "low_rating"
        assert followup.text == "Left a mess and it still drips."
    assert ask.button_texts == ["Skip ➡️"]


async def test_complain_raises_a_follow_up_and_shows_the_number(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    number = await file_report(alice)
    detail = await _open_detail(bot, 1001, number)
    await alice.press(detail, "📣 Complain")
    await alice.expect(text_contains="Complaints line: 12345-678")
    await alice.send("Nobody came for two days.")
    done = await alice.expect(text_contains="was passed to the supervisor")
    assert "12345-678" in done.body
    async with bot.store.uow() as uow:
        followup = (await uow.session.execute(select(FollowUp))).scalar_one()
        assert followup.kind == "complaint" and followup.number in done.body


async def test_visit_time_proposal_can_be_accepted(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    number = await file_report(alice)
    tech = await make_person(
        bot.store, Role.TECHNICIAN, name="Tina", buildings=[bot.places.room("E1-101").building_id]
    )
    dispatcher = await make_person(bot.store, Role.DISPATCHER)
    ticket = await _ticket(bot, number)
    assert ticket.id is not None
    await dispatch.assign(bot.store.uow(), ticket.id, dispatcher.id, tech.id)
    when = bot.store.clock() + timedelta(days=1)
    await work.propose_visit(bot.store.uow(), ticket.id, tech.id, when)
    proposal = await alice.expect(text_contains="proposes to come at")
    await alice.press(proposal, "👍 That time works")
    answered = await alice.wait_for_edit(proposal)
    assert "the technician will come at" in answered.body and answered.button_texts == []
    assert (await _ticket(bot, number)).visit_confirmed


async def test_language_switch_and_phones(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    await alice.command("start")
    menu = await alice.expect(text_contains="What would you like to do")
    await alice.press(menu, "☎️ Emergency & complaint numbers")
    phones = await alice.expect(text_contains="110-999")
    assert "12345-678" in phones.body
    await alice.command("language")
    choose = await alice.expect(text_contains="Choose your language")
    await alice.press(choose, "繁體中文")
    await alice.wait_for_edit(choose)
    menu = await alice.expect(has_buttons=["🛠 我要報修"])
    async with bot.store.uow() as uow:
        language = (
            await uow.session.execute(select(Person.language).where(Person.telegram_id == 1001))
        ).scalar_one()
    assert language == "zh_Hant" and menu is not None


async def test_commands_are_published_per_language(bot: Harness) -> None:
    sandbox = bot.sandbox
    await bot.menus_published()
    assert "report" in sandbox.commands() and "cancel" in sandbox.commands()
    assert sandbox.commands(language_code="zh") == sandbox.commands()
    assert sandbox.commands(language_code="en") == sandbox.commands()


async def test_traditional_chinese_and_chosen_languages_get_their_own_menu(bot: Harness) -> None:
    sandbox = bot.sandbox
    mei = sandbox.user(1002, "Mei", language_code="zh-hant")
    await mei.command("start")
    await mei.expect(text_contains="報修")
    await bot.menus_published()  # the defaults go out after the first answer
    # Telegram keys menus by "zh", which carries Simplified; Mei's chat gets Traditional.
    assert sandbox.command_menu(language_code="zh")["my"] == "我的工单"
    assert sandbox.command_menu({"type": "chat", "chat_id": 1002})["my"] == "我的工單"

    alice = sandbox.user(1001, "Alice", language_code="en")
    await alice.command("start")
    await alice.expect(text_contains="What would you like to do")
    assert sandbox.command_menu({"type": "chat", "chat_id": 1001}) == {}  # default suits her
    await alice.command("language")
    choose = await alice.expect(text_contains="Choose your language")
    await alice.press(choose, "简体中文")
    await alice.wait_for_edit(choose)
    # Her app is still English, so the "en" default would be wrong; her own menu is Chinese.
    assert sandbox.command_menu({"type": "chat", "chat_id": 1001})["report"] == "我要报修"
    assert "jobs" not in sandbox.command_menu({"type": "chat", "chat_id": 1001})


async def test_pages_and_a_page_past_the_end_shows_the_last_one(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    await alice.command("start")
    await alice.expect(text_contains="What would you like to do")
    async with bot.store.uow() as uow:
        me = (
            await uow.session.execute(select(Person.id).where(Person.telegram_id == 1001))
        ).scalar_one()
    room = bot.places.room("E1-101").room_id
    numbers = [
        (await report(bot.store.uow(), NewTicket(me, room, "water", f"Leak {n}"))).ticket.number
        for n in range(7)
    ]
    await alice.command("my")
    first = await alice.expect(text_contains="Your tickets (7)")
    assert numbers[6] in first.body and numbers[1] not in first.body  # newest five
    await alice.press(first, "Next ▶️")
    second = await alice.wait_for_edit(first, lambda m: numbers[0] in m.body)
    assert numbers[2] not in second.body
    await alice.press(second, "◀️ Prev")
    newest = await alice.wait_for_edit(second, lambda m: numbers[6] in m.body)
    assert numbers[1] not in newest.body and "◀️ Prev" not in newest.button_texts
    # An old or forged cursor beyond the oldest ticket: the oldest page, not "no tickets yet".
    await alice.command("my")
    again = await alice.expect(text_contains="Your tickets (7)")
    await alice.press_forged(again, MyPage(1).pack())
    last = await alice.wait_for_edit(again)
    assert numbers[0] in last.body and numbers[6] not in last.body
    assert "Next ▶️" not in last.button_texts and "◀️ Prev" in last.button_texts
