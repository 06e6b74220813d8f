"""The supervisors' daily digest: its figures on a known data set, and sending it once a day.

The data set, in campus time (Asia/Shanghai, UTC+8), is driven through the real services
with a settable clock. The digest is read at 03-11 08:30 for 03-10 ("D2"); D1 is 03-09.
Water tickets (4 h completion target) in E1公寓 unless noted. Minutes are filing → event.

======  =========  ====  =========  ==========  ======  =======================================
ticket  filed      tech  accepted   completed   rating  notes
======  =========  ====  =========  ==========  ======  =======================================
a       03-05 10:00 Tom  10:10 (10) 11:00 (60)  4       in the 14-day series only
r       D1 08:00   –     –          –           –       cancelled D1 08:30 (not counted)
j       D1 09:00   Tom   09:10 (10) –           –       deferred D1 10:00 to D2 12:00: missed
b       D1 22:00   Tom   22:20 (20) D2 00:30    5       150 min; UTC date of completion is 03-09
d       D1 23:50   Ann   D2 08:05   D2 09:05    –       received D1 (15:50 UTC); 555 min, late
c       D2 00:10   Ann   00:40 (30) 00:50 (40)  2       low rating (closed D2 08:00)
e       D2 09:00   Tom   09:05 (5)  09:50 (50)  1       low rating (closed D2 10:00)
m       D2 10:00   Bob   10:05      10:30       1       E2公寓: outside Sue's scope
f       D2 10:00   Tom   10:15 (15) –           –       deferred 11:00 to 03-12 12:00: due soon
g       D2 11:00   Ann   11:30 (30) –           –       in progress, past its 15:00 target
h       D2 12:00   –     –          –           –       cancelled 12:30
i       D2 13:00   –     –          –           –       never accepted, past its 17:00 target
k       D2 14:00   Ann   14:20 (20) –           –       deferred 14:30 to 03-20: not due soon
p       D2 23:00   Tom   23:10 (10) 03-11 00:30 –       completed on D3 (16:30 UTC, 03-10!)
======  =========  ====  =========  ==========  ======  =======================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlmodel import col

from bot.digest import render_text
from bot.i18n import Texts
from store.domain.filing import NewTicket
from store.intake.report import report
from store.lifecycle import Role
from store.models import Person
from store.repair import dispatch, requester, work
from store.reporting import digest
from store.reporting.digest import DayPoint
from store.reporting.figures import TechnicianStats
from store.uow import Store
from tests.support.world import Clock, make_person, make_places, small_campus

ZONE = ZoneInfo("Asia/Shanghai")
D1, D2, D3 = date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 11)
EIGHT = time(8, 0)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """Campus wall time as aware UTC (what the clock and the store hold)."""
    return datetime.combine(day, time(hour, minute), ZONE).astimezone(UTC)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@dataclass(frozen=True)
class Scenario:
    store: Store
    clock: Clock
    numbers: dict[str, str]
    promised: dict[str, datetime]
    sue: int
    sid: int
    tom: int
    ann: int


async def build(store: Store) -> Scenario:
    """Drive the tickets of the module docstring through the services, in time order."""
    clock, places = await small_campus(store, local(date(2026, 3, 5), 9))
    e1, e2 = places.building("E1公寓"), places.building("E2公寓")
    rita = (await make_person(store, name="Rita")).id

    async def tech(name: str, building: int) -> int:
        person = await make_person(
            store, Role.TECHNICIAN, name=name, buildings=[building], on_duty=True
        )
        return person.id

    tom, ann, bob = await tech("Tom", e1.id), await tech("Ann", e1.id), await tech("Bob", e2.id)
    sue = (await make_person(store, Role.SUPERVISOR, name="Sue", buildings=[e1.id])).id
    sid = (await make_person(store, Role.SUPERVISOR, name="Sid", buildings=[e2.id])).id
    rooms = {"E1": places.room("E1-101").room_id, "E2": places.room("E2-101").room_id}
    ids: dict[str, int] = {}
    numbers: dict[str, str] = {}
    promised: dict[str, datetime] = {}

    def at(day: date, hour: int, minute: int = 0) -> None:
        moment = local(day, hour, minute)
        assert moment >= clock.now, "the scenario moves forward in time"
        clock.now = moment

    async def file(key: str, where: str = "E1") -> None:
        result = await report(
            store.uow(), NewTicket(rita, rooms[where], "water", f"{key}: it is broken")
        )
        ids[key], numbers[key] = result.ticket.id, result.ticket.number

    async def take(key: str, who: int) -> None:
        await dispatch.accept(store.uow(), ids[key], who)
        await work.start(store.uow(), ids[key], who)

    async def done(key: str, who: int) -> None:
        await work.complete(store.uow(), ids[key], who)

    async def rate(key: str, stars: int) -> None:
        await requester.confirm_and_rate(store.uow(), ids[key], rita, stars)

    async def defer(key: str, who: int, until: datetime, why: str) -> None:
        promised[key] = until
        await work.defer(store.uow(), ids[key], who, until, why)

    day0 = date(2026, 3, 5)
    at(day0, 10)
    await file("a")
    at(day0, 10, 10)
    await take("a", tom)
    at(day0, 11)
    await done("a", tom)
    at(day0, 12)
    await rate("a", 4)
    # D1
    at(D1, 8)
    await file("r")
    at(D1, 8, 30)
    await requester.cancel(store.uow(), ids["r"], rita)
    at(D1, 9)
    await file("j")
    at(D1, 9, 10)
    await take("j", tom)
    at(D1, 10)
    await defer("j", tom, local(D2, 12), "parts on order")
    at(D1, 22)
    await file("b")
    at(D1, 22, 20)
    await take("b", tom)
    at(D1, 23, 50)
    await file("d")
    # D2
    at(D2, 0, 10)
    await file("c")
    at(D2, 0, 30)
    await done("b", tom)
    at(D2, 0, 40)
    await take("c", ann)
    at(D2, 0, 50)
    await done("c", ann)
    at(D2, 8)
    await rate("c", 2)
    at(D2, 8, 5)
    await take("d", ann)
    at(D2, 9)
    await rate("b", 5)
    await file("e")
    at(D2, 9, 5)
    await take("e", tom)
    await done("d", ann)
    at(D2, 9, 50)
    await done("e", tom)
    at(D2, 10)
    await rate("e", 1)
    await file("f")
    await file("m", "E2")
    at(D2, 10, 5)
    await take("m", bob)
    at(D2, 10, 15)
    await take("f", tom)
    at(D2, 10, 30)
    await done("m", bob)
    at(D2, 10, 40)
    await rate("m", 1)
    at(D2, 11)
    await defer("f", tom, local(date(2026, 3, 12), 12), "waiting for glass")
    await file("g")
    at(D2, 11, 30)
    await take("g", ann)
    at(D2, 12)
    await file("h")
    at(D2, 12, 30)
    await requester.cancel(store.uow(), ids["h"], rita)
    at(D2, 13)
    await file("i")
    at(D2, 14)
    await file("k")
    at(D2, 14, 20)
    await take("k", ann)
    at(D2, 14, 30)
    await defer("k", ann, local(date(2026, 3, 20), 10), "custom part")
    at(D2, 23)
    await file("p")
    at(D2, 23, 10)
    await take("p", tom)
    at(D3, 0, 30)
    await done("p", tom)
    at(D3, 8, 30)
    return Scenario(store, clock, numbers, promised, sue, sid, tom, ann)


@pytest.fixture
async def world(store: Store) -> Scenario:
    return await build(store)


async def test_digest_figures_text_and_scope_match_the_hand_computed_ones(
    world: Scenario,
) -> None:
    n = world.numbers
    d = await digest.digest_figures(world.store.uow(), viewer_id=world.sue, day=D2, zone=ZONE)
    o = d.office
    assert d.day == D2
    assert (o.period_start, o.period_end) == (local(D2, 0), local(D3, 0))
    # received c e f g h i k p; completed b c d e (p completed on D3, d received on D1)
    assert (o.reported, o.completed, d.cancelled) == (8, 4, 1)
    assert d.backlog == {"deferred": 3, "dispatching": 1, "in_progress": 1}  # fjk, i, g
    assert o.open_now == 5
    assert d.overdue == sorted([n["g"], n["i"], n["j"]])  # f and k keep their promises
    assert d.overdue_count == 3
    assert d.due_soon == [(n["f"], world.promised["f"])]  # k is 9 days out
    # resolutions 40, 50, 150, 555 minutes
    assert o.median_resolution == minutes(100)
    assert d.p90_resolution == minutes(555)
    # accept waits on D2: c 30, d 495, e 5, f 15, g 30, k 20, p 10
    assert o.median_accept == minutes(20)
    assert o.within_hour_share == 0.5
    assert o.rated == 3 and o.average_rating == pytest.approx(8 / 3)  # 5, 2, 1; d unrated
    assert d.low_ratings == [(n["c"], 2), (n["e"], 1)]  # m's 1 is outside Sue's scope
    assert o.open_followups == 2
    assert d.technicians == [
        TechnicianStats(
            person_id=world.ann,
            name="Ann",
            jobs_done=2,  # c, d
            median_accept=minutes(30),  # c 30, d 495, g 30, k 20
            median_resolution=minutes(297.5),  # 40, 555
            average_rating=2.0,
            rated_jobs=1,
            rework_rate=0.0,
            overdue=2,  # d finished past its target, g is past it now
        ),
        TechnicianStats(
            person_id=world.tom,
            name="Tom",
            jobs_done=2,  # b, e
            median_accept=minutes(10),  # e 5, f 15, p 10
            median_resolution=minutes(100),  # 150, 50
            average_rating=3.0,  # 5, 1
            rated_jobs=2,
            rework_rate=0.0,
            overdue=1,  # j's promise passed
        ),
    ]
    expected = {day: DayPoint(day, 0, 0, None) for day in (D2 - timedelta(k) for k in range(14))}
    expected[date(2026, 3, 5)] = DayPoint(date(2026, 3, 5), 1, 1, 60.0)
    expected[D1] = DayPoint(D1, 4, 0, None)  # r j b d
    expected[D2] = DayPoint(D2, 8, 4, 100.0)
    assert d.series == [expected[day] for day in sorted(expected)]
    assert d.series[0].day == date(2026, 2, 25) and d.series[-1].day == D2

    # What Sue reads (one scenario build serves the three checks: it is the slow part).
    text = render_text(d, Texts("en", "Asia/Shanghai"))
    lines = text.splitlines()
    assert lines[0] == "🗓 Daily digest for 2026-03-10"
    assert lines[1] == "Received 8 · completed 4 · cancelled 1"
    assert f"⚠️ Overdue (3): {', '.join(sorted([n['g'], n['i'], n['j']]))}" in lines
    assert f"📅 Promised in the next 3 days (1): {n['f']} (03-12)" in lines
    assert "⭐ Average 2.7★ from 3 ratings" in lines
    assert f"  ↘️ {n['c']}: ★★☆☆☆" in lines and f"  ↘️ {n['e']}: ★☆☆☆☆" in lines
    assert n["m"] not in text

    # Sid oversees E2公寓 only: his digest is m alone.
    d = await digest.digest_figures(world.store.uow(), viewer_id=world.sid, day=D2, zone=ZONE)
    o = d.office
    assert (o.reported, o.completed, d.cancelled, o.open_now) == (1, 1, 0, 0)
    assert (d.backlog, d.overdue, d.due_soon) == ({}, [], [])
    assert (o.median_resolution, d.p90_resolution, o.median_accept) == (
        minutes(30),
        minutes(30),
        minutes(5),
    )
    assert d.low_ratings == [(n["m"], 1)]
    assert [(t.name, t.jobs_done) for t in d.technicians] == [("Bob", 1)]
    assert [(p.received, p.completed) for p in d.series if p.received or p.completed] == [(1, 1)]


# --- who is due, claiming -----------------------------------------------------------------


async def _supervisors(store: Store) -> tuple[Clock, int, int]:
    """Sue (campus time) and Lou (his own zone, Europe/London); the clock at 07:59 UTC."""
    clock = Clock(datetime(2026, 3, 10, 7, 59, tzinfo=UTC))  # Shanghai 15:59, London 07:59
    store.clock = clock
    places = await make_places(store)
    e1 = places.building("E1公寓").id
    sue = (await make_person(store, Role.SUPERVISOR, name="Sue", buildings=[e1])).id
    lou = (await make_person(store, Role.SUPERVISOR, name="Lou", buildings=[e1])).id
    await make_person(store, Role.TECHNICIAN, name="Tom", buildings=[e1])  # never due
    async with store.uow() as uow:
        await uow.session.execute(
            update(Person).where(col(Person.id) == lou).values(timezone="Europe/London")
        )
        await uow.commit()
    return clock, sue, lou


async def due(store: Store) -> set[tuple[int, date, str]]:
    return set(await digest.supervisors_due(store.uow(), at=EIGHT, default_zone="Asia/Shanghai"))


async def test_claiming_a_digest_is_once_per_day(store: Store) -> None:
    clock, sue, _ = await _supervisors(store)
    assert await digest.claim_digest(store.uow(), sue, D2) is True
    assert await digest.claim_digest(store.uow(), sue, D2) is False  # a second tick, a restart
    clock.advance(minutes=9)
    assert await digest.claim_digest(store.uow(), sue, D2) is False  # still being sent
    clock.advance(minutes=2)  # 11 minutes: the send died; someone may take it over
    assert await digest.claim_digest(store.uow(), sue, D2) is True
    assert await digest.claim_digest(store.uow(), sue, D2) is False
    await digest.mark_digest_sent(store.uow(), sue, D2)
    clock.advance(hours=5)
    assert await digest.claim_digest(store.uow(), sue, D2) is False  # sent is sent
    assert await digest.claim_digest(store.uow(), sue, D3) is True  # tomorrow is another day


async def test_supervisors_due_follow_their_local_digest_time(store: Store) -> None:
    clock, sue, lou = await _supervisors(store)
    shanghai, london = "Asia/Shanghai", "Europe/London"
    assert await due(store) == {(sue, D2, shanghai)}  # 15:59 in Shanghai, 07:59 in London
    clock.advance(minutes=1)
    assert await due(store) == {(sue, D2, shanghai), (lou, D2, london)}

    assert await digest.claim_digest(store.uow(), sue, D2)
    assert await due(store) == {(lou, D2, london)}  # a fresh claim is being sent
    clock.advance(minutes=11)
    assert await due(store) == {(sue, D2, shanghai), (lou, D2, london)}  # stale: retry
    assert await digest.claim_digest(store.uow(), sue, D2)
    await digest.mark_digest_sent(store.uow(), sue, D2)
    assert await digest.claim_digest(store.uow(), lou, D2)
    await digest.mark_digest_sent(store.uow(), lou, D2)
    clock.advance(minutes=30)
    assert await due(store) == set()  # sent today: not again, however often asked

    clock.now = datetime(2026, 3, 10, 23, 59, tzinfo=UTC)  # Shanghai 03-11 07:59
    assert await due(store) == set()
    clock.advance(minutes=1)  # Shanghai 08:00 on 03-11; London only midnight
    assert await due(store) == {(sue, D3, shanghai)}
    clock.now = datetime(2026, 3, 11, 8, 0, tzinfo=UTC)  # London 08:00 on 03-11
    assert await due(store) == {(sue, D3, shanghai), (lou, D3, london)}


async def test_the_first_ticket_day_is_local(store: Store) -> None:
    assert await digest.first_ticket_day(store.uow(), ZONE) is None  # no ticket yet
    world = await build(store)
    # Ticket a, filed 03-05 10:00 in Shanghai: 02:00 UTC, still 03-04 in Los Angeles.
    assert await digest.first_ticket_day(world.store.uow(), ZONE) == date(2026, 3, 5)
    los_angeles = ZoneInfo("America/Los_Angeles")
    assert await digest.first_ticket_day(world.store.uow(), los_angeles) == date(2026, 3, 4)
