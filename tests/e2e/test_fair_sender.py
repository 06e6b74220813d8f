"""The outbox sender is fair: one chat's backlog never holds up another chat's notice."""

from __future__ import annotations

from telegram import Bot

from bot.sender import OutboxSender
from bot.settings import Settings
from sandbox.server import SandboxServer
from store.domain.notices import notify
from store.uow import Store
from tests.support.world import make_person, next_telegram_id

BACKLOG = 80  # more than any one batch the sender takes


def _payload(number: int) -> dict[str, object]:
    return {
        "number": f"2026-{number:06d}",
        "category": "water",
        "building": "E1",
        "room": "101",
        "is_requester": True,
    }


async def test_a_chat_with_a_backlog_does_not_hold_up_another_chats_notice(
    store: Store, bot_api: SandboxServer
) -> None:
    bot = Bot(token=bot_api.token, base_url=bot_api.base_url, base_file_url=bot_api.base_file_url)
    await bot.initialize()
    try:
        alice_tg, bob_tg = next_telegram_id(), next_telegram_id()
        alice = bot_api.client.user(alice_tg, "Alice")
        bob = bot_api.client.user(bob_tg, "Bob")
        await alice.command("start")
        await bob.command("start")
        alice_id = (await make_person(store, name="Alice", telegram_id=alice_tg)).id
        bob_id = (await make_person(store, name="Bob", telegram_id=bob_tg)).id
        async with store.uow() as uow:
            for number in range(1, BACKLOG + 1):
                notify(uow, alice_id, "ticket.completed", _payload(number))
            await uow.flush()
            notify(uow, bob_id, "ticket.completed", _payload(999))
            await uow.commit()
        # An hour between two messages to one chat: Alice can get one notice, no more.
        sender = OutboxSender(bot, store, Settings(), per_chat_interval=3600.0)
        await sender.drain_once()
        await sender.drain_once()
        bob_got = [m.body for m in bob.messages]
        alice_got = [m.body for m in alice.messages]
        assert len(bob_got) == 1 and "2026-000999" in (bob_got[0] or "")
        # Alice's first notice, in order, and nothing sooner than her chat allows.
        assert len(alice_got) == 1 and "2026-000001" in (alice_got[0] or "")
    finally:
        await bot.shutdown()
