"""Reports filed through the chat, step by step (a requester's, and staff's at the booth),
so each e2e test shows only what it is about."""

from __future__ import annotations

import re

from sandbox.client import UserHandle
from sandbox.views import BotMessage
from store.deeplink import room_payload
from tests.support.chats import shown
from tests.support.harness import Harness

NUMBER = re.compile(r"\d{4}-\d{6}")
CLAIM_CODE = re.compile(r"Claim code: ([A-Z0-9]+)")


async def open_room(user: UserHandle, code: str = "E1-101") -> BotMessage:
    """Scan a room's QR code; returns the category prompt."""
    await user.command("start", room_payload(code))
    await user.expect(text_contains=code)
    return await user.expect(text_contains="What kind of problem")


MESSAGE_PROMPT = "What's wrong? Send one message"
SUMMARY_PROMPT = "Please check your report"
SUBMIT = "✅ Submit"


async def to_message(
    user: UserHandle, category: str = "🚰 Water & plumbing", code: str = "E1-101"
) -> BotMessage:
    """From the QR code through the category; returns the message prompt."""
    step = await open_room(user, code)
    await user.press(step, category)
    return await user.wait_for_edit(step, lambda m: MESSAGE_PROMPT in m.body)


async def to_summary(
    user: UserHandle,
    category: str = "🚰 Water & plumbing",
    code: str = "E1-101",
    description: str = "The tap drips.",
) -> BotMessage:
    """From the QR code to the summary with a text alone; returns the summary."""
    await to_message(user, category, code)
    await user.send(description)
    return await user.expect(text_contains=SUMMARY_PROMPT)


async def file_report(
    user: UserHandle,
    category: str = "🚰 Water & plumbing",
    code: str = "E1-101",
    description: str = "The tap drips.",
) -> str:
    """A whole report with a text alone (no photo, normal, the phone as offered); returns
    the ticket number."""
    summary = await to_summary(user, category, code, description)
    await user.press(summary, SUBMIT)
    received = await user.expect(text_contains="received")
    found = NUMBER.search(received.text or "")
    assert found is not None, received
    return found.group()


async def file_report_with_photo(
    user: UserHandle,
    *,
    category: str = "🚰 Water & plumbing",
    code: str = "E1-101",
    description: str = "The tap drips.",
    urgency: str = "Urgent",
    phone: str = "+8613800000001",
) -> str:
    """A whole report: one photo with the description as its caption, the urgency, and
    `phone` shared (when no number is saved yet); returns the ticket number."""
    await to_message(user, category, code)
    await user.send_photo(caption=description)
    summary = await user.expect(text_contains=SUMMARY_PROMPT)
    if urgency == "Urgent":
        await user.press(summary, "⚡ Mark as urgent")
        await user.wait_for_edit(summary, lambda m: "⚡ Urgent" in m.body)
    if "📱 Add a phone number" in summary.button_texts:
        await user.press(summary, "📱 Add a phone number")
        await user.expect(text_contains="Share a phone number")
        await user.share_contact(phone)
        await user.expect(text_contains="phone number saved")
        summary = await user.expect(text_contains=SUMMARY_PROMPT)
    await user.press(summary, SUBMIT)
    received = await user.expect(text_contains="received")
    found = NUMBER.search(received.body)
    assert found is not None, received
    return found.group()


async def booth_summary(user: UserHandle, phone: str) -> BotMessage:
    """/booth for Wang Wei (`phone`, "-" for none): E1公寓 101 through the guided list, a
    blocked shower drain, no photos, normal urgency; returns the summary, not yet submitted."""
    await user.command("booth")
    await user.expect(text="Booth intake: what is the person's name?")
    await user.send("Wang Wei")
    await user.expect(text_contains="Phone number of Wang Wei?")
    await user.send(phone)
    step = await user.expect(text_contains="Where is it?")
    await user.press(step, "📋 Choose on a list")  # the guided list, as at a booth
    await user.wait_for_edit(step, lambda m: "Choose the campus" in m.body)
    await user.press(step, "東校區")
    await user.wait_for_edit(step, lambda m: "Choose the building" in m.body)
    await user.press(step, "E1公寓")
    await user.wait_for_edit(step, lambda m: "Choose the floor" in m.body)
    await user.send("101")  # the room typed as on the door
    step = await user.expect(text_contains="What kind of problem")
    await user.press(step, "🚰 Water & plumbing")
    await user.wait_for_edit(step, lambda m: MESSAGE_PROMPT in m.body)
    await user.send("The shower drain is blocked.")
    return await user.expect(text_contains=SUMMARY_PROMPT)


async def file_at_the_booth(bot: Harness, user: UserHandle) -> tuple[str, str]:
    """/booth → name → phone → the report steps; returns (ticket number, claim code)."""
    summary = await booth_summary(user, "+86 138 0000 1111")
    await user.press(summary, SUBMIT)
    filed = await user.wait_for_edit(summary, lambda m: "filed for Wang Wei" in m.body)
    number, code = NUMBER.search(filed.body), CLAIM_CODE.search(filed.body)
    assert number is not None and code is not None, filed
    assert f"https://t.me/sandbox_bot?start=c_{code.group(1)}" in filed.body
    qr = await shown(bot, user, f"Claim code {code.group(1)}: scan")
    assert qr.caption == f"Claim code {code.group(1)}: scan to follow the repair in Telegram."
    assert qr.photo is not None and qr.photo.startswith(b"\x89PNG")
    return number.group(), code.group(1)


# What a requester does at each step of the report, told by the bot's last message there.
_NEXT_MOVE: tuple[tuple[str, str, str], ...] = (
    (SUMMARY_PROMPT, "press", SUBMIT),
    (MESSAGE_PROMPT, "send", "The tap drips."),
    ("What kind of problem", "press", "🚰 Water & plumbing"),
)
_FILED = ("received", "was filed as", "already filed as")


async def file_report_resuming(
    user: UserHandle, code: str, *, patience: float = 20.0
) -> tuple[str, int]:
    """A whole report (a text alone, normal) by someone who reads the bot's last
    message and does what it asks, and who, when the bot says something unexpected or
    nothing for `patience` seconds (an instance died mid-update), sends /report to be
    shown where the report stands, as the README tells. Returns (ticket number, how many
    times /report was needed)."""
    await user.command("start", room_payload(code))
    acted: tuple[int, int] | None = None
    resumed = 0

    def probe() -> tuple[BotMessage, str] | None:
        sent = user.messages
        if not sent:
            return None
        last = sent[-1]
        if (last.message_id, last.edits) == acted:
            return None
        body = last.body
        if any(word in body for word in _FILED) and NUMBER.search(body):
            return last, "filed"
        for prompt, _how, _what in _NEXT_MOVE:
            if prompt in body:
                return last, prompt
        return None

    for _ in range(60):
        try:
            message, step = await user.client.state.changed.wait_for(probe, patience, "a step")
        except TimeoutError:
            resumed += 1
            await user.command("report")
            continue
        if step == "filed":
            found = NUMBER.search(message.body)
            assert found is not None
            return found.group(), resumed
        acted = (message.message_id, message.edits)
        _prompt, how, what = next(m for m in _NEXT_MOVE if m[0] == step)
        if how == "press":
            await user.press(message, what, wait_answer=False)
        else:
            await user.send(what)
    raise AssertionError(f"{user!r}: no report filed after 60 moves")
