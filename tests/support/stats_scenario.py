"""The statistics scenario: tickets driven through the real services, for the figures of
/stats, the export and the day summaries. Timed to the minute with a settable clock
(minutes after T0):

=====  ========  ====  ======  ========  =========  ======  ==================================
ticket building  tech  filed   accepted  completed  rating  notes
=====  ========  ====  ======  ========  =========  ======  ==================================
t1     E1        Tom   0       10        50         5       within the hour
t2     E1        Tom   60      80        240        2       3 h; low rating opens a follow-up
t3     E1        Ann   250     280       555        –       5 h, past its 4 h target; closed
                                                            unrated by the system after 7 days
t4     E1        Ann   370     375/420   400/450    4       reopened at 410 ("not fixed")
t5     E1        Tom   460     470       –          –       in progress, past due at the end
t6     E1        Ann   480     490       –          –       deferred at 510 for 1 day, missed
t7     E2        Bob   520     525       540        1       another building
t8     E1        –     546     –         –          –       cancelled by the requester
t9     E1        –     550     –         –          –       still waiting for a technician
=====  ========  ====  ======  ========  =========  ======  ==================================

The figures are read at T0 + 8 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypedDict

from store.domain.filing import NewTicket
from store.intake.report import report
from store.lifecycle import Role
from store.repair import dispatch, requester, sla, work
from store.uow import Store
from tests.support.scheduled import run_check
from tests.support.world import Clock, make_person, small_campus

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
END = T0 + timedelta(days=8)


class Period(TypedDict):
    """A period as keyword arguments (`**PERIOD`)."""

    start: datetime
    end: datetime


PERIOD: Period = {"start": T0, "end": T0 + timedelta(days=9)}


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@dataclass(frozen=True)
class Scenario:
    store: Store
    clock: Clock
    tickets: dict[str, int]
    numbers: dict[str, str]
    rita: int
    tom: int
    ann: int
    bob: int
    sup_e1: int
    sup_e2: int
    dana: int
    ada: int


async def build(store: Store) -> Scenario:
    """Drive the tickets in the module docstring through the services."""
    clock, places = await small_campus(store, T0 - timedelta(days=1))
    e1 = places.building("E1公寓")
    e2 = places.building("E2公寓")
    rita = (await make_person(store, name="Rita")).id
    tom = (
        await make_person(store, Role.TECHNICIAN, name="Tom", buildings=[e1.id], on_duty=True)
    ).id
    ann = (
        await make_person(store, Role.TECHNICIAN, name="Ann", buildings=[e1.id], on_duty=True)
    ).id
    bob = (
        await make_person(store, Role.TECHNICIAN, name="Bob", buildings=[e2.id], on_duty=True)
    ).id
    sup_e1 = (await make_person(store, Role.SUPERVISOR, name="Sue", buildings=[e1.id])).id
    sup_e2 = (await make_person(store, Role.SUPERVISOR, name="Sid", buildings=[e2.id])).id
    dana = (await make_person(store, Role.DISPATCHER, name="Dana", campus_id=e1.campus_id)).id
    ada = (await make_person(store, Role.ADMIN, name="Ada")).id
    room = {"E1": places.room("E1-101").room_id, "E2": places.room("E2-101").room_id}
    tickets: dict[str, int] = {}
    numbers: dict[str, str] = {}

    def at(n: float) -> None:
        assert T0 + minutes(n) >= clock.now, "the scenario must move forward in time"
        clock.now = T0 + minutes(n)

    async def file(key: str, n: float, where: str = "E1", category: str = "water") -> int:
        at(n)
        result = await report(
            store.uow(),
            NewTicket(rita, room[where], category, f"{key}: something is broken"),
        )
        tickets[key], numbers[key] = result.ticket.id, result.ticket.number
        return result.ticket.id

    async def accept_start(ticket: int, tech: int, accept: float, start: float) -> None:
        at(accept)
        await dispatch.accept(store.uow(), ticket, tech)
        at(start)
        await work.start(store.uow(), ticket, tech)

    async def complete(ticket: int, tech: int, n: float) -> None:
        at(n)
        await work.complete(store.uow(), ticket, tech)

    async def rate(ticket: int, n: float, stars: int) -> None:
        at(n)
        await requester.confirm_and_rate(store.uow(), ticket, rita, stars)

    t1 = await file("t1", 0)
    await accept_start(t1, tom, 10, 15)
    await complete(t1, tom, 50)
    await rate(t1, 60, 5)
    t2 = await file("t2", 60, category="electrical")
    await accept_start(t2, tom, 80, 90)
    await complete(t2, tom, 240)
    await rate(t2, 250, 2)
    t3 = await file("t3", 250)
    await accept_start(t3, ann, 280, 290)
    t4 = await file("t4", 370)
    await accept_start(t4, ann, 375, 380)
    await complete(t4, ann, 400)
    at(410)
    await requester.reopen(store.uow(), t4, rita, "still dripping")
    await accept_start(t4, ann, 420, 425)
    await complete(t4, ann, 450)
    await rate(t4, 460, 4)
    t5 = await file("t5", 460)
    await accept_start(t5, tom, 470, 480)
    t6 = await file("t6", 480)
    await accept_start(t6, ann, 490, 500)
    at(510)
    await work.defer(store.uow(), t6, ann, clock.now + timedelta(days=1), "parts on order")
    t7 = await file("t7", 520, where="E2")
    await accept_start(t7, bob, 525, 530)
    await complete(t7, bob, 540)
    await rate(t7, 545, 1)
    t8 = await file("t8", 546)
    at(547)
    await requester.cancel(store.uow(), t8, rita)
    await file("t9", 550)
    await complete(t3, ann, 555)
    clock.now = END
    assert await run_check(store, sla.auto_close_batch) == [numbers["t3"]]
    return Scenario(store, clock, tickets, numbers, rita, tom, ann, bob, sup_e1, sup_e2, dana, ada)
