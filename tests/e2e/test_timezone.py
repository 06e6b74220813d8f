"""/timezone: a supervisor's own zone, which their digest time follows; a value that is
not a zone is refused."""

from __future__ import annotations

import pytest
from sqlmodel import select

from store.lifecycle import Role
from store.models import Person
from tests.support.chats import actor
from tests.support.harness import Harness
from tests.support.world import E1, make_person


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


@pytest.mark.parametrize("zone", ["Asia", "Europe/" + "x" * 300], ids=["a-folder", "too-long"])
async def test_a_time_zone_that_is_a_folder_or_too_long_is_refused(
    bot: Harness, zone: str
) -> None:
    sue = await actor(bot, 5001, "Sue", Role.SUPERVISOR, buildings=(E1,))
    await sue.user.command("timezone", zone)
    await sue.user.expect(text="That value isn't accepted.")
    async with bot.store.uow() as uow:
        person = await uow.session.get(Person, sue.id)
        assert person is not None and person.timezone is None
