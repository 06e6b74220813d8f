"""Staff administration: which roles someone holds where, and a technician's duty."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from sqlmodel import col, select

from store import roles
from store.directory.profiles import PersonView, view_of
from store.directory.staff_csv import StaffRow
from store.domain.handover import HandedOn, hand_on
from store.domain.lookups import get_person
from store.domain.notices import notify
from store.domain.people import upsert_person
from store.domain.scope import grants_of
from store.errors import (
    GrantConflict,
    InvalidInput,
    NotFound,
    NotPermitted,
    StaffImportError,
)
from store.lifecycle import Role
from store.models import Building, Campus, Person, RoleGrant, StaffChange
from store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class GrantView:
    """One role grant with the names of its scope (no campus and no buildings: everywhere)."""

    person_id: int
    role: Role
    campus_id: int | None = None
    campus: str | None = None
    building_ids: tuple[int, ...] = ()
    buildings: tuple[str, ...] = ()
    grant_id: int = 0

    def scope_label(self) -> str:
        """A short human description of the scope, e.g. "東校區/E1公寓" or "all"."""
        if self.buildings:
            return ", ".join(self.buildings)
        return self.campus or "all"


@dataclass(frozen=True, slots=True)
class StaffView:
    """A staff member and every role they hold, one GrantView per grant."""

    person: PersonView
    grants: tuple[GrantView, ...]


# The notice a person gets when a staff role of theirs was removed; delivering it also
# resets their command menu in the chat (bot/app.py), for changes made by the CLI too.
STAFF_NOTICE = "staff.roles_changed"
# Through what a staff change was made (StaffChange.via).
VIA_CLI, VIA_CHAT, VIA_IMPORT, VIA_INVITE = "cli", "chat", "import", "invite"
# A grant's scope as a key: (campus id, building id); (None, None) is everywhere.
Key = tuple[int | None, int | None]
EVERYWHERE: Key = (None, None)


@dataclass(frozen=True, slots=True)
class StaffChangeResult:
    """What a staff command did: the person now, which grants were added and removed
    (labels such as "technician (all)"), and the work handed on."""

    staff: StaffView
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    handed: HandedOn = field(default_factory=HandedOn)

    @property
    def person(self) -> PersonView:
        """The person, as they are now."""
        return self.staff.person

    @property
    def grants(self) -> tuple[GrantView, ...]:
        """Every grant they hold now."""
        return self.staff.grants

    @property
    def changed(self) -> bool:
        """Whether anything changed at all."""
        return bool(self.added or self.removed)


async def _check_scope(
    uow: UnitOfWork, campus_id: int | None, building_ids: Iterable[int]
) -> None:
    if campus_id is not None and await uow.session.get(Campus, campus_id) is None:
        raise NotFound("campus", campus_id=campus_id)
    for building_id in building_ids:
        if await uow.session.get(Building, building_id) is None:
            raise NotFound("building", building_id=building_id)


async def _campus_of_buildings(uow: UnitOfWork) -> dict[int, int]:
    rows = await uow.session.execute(select(Building.id, Building.campus_id))
    return {b: c for b, c in rows.all() if b is not None}


def _covers(outer: Key, inner: Key, campus_of: dict[int, int]) -> bool:
    """Whether a grant scoped `outer` covers everything one scoped `inner` does."""
    if outer in (EVERYWHERE, inner):
        return True
    campus, building = outer
    if building is not None:
        return False
    inner_building = inner[1]
    return inner_building is not None and campus_of.get(inner_building) == campus


async def scope_label(uow: UnitOfWork, key: Key) -> str:
    """A grant's scope as the staff list names it: "all", a campus, "campus/building"."""
    campus_id, building_id = key
    if building_id is not None:
        building = await uow.session.get(Building, building_id)
        campus = await uow.session.get(Campus, building.campus_id) if building else None
        return f"{campus.name if campus else '?'}/{building.name if building else '?'}"
    if campus_id is not None:
        found = await uow.session.get(Campus, campus_id)
        return found.name if found else "?"
    return "all"


async def _record(
    uow: UnitOfWork,
    person_id: int,
    change: str,
    role: Role,
    key: Key,
    *,
    actor_id: int | None,
    via: str,
    note: str | None = None,
) -> StaffChange:
    """Append the audit row of one grant added or removed, and return it."""
    scope = await scope_label(uow, key)
    row = StaffChange(
        at=uow.now(),
        person_id=person_id,
        change=change,
        role=role,
        campus_id=key[0],
        building_id=key[1],
        scope=scope[:300],
        actor_id=actor_id,
        via=via,
        note=note,
    )
    uow.session.add(row)
    return row


