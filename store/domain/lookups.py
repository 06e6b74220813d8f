"""Loading the rows a ticket hangs on: people, places, categories and their targets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement
from sqlmodel import col, select

from store.errors import NotFound
from store.models import Building, Campus, Category, Person, Room
from store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Place:
    """A room with its building and campus, as one value."""

    room: Room
    building: Building
    campus: Campus

    def label(self) -> dict[str, str]:
        """The fields notices and screens show."""
        return {
            "campus": self.campus.name,
            "building": self.building.name,
            "floor": self.room.floor,
            "room": self.room.name,
            "room_code": self.room.code,
        }


async def get_person(uow: UnitOfWork, person_id: int) -> Person:
    """The person, or NotFound."""
    person = await uow.session.get(Person, person_id)
    if person is None:
        raise NotFound("person", person_id=person_id)
    return person


async def get_place(uow: UnitOfWork, room_id: int) -> Place:
    """The room with its building and campus."""
    found = await places_where(uow, col(Room.id) == room_id)
    if not found:
        raise NotFound("room", room_id=room_id)
    return found[0]


async def places_where(
    uow: UnitOfWork, *where: ColumnElement[bool], limit: int | None = None
) -> list[Place]:
    """The rooms matching `where`, each with its building and campus, in one statement."""
    stmt = (
        select(Room, Building, Campus)
        .join(Building, col(Building.id) == Room.building_id)
        .join(Campus, col(Campus.id) == Building.campus_id)
        .where(*where)
        .limit(limit)
    )
    rows = (await uow.session.execute(stmt)).all()
    return [Place(room, building, campus) for room, building, campus in rows]


async def get_category(uow: UnitOfWork, category_id: int) -> Category:
    """The category, or NotFound."""
    category = await uow.session.get(Category, category_id)
    if category is None:
        raise NotFound("category", category_id=category_id)
    return category


def category_targets(
    uow: UnitOfWork, category: Category, urgency: str = "normal"
) -> tuple[timedelta, timedelta]:
    """Accept and completion targets: the policy's (else the category row's own minutes),
    shortened to the urgency's targets for urgent and emergency tickets."""
    target = uow.policy.categories.get(category.key)
    if target is not None:
        accept, complete = target.accept, target.complete
    else:
        accept = timedelta(minutes=category.accept_minutes)
        complete = timedelta(minutes=category.complete_minutes)
    faster = uow.policy.urgency_targets.get(urgency)
    if faster is not None:
        accept, complete = min(accept, faster.accept), min(complete, faster.complete)
    return accept, complete
