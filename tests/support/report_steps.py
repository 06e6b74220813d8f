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


async def to_photos(
    user: UserHandle,
    category: str = "🚰 Water & plumbing",
    code: str = "E1-101",
    description: str = "The tap drips.",
) -> BotMessage:
    """From the QR code to the photo step; returns the photo prompt."""
    step = await open_room(user, code)
    await user.press(step, category)
    await user.wait_for_edit(step, lambda m: "Describe" in m.body)
    await user.send(description)
    return await user.expect(text_contains="Send up to")


async def skip_to_summary(user: UserHandle, photos: BotMessage) -> BotMessage:
    """From the photo prompt on: no photos, normal urgency, no phone; returns the summary."""
    await user.press(photos, "Skip ➡️")
    urgency = await user.wait_for_edit(photos, lambda m: "How urgent" in m.body)
    await user.press(urgency, "Normal")
    await user.expect(text_contains="Share a phone number")
    await user.send("Skip ➡️")
    return await user.expect(text_contains="Please check your report")


async def file_report(
    user: UserHandle,
    category: str = "🚰 Water & plumbing",
    code: str = "E1-101",
    description: str = "The tap drips.",
) -> str:
    """A whole report without photos or phone; returns the ticket number."""
    photos = await to_photos(user, category, code, description)
    summary = await skip_to_summary(user, photos)
    await user.press(summary, "✅ Confirm")
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
    """A whole report with one photo and a shared phone number; returns the ticket number."""
    step = await to_photos(user, category, code, description)
    await user.send_photo()
    added = await user.expect(text_contains="Photo 1/")
    await user.press(added, "Done ✅")
    step = await user.wait_for_edit(added, lambda m: "How urgent" in (m.text or ""))
    await user.press(step, urgency)
    await user.expect(text_contains="Share a phone number")
    await user.share_contact(phone)
    summary = await user.expect(text_contains="Please check your report")
    await user.press(summary, "✅ Confirm")
    received = await user.expect(text_contains="received")
    found = NUMBER.search(received.body)
    assert found is not None, received
    return found.group()


async def booth_summary(user: UserHandle, phone: str) -> BotMessage:
    """/booth for Wang Wei (`phone`, "-" for none): E1公寓 101, a blocked shower drain, no
    photos, normal urgency; returns the report's summary, not yet confirmed."""
    await user.command("booth")
    await user.expect(text="Booth intake: what is the person's name?")
    await user.send("Wang Wei")
    await user.expect(text_contains="Phone number of Wang Wei?")
    await user.send(phone)
    step = await user.expect(text_contains="Choose the campus")
    await user.press(step, "東校區")
    await user.wait_for_edit(step, lambda m: "Choose the building" in m.body)
    await user.press(step, "E1公寓")
    await user.wait_for_edit(step, lambda m: "Choose the floor" in m.body)
    await user.send("101")  # the room typed as on the door
    step = await user.expect(text_contains="What kind of problem")
    await user.press(step, "🚰 Water & plumbing")
    await user.wait_for_edit(step, lambda m: "Describe what happened" in m.body)
    await user.send("The shower drain is blocked.")
    return await skip_to_summary(user, await user.expect(text_contains="Send up to"))


async def file_at_the_booth(bot: Harness, user: UserHandle) -> tuple[str, str]:
    """/booth → name → phone → the report steps; returns (ticket number, claim code)."""
    summary = await booth_summary(user, "+86 138 0000 1111")
    await user.press(summary, "✅ Confirm")
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
    ("Please check your report", "press", "✅ Confirm"),
    ("Share a phone number", "send", "Skip ➡️"),
    ("How urgent", "press", "Normal"),
    ("Send up to", "press", "Skip ➡️"),
    ("Describe", "send", "The tap drips."),
    ("What kind of problem", "press", "🚰 Water & plumbing"),
)
_FILED = ("received", "was filed as", "already filed as")


async def file_report_resuming(
    user: UserHandle, code: str, *, patience: float = 20.0
) -> tuple[str, int]:
    """A whole report (no photos, normal, no phone) by someone who reads the bot's last
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