def label(row: StaffChange) -> str:
    """A recorded grant as "role (scope)"."""
    return f"{row.role} ({row.scope})"


async def add_grants(
    uow: UnitOfWork,
    person_id: int,
    role: Role,
    campus_id: int | None,
    building_ids: Iterable[int],
    *,
    narrower: Literal["refuse", "keep", "replace"] = "refuse",
    actor_id: int | None = None,
    via: str = VIA_CLI,
) -> tuple[list[StaffChange], list[StaffChange]]:
    """Grant `role` per building (or once, campus-wide or everywhere), so that a grant has
    one meaning: what is held already is not granted twice; a wider new grant takes the
    place of the narrower ones it covers; a scope inside a wider grant already held is
    refused (GrantConflict) unless `narrower` says to keep the wider one (an invite) or
    to replace the role's grants with exactly this scope. Each grant added or removed is
    recorded with who did it. Returns the records of those added and removed. No commit."""
    if role not in roles.STAFF:
        raise InvalidInput(f"{role} is not a staff role", role=str(role))
    ids = list(dict.fromkeys(building_ids))
    await _check_scope(uow, campus_id, ids)
    wanted: list[Key] = [(None, b) for b in ids] if ids else [(campus_id, None)]
    held = [g for g in await grants_of(uow, person_id) if g.role == role]
    held_keys = {(g.campus_id, g.building_id): g for g in held}
    campus_of = await _campus_of_buildings(uow)
    new = [k for k in wanted if k not in held_keys]
    if narrower == "replace":
        drop = [g for k, g in held_keys.items() if k not in wanted]
    else:
        inside = [k for k in new if any(_covers(h, k, campus_of) for h in held_keys if h != k)]
        if inside and narrower == "refuse":
            wider = sorted(
                {
                    await scope_label(uow, h)
                    for h in held_keys
                    for k in inside
                    if _covers(h, k, campus_of)
                }
            )
            asked = ", ".join([await scope_label(uow, k) for k in inside])
            raise GrantConflict(
                f"already holds {role} for {'; '.join(wider)}, which covers {asked}; "
                "nothing changed (add --replace to replace the grant with the narrower one)",
                role=str(role),
            )
        new = [k for k in new if k not in inside]
        drop = [
            g for k, g in held_keys.items() if any(_covers(n, k, campus_of) for n in new if n != k)
        ]
    removed = []
    for grant in drop:
        await uow.session.delete(grant)
        key = (grant.campus_id, grant.building_id)
        removed.append(
            await _record(uow, person_id, "removed", role, key, actor_id=actor_id, via=via)
        )
    if drop:
        await uow.flush()  # deleted before the new ones: the unique key may repeat
    added = []
    for campus, building in new:
        uow.session.add(
            RoleGrant(person_id=person_id, role=role, campus_id=campus, building_id=building)
        )
        added.append(
            await _record(
                uow, person_id, "added", role, (campus, building), actor_id=actor_id, via=via
            )
        )
    return added, removed


async def add_staff(
    uow: UnitOfWork,
    telegram_id: int,
    role: Role,
    *,
    name: str | None = None,
    building_ids: Iterable[int] = (),
    campus_id: int | None = None,
    replace: bool = False,
    actor_id: int | None = None,
    via: str = VIA_CLI,
) -> StaffChangeResult:
    """Give a Telegram user a staff role (creating the person if needed); adding what is
    held already changes nothing. `replace`: the role's grants become exactly this scope,
    and the work outside it is handed on."""
    async with uow:
        person = await upsert_person(uow, telegram_id, name, None)
        await uow.flush()
        assert person.id is not None
        added, removed = await add_grants(
            uow,
            person.id,
            role,
            campus_id,
            building_ids,
            narrower="replace" if replace else "refuse",
            actor_id=actor_id,
            via=via,
        )
        handed = HandedOn()
        if removed and replace:  # a wider grant in place of narrower ones loses nothing
            actor = await get_person(uow, actor_id) if actor_id is not None else None
            handed = await _after_removal(uow, person, actor, via, removed)
        await uow.flush()
        view = (await _staff_views(uow, [person]))[0]
        await uow.commit()
    return StaffChangeResult(
        view, tuple(label(r) for r in added), tuple(label(r) for r in removed), handed
    )


