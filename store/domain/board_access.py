"""Who may open the office board, and as what: supervisors, dispatchers and admins see the
buildings their grants cover, a technician their own jobs, nobody else anything. Read
from the person's grants now: on every board request, and when a sign-in link is made
and when it is used."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from sqlmodel import select

from store import roles as store_roles
from store.errors import NotPermitted
from store.lifecycle import Role
from store.models import Person, RoleGrant
from store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: the whole office of their buildings, or only their own jobs."""

    person_id: int
    name: str
    language: str | None
    office: bool  # supervisor, dispatcher or admin somewhere
    technician: bool


def may_open_board(person_roles: Set[Role]) -> bool:
    """Whether some role of the person opens the board: the office's (figures) or a
    technician's (their own jobs)."""
    return not store_roles.BOARD.isdisjoint(person_roles)


async def viewer(uow: UnitOfWork, person_id: int) -> Viewer:
    """The person's standing on the board now; NotPermitted when they have no board."""
    person = await uow.session.get(Person, person_id)
    if person is None:
        raise NotPermitted("unknown person")
    rows = await uow.session.execute(
        select(RoleGrant.role).where(RoleGrant.person_id == person_id)
    )
    roles = {Role(role) for role in rows.scalars()}
    if not may_open_board(roles):
        raise NotPermitted("the board is for supervisors, dispatchers, admins and technicians")
    # The office pages are the figures of their buildings: the FIGURES roles see them.
    office = not store_roles.FIGURES.isdisjoint(roles)
    return Viewer(person_id, person.name, person.language, office, Role.TECHNICIAN in roles)
