"""People, staff roles and duty, on both engines."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func
from sqlmodel import select

from store.directory import profiles, staff
from store.domain import person_changes
from store.domain.scope import roles_covering
from store.errors import InvalidInput, NotFound, NotPermitted
from store.lifecycle import Role
from store.models import Building, Person, RoleGrant
from store.uow import Store
from tests.support.world import make_person, make_places, next_telegram_id


async def _count(store: Store, model: type[Person] | type[RoleGrant]) -> int:
    async with store.uow() as uow:
        return int(
            (await uow.session.execute(select(func.count()).select_from(model))).scalar_one()
        )


async def test_ensure_person_creates_then_refreshes_the_name(store: Store) -> None:
    tid = next_telegram_id()
    first = await profiles.ensure_person(store.uow(), tid, "  Li Lei ", "zh-hans")
    assert (first.name, first.language, first.roles) == (
        "Li Lei",
        "zh-hans",
        frozenset({Role.REQUESTER}),
    )
    await profiles.set_language(store.uow(), first.id, "en")
    again = await profiles.ensure_person(store.uow(), tid, "Li Lei (new)", "zh-hans")
    # Same person; the name follows Telegram, but the language the user chose stays.
    assert (again.id, again.name, again.language) == (first.id, "Li Lei (new)", "en")
    assert await _count(store, Person) == 1


async def test_two_first_updates_at_once_make_one_person(store: Store) -> None:
    tid = next_telegram_id()
    views = await asyncio.gather(
        *(profiles.ensure_person(store.uow(), tid, f"Racer {n}", None) for n in range(4))
    )
    assert len({v.id for v in views}) == 1
    assert await _count(store, Person) == 1


async def test_phone_and_language_are_checked(store: Store) -> None:
    person = await make_person(store)
    updated = await profiles.set_phone(store.uow(), person.id, " +86 138-0000-0000 ")
    assert updated.phone == "+86 138-0000-0000"
    with pytest.raises(InvalidInput):
        await profiles.set_phone(store.uow(), person.id, "call me maybe")
    assert (await profiles.set_phone(store.uow(), person.id, "")).phone is None
    with pytest.raises(InvalidInput):
        await profiles.set_language(store.uow(), person.id, "")
    with pytest.raises(NotFound):
        await profiles.get_person_view(store.uow(), 424242)


async def test_add_staff_is_idempotent_and_list_shows_scopes(store: Store) -> None:
    made = await make_places(store)
    e1, e2 = made.building("E1公寓"), made.building("E2公寓")
    tid = next_telegram_id()
    for _ in range(2):
        wang = await staff.add_staff(
            store.uow(), tid, Role.TECHNICIAN, name="Wang", building_ids=[e1.id, e2.id]
        )
    assert [g.buildings for g in wang.grants] == [("東校區/E1公寓",), ("東校區/E2公寓",)]
    assert await _count(store, RoleGrant) == 2
    west = made.building("W1公寓")
    await staff.add_staff(store.uow(), tid, Role.SUPERVISOR, campus_id=west.campus_id)
    await staff.add_staff(store.uow(), tid, Role.SUPERVISOR, campus_id=west.campus_id)
    await staff.add_staff(store.uow(), next_telegram_id(), Role.ADMIN, name="Boss")
    await staff.add_staff(store.uow(), next_telegram_id(), Role.ADMIN, name="Boss 2")

    listed = await staff.list_staff(store.uow())
    assert [s.person.name for s in listed] == ["Boss", "Boss 2", "Wang"]
    wang_now = listed[2]
    assert wang_now.person.roles == frozenset({Role.REQUESTER, Role.TECHNICIAN, Role.SUPERVISOR})
    labels = [(g.role, g.scope_label()) for g in wang_now.grants]
    assert (Role.SUPERVISOR, "西校區") in labels
    assert (Role.TECHNICIAN, "東校區/E1公寓") in labels
    assert [g.scope_label() for g in listed[0].grants] == ["all"]
    assert await _count(store, RoleGrant) == 5


async def test_add_staff_refuses_requester_and_unknown_buildings(store: Store) -> None:
    with pytest.raises(InvalidInput):
        await staff.add_staff(store.uow(), next_telegram_id(), Role.REQUESTER)
    with pytest.raises(NotFound):
        await staff.add_staff(store.uow(), next_telegram_id(), Role.TECHNICIAN, building_ids=[9])
    assert await _count(store, RoleGrant) == 0


async def test_only_technicians_go_on_duty(store: Store) -> None:
    student = await make_person(store)
    with pytest.raises(NotPermitted):
        await staff.set_duty(store.uow(), student.id, True)
    tech = await make_person(store, Role.TECHNICIAN)
    assert await staff.set_duty(store.uow(), tech.id) is True  # toggle from off
    assert await staff.set_duty(store.uow(), tech.id) is False
    assert await staff.set_duty(store.uow(), tech.id, True) is True
    assert await staff.set_duty(store.uow(), tech.id, True) is True
    assert await staff.remove_role(store.uow(), tech.id, Role.TECHNICIAN) == 1
    after = await profiles.get_person_view(store.uow(), tech.id)
    assert (after.on_duty, after.roles) == (False, frozenset({Role.REQUESTER}))


async def test_a_technicians_skills_are_in_their_view(store: Store) -> None:
    tech = await make_person(store, Role.TECHNICIAN, skills=["water", "hvac"])
    assert tech.skills == ("water", "hvac")
    assert (await profiles.get_person_view(store.uow(), tech.id)).skills == ("water", "hvac")
    assert (await make_person(store, Role.TECHNICIAN)).skills == ()  # none listed: every kind


async def test_a_campus_grant_covers_the_buildings_of_that_campus(store: Store) -> None:
    made = await make_places(store)
    east = made.building("E1公寓").campus_id
    sup = await make_person(store, Role.SUPERVISOR, campus_id=east)
    async with store.uow() as uow:
        for place in made.buildings:
            building = await uow.session.get(Building, place.id)
            assert building is not None
            covering = await roles_covering(uow, sup.id, building)
            assert covering == ({Role.SUPERVISOR} if place.campus == "東校區" else set())


async def test_a_change_to_one_person_keeps_everyone_elses_view_good(store: Store) -> None:
    # The gatekeeper keeps each asker's view while nothing about them changed. One user's
    # first message, a rename or a new role of someone else must not send every other
    # user back to the database; a change to them, or a write that does not say whom it
    # touched, must.
    ann_telegram_id, bob_telegram_id = next_telegram_id(), next_telegram_id()
    ann = await profiles.ensure_person(store.uow(), ann_telegram_id, "Ann", "en")
    bob = await profiles.ensure_person(store.uow(), bob_telegram_id, "Bob", "en")
    tick = person_changes.clock()
    await profiles.ensure_person(store.uow(), next_telegram_id(), "Cat", "en")  # a newcomer
    await profiles.ensure_person(store.uow(), ann_telegram_id, "Ann Lee", "en")  # renamed
    assert person_changes.changed_since(ann.id, tick)
    assert not person_changes.changed_since(bob.id, tick)
    tick = person_changes.clock()
    await staff.add_staff(store.uow(), bob_telegram_id, Role.TECHNICIAN, campus_id=None)
    assert person_changes.changed_since(bob.id, tick)  # a new grant: new roles
    assert not person_changes.changed_since(ann.id, tick)
    tick = person_changes.clock()
    await staff.remove_role(store.uow(), bob.id, Role.TECHNICIAN)  # grant by grant
    assert not person_changes.changed_since(ann.id, tick)
    assert person_changes.changed_since(bob.id, tick)