async def _after_removal(
    uow: UnitOfWork, person: Person, actor: Person | None, via: str, removed: list[StaffChange]
) -> HandedOn:
    """Hand on the work the person no longer covers, take them off duty when they are no
    technician anywhere now, note what was handed on, and tell them (their staff command
    menu is reset when that notice is delivered)."""
    assert person.id is not None
    await uow.flush()
    # No names in a ticket's note: the holder is the ticket's previous assignee and the
    # admin is the event's actor; a name here would outlive an erasure (README "Personal
    # data").
    labels = ", ".join(label(r) for r in removed)
    note = f"{labels} removed ({via})"
    handed = await hand_on(uow, person, actor, note)
    left = await grants_of(uow, person.id)
    if not any(g.role == Role.TECHNICIAN for g in left):
        person.on_duty = False  # a former technician must not be offered jobs
        uow.session.add(person)
    for row in removed:
        row.note = handed.note()
    # Told when a role is gone altogether (their menu changes) or work was taken from them.
    if handed.jobs or {r.role for r in removed} - {g.role for g in left}:
        payload = {"removed": [[str(r.role), r.scope] for r in removed], "jobs": handed.jobs}
        notify(uow, person.id, STAFF_NOTICE, payload)
    return handed


async def remove_staff(
    uow: UnitOfWork,
    telegram_id: int | None,
    *,
    person_id: int | None = None,
    role: Role | None = None,
    campus_id: int | None = None,
    building_ids: Iterable[int] = (),
    actor_id: int | None = None,
    via: str = VIA_CLI,
) -> StaffChangeResult:
    """Take staff grants away: every grant (of `role`, if given), or those inside a campus
    or buildings. A scope that lies inside a wider grant cannot be cut out of it: that is
    refused (narrow the grant with `add --replace`). The work the person no longer covers
    is handed on (`store.domain.handover`), each change recorded with who made it."""
    ids = set(building_ids)
    async with uow:
        if person_id is not None:
            person = await uow.session.get(Person, person_id)
        else:
            person = (
                await uow.session.execute(select(Person).where(Person.telegram_id == telegram_id))
            ).scalar_one_or_none()
        if person is None or person.id is None:
            raise NotFound(
                f"nobody with Telegram id {telegram_id} is known", telegram_id=telegram_id
            )
        await _check_scope(uow, campus_id, ids)
        grants = [g for g in await grants_of(uow, person.id) if role is None or g.role == role]
        campus_of = await _campus_of_buildings(uow)
        if campus_id is not None:
            asked: list[Key] = [(campus_id, None)]
        else:
            asked = [(None, b) for b in sorted(ids)]
        if asked:
            chosen = [
                g
                for g in grants
                if any(_covers(a, (g.campus_id, g.building_id), campus_of) for a in asked)
            ]
            wider = [
                g
                for g in grants
                if g not in chosen
                and any(_covers((g.campus_id, g.building_id), a, campus_of) for a in asked)
            ]
            if wider:
                labels = ", ".join(
                    [
                        f"{g.role} ({await scope_label(uow, (g.campus_id, g.building_id))})"
                        for g in wider
                    ]
                )
                raise GrantConflict(
                    f"{person.name or telegram_id} holds {labels}, wider than the scope asked; "
                    "nothing changed. Remove the whole grant, or narrow it with "
                    "`repairbot staff add ID --role ROLE ... --replace`",
                )
            grants = chosen
        if not grants:
            what = f"{role} grant" if role is not None else "staff role"
            where = " there" if asked else ""
            raise NotFound(
                f"{person.name or telegram_id} holds no {what}{where}; nothing changed",
                telegram_id=telegram_id,
            )
        removed = await _remove(uow, person, grants, actor_id, via)
        view = (await _staff_views(uow, [person]))[0]
        await uow.commit()
    return removed(view)


async def _remove(
    uow: UnitOfWork, person: Person, grants: list[RoleGrant], actor_id: int | None, via: str
) -> Callable[[StaffView], StaffChangeResult]:
    assert person.id is not None
    actor = await get_person(uow, actor_id) if actor_id is not None else None
    removed = []
    for grant in grants:
        key = (grant.campus_id, grant.building_id)
        removed.append(
            await _record(uow, person.id, "removed", grant.role, key, actor_id=actor_id, via=via)
        )
        await uow.session.delete(grant)
    handed = await _after_removal(uow, person, actor, via, removed)
    await uow.flush()
    return lambda view: StaffChangeResult(view, (), tuple(label(r) for r in removed), handed)


