"""/timezone: a supervisor's own zone, which their digest time follows."""

from __future__ import annotations

from sqlmodel import select

from store.lifecycle import Role
from store.models import Person
from tests.support.harness import Harness
from tests.support.world import make_person


async def test_set_show_and_clear_own_timezone(bot: Harness) -> None:
    sue = bot.sandbox.user(3001, "Sue")
    await sue.command("start")
    await sue.next_message()
    await make_person(bot.store, Role.SUPERVISOR, name="Sue", telegram_id=3001)
    await sue.command("timezone", "Mars/Olympus")
    await sue.expect(text_contains="isn't accepted")
    await sue.command("timezone", "Europe/London")
    await sue.expect(text_contains="Time zone set to Europe/London")
    await sue.command("timezone")
    await sue.expect(text_contains="Your time zone: Europe/London")
    async with bot.store.uow() as uow:
        zone = (
            await uow.session.execute(select(Person.timezone).where(Person.telegram_id == 3001))
        ).scalar_one()
    assert zone == "Europe/London"
    await sue.command("timezone", "-")
    await sue.expect(text_contains="Time zone set to Asia/Shanghai")
