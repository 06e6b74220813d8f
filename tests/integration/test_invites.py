"""Staff invites: signed, expiring, single use, and limited to the inviter's scope."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from sqlmodel import select

from store.db import table_of
from store.directory import invites
from store.directory.profiles import get_person_view
from store.directory.staff import GrantView, list_staff
from store.errors import InviteInvalid, NotPermitted
from store.lifecycle import Role
from store.models import Invite
from store.uow import Store
from tests.support.world import Clock, make_person, make_places, next_telegram_id

SECRET = b"test-secret"
DAY = timedelta(days=1)


async def _redeem(store: Store, token: str, telegram_id: int | None = None) -> GrantView:
    return await invites.redeem_invite(
        store.uow(),
        token,
        telegram_id=telegram_id or next_telegram_id(),
        name="New Tech",
        language="zh_Hans",
        secret=SECRET,
    )


async def test_invite_link_fits_telegram_and_db_keeps_only_a_hash(store: Store) -> None:
    token = await invites.create_invite(
        store.uow(), created_by=None, role=Role.ADMIN, secret=SECRET, ttl=DAY
    )
    payload = invites.INVITE_PREFIX + token
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", payload)
    async with store.uow() as uow:
        stored_hash = (await uow.session.execute(select(Invite.token_hash))).scalar_one()
    assert stored_hash == invites.token_hash(token) and token not in stored_hash


async def test_redeem_grants_the_role_in_the_invited_buildings(store: Store) -> None:
    made = await make_places(store)
    e1 = made.building("E1公寓")
    token = await invites.create_invite(
        store.uow(),
        created_by=None,
        role=Role.TECHNICIAN,
        building_ids=[e1.id],
        secret=SECRET,
        ttl=DAY,
    )
    tid = next_telegram_id()
    grant = await _redeem(store, token, tid)
    assert (grant.role, grant.buildings) == (Role.TECHNICIAN, ("E1公寓",))
    person = await get_person_view(store.uow(), grant.person_id)
    assert (person.telegram_id, person.name, person.roles) == (
        tid,
        "New Tech",
        frozenset({Role.REQUESTER, Role.TECHNICIAN}),
    )
    staff = {s.person.id: s for s in await list_staff(store.uow())}
    assert [g.building_ids for g in staff[grant.person_id].grants] == [(e1.id,)]


async def test_used_invite_is_refused(store: Store) -> None:
    token = await invites.create_invite(
        store.uow(), created_by=None, role=Role.DISPATCHER, secret=SECRET, ttl=DAY
    )
    await _redeem(store, token)
    with pytest.raises(InviteInvalid) as caught:
        await _redeem(store, token)
    assert caught.value.reason == "used"


async def test_two_people_pressing_one_link_at_once_get_one_winner(store: Store) -> None:
    token = await invites.create_invite(
        store.uow(), created_by=None, role=Role.TECHNICIAN, secret=SECRET, ttl=DAY
    )
    results = await asyncio.gather(
        *(_redeem(store, token) for _ in range(3)), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, GrantView)]
    losers = [r for r in results if isinstance(r, InviteInvalid)]
    assert (len(winners), len(losers)) == (1, 2), results
    assert {e.reason for e in losers} == {"used"}
    technicians = [s for s in await list_staff(store.uow()) if Role.TECHNICIAN in s.person.roles]
    assert [s.person.id for s in technicians] == [winners[0].person_id]


async def test_expired_invite_is_refused(store: Store) -> None:
    store.clock = clock = Clock()
    token = await invites.create_invite(
        store.uow(), created_by=None, role=Role.TECHNICIAN, secret=SECRET, ttl=timedelta(hours=2)
    )
    clock.advance(hours=2)
    with pytest.raises(InviteInvalid) as caught:
        await _redeem(store, token)
    assert caught.value.reason == "expired"
    assert await list_staff(store.uow()) == []


async def test_tampered_and_unknown_tokens_are_told_apart(store: Store) -> None:
    token = await invites.create_invite(
        store.uow(), created_by=None, role=Role.TECHNICIAN, secret=SECRET, ttl=DAY
    )
    for position in (0, len(token) // 2, len(token) - 1):
        flipped = "A" if token[position] != "A" else "B"
        forged = token[:position] + flipped + token[position + 1 :]
        with pytest.raises(InviteInvalid) as caught:
            await _redeem(store, forged)
        assert caught.value.reason == "tampered"
    for junk in ("", "x" * 100, "not a token!"):
        with pytest.raises(InviteInvalid) as caught:
            await _redeem(store, junk)
        assert caught.value.reason == "tampered"
    # Correctly signed, but never issued by this database (or signed with another secret).
    other = await invites.create_invite(
        store.uow(), created_by=None, role=Role.TECHNICIAN, secret=b"other", ttl=DAY
    )
    with pytest.raises(InviteInvalid) as caught:
        await _redeem(store, other)
    assert caught.value.reason == "tampered"
    async with store.uow() as uow:
        await uow.session.execute(table_of(Invite).delete())
        await uow.commit()
    with pytest.raises(InviteInvalid) as caught:
        await _redeem(store, token)
    assert caught.value.reason == "unknown"
    assert await list_staff(store.uow()) == []


async def test_supervisor_invites_only_field_roles_within_their_scope(store: Store) -> None:
    made = await make_places(store)
    e1, w1 = made.building("E1公寓"), made.building("W1公寓")
    sup = await make_person(store, Role.SUPERVISOR, buildings=[e1.id])

    async def invite(role: Role, buildings: list[int], campus_id: int | None = None) -> str:
        return await invites.create_invite(
            store.uow(),
            created_by=sup.id,
            role=role,
            secret=SECRET,
            ttl=DAY,
            building_ids=buildings,
            campus_id=campus_id,
        )

    token = await invite(Role.TECHNICIAN, [e1.id])
    assert (await _redeem(store, token)).buildings == ("E1公寓",)
    await invite(Role.INSPECTOR, [e1.id])
    await invite(Role.DISPATCHER, [e1.id])
    refused = [
        (Role.TECHNICIAN, [w1.id], None),  # another building
        (Role.TECHNICIAN, [e1.id, w1.id], None),  # partly outside
        (Role.TECHNICIAN, [], e1.campus_id),  # wider than their building
        (Role.TECHNICIAN, [], None),  # everywhere
        (Role.SUPERVISOR, [e1.id], None),  # not a role they may hand out
        (Role.ADMIN, [], None),
    ]
    for role, buildings, campus_id in refused:
        with pytest.raises(NotPermitted):
            await invite(role, buildings, campus_id)

    tech = await make_person(store, Role.TECHNICIAN, buildings=[e1.id])
    with pytest.raises(NotPermitted):
        await invites.create_invite(
            store.uow(), created_by=tech.id, role=Role.TECHNICIAN, secret=SECRET, ttl=DAY
        )
    admin = await make_person(store, Role.ADMIN)
    await invites.create_invite(
        store.uow(), created_by=admin.id, role=Role.SUPERVISOR, secret=SECRET, ttl=DAY
    )
    async with store.uow() as uow:
        assert len((await uow.session.execute(select(Invite))).scalars().all()) == 4