async def remove_grant(uow: UnitOfWork, grant_id: int, *, actor_id: int) -> StaffChangeResult:
    """An admin in the chat takes one grant away. Checked here, whatever the button said:
    the actor must be an admin now, the grant must still exist, and nobody removes their
    own admin role this way (the last admin could lock the office out)."""
    async with uow:
        if not any(g.role == Role.ADMIN for g in await grants_of(uow, actor_id)):
            raise NotPermitted("admins only", action="staff_remove")
        grant = await uow.session.get(RoleGrant, grant_id)
        if grant is None:
            raise NotFound("grant", grant_id=grant_id)
        if grant.person_id == actor_id and grant.role == Role.ADMIN:
            raise NotPermitted("your own admin role", action="staff_remove_self")
        person = await get_person(uow, grant.person_id)
        removed = await _remove(uow, person, [grant], actor_id, VIA_CHAT)
        view = (await _staff_views(uow, [person]))[0]
        await uow.commit()
    return removed(view)


async def check_admin(uow: UnitOfWork, person_id: int) -> None:
    """NotPermitted unless the person holds the admin role now (read now, whatever their
    cached view or a button says): asked before the staff list or a removal is shown."""
    async with uow:
        if not any(g.role == Role.ADMIN for g in await grants_of(uow, person_id)):
            raise NotPermitted("admins only", action="staff")


async def find_grant(uow: UnitOfWork, grant_id: int) -> tuple[StaffView, GrantView]:
    """The grant with this id and its holder (with all their grants), or NotFound."""
    async with uow:
        grant = await uow.session.get(RoleGrant, grant_id)
        if grant is None:
            raise NotFound("grant", grant_id=grant_id)
        view = (await _staff_views(uow, [await get_person(uow, grant.person_id)]))[0]
    return view, next(g for g in view.grants if g.grant_id == grant_id)


async def remove_role(uow: UnitOfWork, person_id: int, role: Role) -> int:
    """Take a role away everywhere (as `remove_staff` does, by person id); returns how
    many grants were removed."""
    try:
        result = await remove_staff(uow, None, person_id=person_id, role=role)
    except NotFound:
        return 0
    return len(result.removed)


async def _staff_views(uow: UnitOfWork, people: list[Person]) -> list[StaffView]:
    ids = [p.id for p in people]
    grants = list(
        (await uow.session.execute(select(RoleGrant).where(col(RoleGrant.person_id).in_(ids))))
        .scalars()
        .all()
    )
    campuses = {c.id: c.name for c in (await uow.session.execute(select(Campus))).scalars()}
    buildings = {
        b.id: f"{campuses.get(b.campus_id, '?')}/{b.name}"
        for b in (await uow.session.execute(select(Building))).scalars()
    }
    views = []
    for person in people:
        own = sorted(
            (g for g in grants if g.person_id == person.id),
            key=lambda g: (g.role, g.campus_id or 0, g.building_id or 0),
        )
        grant_views = tuple(
            GrantView(
                person_id=g.person_id,
                role=g.role,
                campus_id=g.campus_id,
                campus=campuses.get(g.campus_id) if g.campus_id else None,
                building_ids=(g.building_id,) if g.building_id else (),
                buildings=(buildings.get(g.building_id, "?"),) if g.building_id else (),
                grant_id=g.id or 0,
            )
            for g in own
        )
        views.append(StaffView(view_of(person, own), grant_views))
    return views


async def list_staff(
    uow: UnitOfWork, *, role: Role | None = None, building_id: int | None = None
) -> list[StaffView]:
    """Everyone holding a staff role, by name, with each grant's scope; with `role` or
    `building_id`, only the grants of that role or covering that building (and the
    people holding one)."""
    async with uow:
        has_grant = select(RoleGrant.person_id).distinct()
        people = list(
            (await uow.session.execute(select(Person).where(col(Person.id).in_(has_grant))))
            .scalars()
            .all()
        )
        people.sort(key=lambda p: (p.name.casefold(), p.id or 0))
        views = await _staff_views(uow, people)
        if role is None and building_id is None:
            return views
        building = await uow.session.get(Building, building_id) if building_id else None
        if building_id is not None and building is None:
            raise NotFound("building", building_id=building_id)

        def keep(grant: GrantView) -> bool:
            if role is not None and grant.role != role:
                return False
            if building is None:
                return True
            if grant.building_ids:
                return building.id in grant.building_ids
            return grant.campus_id is None or grant.campus_id == building.campus_id

        kept = [StaffView(v.person, tuple(g for g in v.grants if keep(g))) for v in views]
        return [v for v in kept if v.grants]


# --- import --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaffImport:
    """What `import_staff` did; all zero but `unchanged` on a second run of one file."""

    people_added: int = 0
    grants_added: int = 0
    grants_replaced: int = 0  # narrower grants a wider line of the file took over
    unchanged: int = 0  # lines whose grant was held already


