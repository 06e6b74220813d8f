"""Staff join with a signed, one-time invite link, and technicians switch duty with /duty."""

from __future__ import annotations

import re

from sqlmodel import col, select

from sandbox.client import UserHandle
from store.directory.profiles import person_by_telegram_id
from store.lifecycle import Role
from store.models import Invite, RoleGrant
from tests.support.chats import staff, started
from tests.support.harness import Harness
from tests.support.rows import person_row
from tests.support.world import Clock

LINK = re.compile(r"https://t\.me/sandbox_bot\?start=inv_([A-Za-z0-9_-]+)")
REFUSED = "You're not allowed to do that."
SUPERVISOR_LIMITS = (
    "Supervisors can invite a technician, dispatcher or inspector, for buildings they "
    "supervise: /invite ROLE BUILDING."
)


async def _invite(inviter: UserHandle, args: str) -> str:
    """Send /invite ARGS; returns the token of the link the bot hands out."""
    await inviter.command("invite", args)
    created = await inviter.expect(text_contains="One-time invite")
    found = LINK.search(created.body)
    assert found is not None, created
    return found.group(1)


async def _roles(bot: Harness, telegram_id: int) -> set[tuple[Role, int | None]]:
    """(role, building id) of every grant the Telegram user holds (none: not a person yet)."""
    who = await person_by_telegram_id(bot.store.uow(), telegram_id)
    if who is None:
        return set()
    async with bot.store.uow() as uow:
        rows = await uow.session.execute(
            select(RoleGrant.role, RoleGrant.building_id).where(RoleGrant.person_id == who.id)
        )
        return {(Role(role), building) for role, building in rows.all()}


async def test_admin_invites_a_technician_who_joins(bot: Harness) -> None:
    admin = await staff(bot, 5001, "Ada", Role.ADMIN, building=None)
    await admin.user.command("invite", "technician E1公寓")
    created = await admin.user.expect(text_contains="One-time invite for a technician")
    assert "valid 72 hours" in created.body
    found = LINK.search(created.body)
    assert found is not None, created

    tom = bot.sandbox.user(5101, "Tom")
    await tom.command("start", f"inv_{found.group(1)}")
    welcome = await tom.expect(text_contains="Welcome aboard")
    assert welcome.body == "Welcome aboard! You are now technician (E1公寓)."
    await tom.expect(text_contains="What would you like to do")

    e1 = bot.places.building("E1公寓").id
    assert await _roles(bot, 5101) == {(Role.TECHNICIAN, e1)}
    async with bot.store.uow() as uow:
        invite = (await uow.session.execute(select(Invite))).scalar_one()
        assert invite.used_at is not None and invite.created_by_id == admin.id
        # Only the hash is kept: the link itself is nowhere in the database.
        assert found.group(1) not in invite.token_hash

    # The new technician can go on duty right away.
    await tom.command("duty")
    await tom.expect(text_contains="You're on duty")


async def test_used_expired_and_tampered_links_are_refused(bot: Harness) -> None:
    bot.store.clock = clock = Clock()
    admin = await staff(bot, 5001, "Ada", Role.ADMIN, building=None)
    used = await _invite(admin.user, "dispatcher")
    expiring = await _invite(admin.user, "technician E1公寓")
    intact = await _invite(admin.user, "inspector")

    first = bot.sandbox.user(5101, "Dora")
    await first.command("start", f"inv_{used}")
    await first.expect(text_contains="You are now dispatcher (all)")

    second = bot.sandbox.user(5102, "Eve")
    await second.command("start", f"inv_{used}")
    refusal = await second.expect(text_contains="can't be used")
    assert refusal.body == "This invite link can't be used (the link was already used)."
    await second.expect(text_contains="What would you like to do")  # and the menu follows

    clock.advance(hours=72, seconds=1)
    await second.command("start", f"inv_{expiring}")
    await second.expect(text_contains="the link has expired; ask for a new one")

    position = 5
    flipped = "B" if intact[position] != "B" else "C"
    tampered = intact[:position] + flipped + intact[position + 1 :]
    await second.command("start", f"inv_{tampered}")
    await second.expect(text_contains="(the link is damaged)")

    assert await _roles(bot, 5101) == {(Role.DISPATCHER, None)}
    assert await _roles(bot, 5102) == set()
    async with bot.store.uow() as uow:
        unused = (
            await uow.session.execute(select(Invite.role).where(col(Invite.used_at).is_(None)))
        ).scalars()
        assert sorted(unused) == ["inspector", "technician"]


async def test_supervisor_may_not_invite_an_admin(bot: Harness) -> None:
    boss = await staff(bot, 5002, "Sue", Role.SUPERVISOR, building="E1公寓")
    await boss.user.command("invite", "admin")
    refusal = await boss.user.expect(text_contains="Supervisors can invite")
    assert refusal.body == SUPERVISOR_LIMITS and "t.me" not in refusal.body
    # Within her own building she may bring in a technician...
    token = await _invite(boss.user, "technician E1公寓")
    # ...but not into a building she does not supervise, nor everywhere.
    for args in ("technician E2公寓", "dispatcher"):
        await boss.user.command("invite", args)
        await boss.user.expect(text=SUPERVISOR_LIMITS)
    async with bot.store.uow() as uow:
        roles = (await uow.session.execute(select(Invite.role))).scalars().all()
    assert roles == ["technician"]
    una = bot.sandbox.user(5103, "Una")
    await una.command("start", f"inv_{token}")
    await una.expect(text="Welcome aboard! You are now technician (E1公寓).")
    assert await _roles(bot, 5103) == {(Role.TECHNICIAN, bot.places.building("E1公寓").id)}


async def test_requester_cannot_invite(bot: Harness) -> None:
    alice = await started(bot, 1001, "Alice")
    await alice.command("invite", "technician E1公寓")
    await alice.expect(text=REFUSED)
    async with bot.store.uow() as uow:
        assert (await uow.session.execute(select(Invite))).first() is None


async def test_duty_toggles_on_and_off(bot: Harness) -> None:
    tech = await staff(bot, 3001, "Tom", Role.TECHNICIAN)
    assert not (await person_row(bot.store, tech.id)).on_duty
    await tech.user.command("duty")
    on = await tech.user.expect(text_contains="on duty")
    assert on.body == "🟢 You're on duty: new jobs will be offered to you."
    assert (await person_row(bot.store, tech.id)).on_duty
    await tech.user.command("duty")
    off = await tech.user.expect(text_contains="off duty")
    assert off.body == "⚪️ You're off duty: no new offers until you send /duty again."
    assert not (await person_row(bot.store, tech.id)).on_duty


async def test_requester_has_no_duty_and_no_jobs(bot: Harness) -> None:
    alice = await started(bot, 1001, "Alice")
    for command in ("duty", "jobs"):
        await alice.command(command)
        await alice.expect(text=REFUSED)
    who = await person_by_telegram_id(bot.store.uow(), 1001)
    assert who is not None and not who.on_duty and who.roles == {Role.REQUESTER}
