"""Reusable moves through the bot's flows, so each e2e test shows only what it is about."""

from __future__ import annotations

import re

from sandbox.client import UserHandle
from sandbox.views import BotMessage
from store.deeplink import room_payload

NUMBER = re.compile(r"\d{4}-\d{6}")


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
    await user.wait_for_edit(step, lambda m: "Describe" in m.text)
    await user.send(description)
    return await user.expect(text_contains="Send up to")


async def file_report(
    user: UserHandle,
    category: str = "🚰 Water & plumbing",
    code: str = "E1-101",
    description: str = "The tap drips.",
) -> str:
    """A whole report without photos or phone; returns the ticket number."""
    photos = await to_photos(user, category, code, description)
    await user.press(photos, "Skip ➡️")
    urgency = await user.wait_for_edit(photos, lambda m: "How urgent" in m.text)
    await user.press(urgency, "Normal")
    await user.expect(text_contains="Share a phone number")
    await user.send("Skip ➡️")
    summary = await user.expect(text_contains="Please check your report")
    await user.press(summary, "✅ Confirm")
    received = await user.expect(text_contains="received")
    found = NUMBER.search(received.text or "")
    assert found is not None, received
    return found.group()