def _place_keys(
    rows: list[StaffRow], campuses: list[Campus], buildings: list[Building]
) -> tuple[dict[int, Key], list[tuple[int, str]]]:
    """Each line's scope as a key, and the lines naming a place that does not exist (or a
    building name that more than one campus has, with no campus given)."""
    keys: dict[int, Key] = {}
    errors: list[tuple[int, str]] = []
    by_name = {c.name.casefold(): c for c in campuses}
    for row in rows:
        campus = by_name.get(row.campus.casefold()) if row.campus else None
        if row.campus and campus is None:
            errors.append((row.line, f"no campus named {row.campus!r}"))
            continue
        if not row.building:
            keys[row.line] = (campus.id if campus else None, None)
            continue
        found = [
            b
            for b in buildings
            if b.name.casefold() == row.building.casefold()
            and (campus is None or b.campus_id == campus.id)
        ]
        if not found:
            where = f" in campus {row.campus!r}" if row.campus else ""
            errors.append((row.line, f"no building named {row.building!r}{where}"))
        elif len(found) > 1:
            errors.append(
                (row.line, f"building {row.building!r} is in several campuses; name the campus")
            )
        else:
            keys[row.line] = (None, found[0].id)
    return keys, errors


async def import_staff(uow: UnitOfWork, rows: list[StaffRow]) -> StaffImport:
    """Grant what a staff file lists, all or nothing: any bad line (an unknown place, a
    grant inside a wider one the person holds or the file gives) imports nothing and is
    reported with its line number. Idempotent: what is held already changes nothing.
    Each grant added is recorded (via "import")."""
    async with uow:
        campuses = list((await uow.session.execute(select(Campus))).scalars())
        buildings = list((await uow.session.execute(select(Building))).scalars())
        campus_of = {b.id: b.campus_id for b in buildings if b.id is not None}
        keys, errors = _place_keys(rows, campuses, buildings)
        people = {
            p.telegram_id: p
            for p in (
                await uow.session.execute(
                    select(Person).where(
                        col(Person.telegram_id).in_({r.telegram_id for r in rows})
                    )
                )
            ).scalars()
        }
        held: dict[tuple[int, Role], set[Key]] = {}
        for person in people.values():
            assert person.id is not None and person.telegram_id is not None
            for grant in await grants_of(uow, person.id):
                pair = (person.telegram_id, grant.role)
                held.setdefault(pair, set()).add((grant.campus_id, grant.building_id))
        wanted: dict[tuple[int, Role], dict[Key, int]] = {}
        for row in rows:
            if row.line in keys:
                wanted.setdefault((row.telegram_id, row.role), {})[keys[row.line]] = row.line
        for (telegram_id, role), lines in wanted.items():
            for key, line in lines.items():
                inside_file = [
                    other for k, other in lines.items() if k != key and _covers(k, key, campus_of)
                ]
                inside_held = [
                    h
                    for h in held.get((telegram_id, role), set())
                    if h != key and h not in lines and _covers(h, key, campus_of)
                ]
                if inside_file:
                    errors.append((line, f"inside the {role} grant of line {inside_file[0]}"))
                elif inside_held:
                    errors.append(
                        (
                            line,
                            f"{telegram_id} already holds {role} for "
                            f"{await scope_label(uow, inside_held[0])}, which covers this; "
                            "remove that grant first (or use staff add --replace)",
                        )
                    )
        if errors:
            raise StaffImportError(sorted(errors))
        people_added = added = replaced = unchanged = 0
        for row in rows:
            if row.telegram_id not in people:
                people_added += 1
            person = await upsert_person(uow, row.telegram_id, row.name or None, None)
            await uow.flush()
            assert person.id is not None
            people[row.telegram_id] = person
            campus_id, building_id = keys[row.line]
            new, dropped = await add_grants(
                uow,
                person.id,
                row.role,
                campus_id,
                [building_id] if building_id is not None else [],
                actor_id=None,
                via=VIA_IMPORT,
            )
            await uow.flush()
            added += len(new)
            replaced += len(dropped)
            unchanged += not new
        await uow.commit()
    return StaffImport(people_added, added, replaced, unchanged)


# --- duty ----------------------------------------------------------------------------------


async def set_duty(uow: UnitOfWork, person_id: int, on: bool | None = None) -> bool:
    """Go on or off duty (None toggles); only technicians may. Returns the new state."""
    async with uow:
        person = await get_person(uow, person_id)
        if not any(g.role == Role.TECHNICIAN for g in await grants_of(uow, person_id)):
            raise NotPermitted("only technicians go on duty", action="duty")
        person.on_duty = (not person.on_duty) if on is None else on
        state = person.on_duty
        await uow.commit()
    return state
