"""The booth's world: the small campus, staff of E1 who file for walk-up people (and one of
E2), and the walk-up filing and claiming moves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from store.domain.filing import NewTicket
from store.intake import booth
from store.lifecycle import Role
from store.uow import Store
from tests.support.world import (
    E1,
    E2,
    Places,
    person_in,
    small_campus,
)


@dataclass(frozen=True)
class BoothWorld:
    """Who is who at the booth, and the store they are in."""

    store: Store
    places: Places
    bea: int  # booth staff (inspector) of E1
    dora: int  # dispatcher of E1
    tom: int  # technician of E1, off duty: tickets wait in the queue
    eve: int  # inspector of E2 only
    pat: int  # a plain requester

    def new(self, code: str = "E1-101", **kw: Any) -> NewTicket:
        """A report for the room with `code` as Bea would file it (water, unless `kw`)."""
        kw.setdefault("category_key", "water")
        kw.setdefault("description", "The shower drain is blocked.")
        return NewTicket(requester_id=self.bea, room_id=self.places.room(code).room_id, **kw)


async def make_booth_world(store: Store) -> BoothWorld:
    """The small campus on a clock at 2026-03-02 08:00, with the people of BoothWorld."""
    _clock, places = await small_campus(store)
    e1, e2 = places.building(E1).id, places.building(E2).id
    async with store.uow() as uow:
        people = [
            await person_in(uow, Role.INSPECTOR, name="Bea", buildings=[e1]),
            await person_in(uow, Role.DISPATCHER, name="Dora", buildings=[e1]),
            await person_in(uow, Role.TECHNICIAN, name="Tom", buildings=[e1]),
            await person_in(uow, Role.INSPECTOR, name="Eve", buildings=[e2]),
            await person_in(uow, name="Pat"),
        ]
        ids = [p.id or 0 for p in people]
        await uow.commit()
    return BoothWorld(store, places, *ids)


async def walkup(
    w: BoothWorld, name: str = "Wang Wei", phone: str | None = "+86 138 0000 1111"
) -> booth.BoothResult:
    """Bea files the default report for a walk-up person at the booth."""
    return await booth.file_walkup(
        w.store.uow(), staff_id=w.bea, name=name, phone=phone, new=w.new()
    )


async def claim(w: BoothWorld, code: str, telegram_id: int, name: str = "Wang Wei") -> str:
    """A Telegram user opens the claim link with `code`; returns the ticket's number."""
    return await booth.claim(
        w.store.uow(), code, telegram_id=telegram_id, name=name, language="en"
    )
