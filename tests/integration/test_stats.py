"""Supervisor statistics and the export, read from the scenario of
tests/support/stats_scenario.py (its table says what each ticket went through)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store.directory import places
from store.domain.filing import NewTicket
from store.errors import InvalidInput, NotPermitted, OwnTicket
from store.intake.report import report
from store.lifecycle import Status
from store.repair import dispatch, requester, work
from store.reporting import figures
from store.reporting.export import export_rows
from store.reporting.figures import OfficeStats, TechnicianStats, office_stats, technician_stats
from store.uow import Store
from tests.support.stats_scenario import END, PERIOD, T0, Scenario, build, minutes


@pytest.fixture
async def world(store: Store) -> Scenario:
    return await build(store)


async def test_office_figures_for_a_building_supervisor(world: Scenario) -> None:
    s = await office_stats(world.store.uow(), viewer_id=world.sup_e1, **PERIOD)
    assert s == OfficeStats(
        period_start=PERIOD["start"],
        period_end=PERIOD["end"],
        reported=8,  # t7 is in E2, out of Sue's scope
        completed=4,
        open_now=3,  # t5, t6, t9
        median_accept=minutes(10),  # 10, 10, 10, 10, 20, 30 (t4 counts from its reopening)
        median_resolution=minutes(130),  # 50, 80, 180, 305
        within_hour_share=0.25,  # only t1
        average_rating=11 / 3,  # 5, 2, 4: unrated t3 adds nothing
        rated=3,
        low_ratings=1,
        open_followups=1,  # t2's low rating; t7's is in E2
        by_category={"water": 7, "electrical": 1},
        by_status={
            Status.CLOSED: 4,
            Status.IN_PROGRESS: 1,
            Status.DEFERRED: 1,
            Status.CANCELLED: 1,
            Status.DISPATCHING: 1,
        },
    )


async def test_scope_decides_which_tickets_count(world: Scenario) -> None:
    e2 = await office_stats(world.store.uow(), viewer_id=world.sup_e2, **PERIOD)
    assert (e2.reported, e2.completed, e2.open_now, e2.open_followups) == (1, 1, 0, 1)
    assert (e2.within_hour_share, e2.average_rating, e2.low_ratings) == (1.0, 1.0, 1)
    assert e2.median_accept == minutes(5) and e2.by_category == {"water": 1}
    everything = await office_stats(world.store.uow(), viewer_id=world.ada, **PERIOD)
    campus = await office_stats(world.store.uow(), viewer_id=world.dana, **PERIOD)
    assert everything == campus  # E1 and E2 are both in the dispatcher's campus
    assert (everything.reported, everything.completed, everything.rated) == (9, 5, 4)
    assert everything.within_hour_share == pytest.approx(2 / 5)
    assert everything.average_rating == pytest.approx(3.0)
    assert (everything.low_ratings, everything.open_followups) == (2, 2)


async def test_open_follow_ups_are_counted_to_a_cap_and_shown_as_more(
    world: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pile of follow-ups is counted only up to the cap: /stats says "1+" here, as the
    # board does, instead of walking every open follow-up of years.
    monkeypatch.setattr(figures, "FOLLOWUP_CAP", 1)
    capped = await office_stats(world.store.uow(), viewer_id=world.ada, **PERIOD)
    assert capped.open_followups == 2 and figures.capped(capped.open_followups) == "1+"
    e2 = await office_stats(world.store.uow(), viewer_id=world.sup_e2, **PERIOD)
    assert figures.capped(e2.open_followups) == "1"


async def test_period_limits_what_is_counted(world: Scenario) -> None:
    s = await office_stats(
        world.store.uow(), viewer_id=world.ada, start=T0 + minutes(60), end=T0 + minutes(300)
    )
    assert (s.reported, s.by_category) == (2, {"electrical": 1, "water": 1})  # t2, t3
    assert (s.completed, s.median_resolution, s.within_hour_share) == (1, minutes(180), 0.0)
    assert s.median_accept == minutes(25)  # t2 (20) and t3 (30) were accepted in the window
    assert s.open_now == 3  # "open now" ignores the period
    empty = await office_stats(
        world.store.uow(), viewer_id=world.ada, start=T0 - timedelta(days=30), end=T0
    )
    assert (empty.reported, empty.completed, empty.median_accept) == (0, 0, None)
    assert (empty.within_hour_share, empty.average_rating, empty.by_status) == (None, None, {})
    with pytest.raises(InvalidInput):
        await office_stats(world.store.uow(), viewer_id=world.ada, start=T0, end=T0)


async def test_technician_figures(world: Scenario) -> None:
    stats = await technician_stats(world.store.uow(), viewer_id=world.sup_e1, **PERIOD)
    assert stats == [
        TechnicianStats(
            person_id=world.ann,
            name="Ann",
            jobs_done=2,  # t3, t4
            median_accept=minutes(10),  # 10 (t6), 30 (t3), 10 (t4, from its reopening)
            median_resolution=minutes(192.5),  # 80, 305
            average_rating=4.0,  # t4 only: t3 closed unrated and must not count as good
            rated_jobs=1,
            rework_rate=0.5,  # t4 was reopened
            overdue=2,  # t3 finished past due, t6 missed its promised date
        ),
        TechnicianStats(
            person_id=world.tom,
            name="Tom",
            jobs_done=2,  # t1, t2
            median_accept=minutes(10),  # 10, 10, 20
            median_resolution=minutes(115),  # 50, 180
            average_rating=3.5,
            rated_jobs=2,
            rework_rate=0.0,
            overdue=1,  # t5 in progress past due
        ),
    ]
    everyone = await technician_stats(world.store.uow(), viewer_id=world.ada, **PERIOD)
    assert [t.name for t in everyone] == ["Ann", "Tom", "Bob"]
    bob = everyone[2]
    assert (bob.jobs_done, bob.median_accept, bob.average_rating, bob.overdue) == (
        1,
        minutes(5),
        1.0,
        0,
    )
    e2 = await technician_stats(world.store.uow(), viewer_id=world.sup_e2, **PERIOD)
    assert [t.person_id for t in e2] == [world.bob]


async def test_a_technicians_own_report_is_not_theirs_to_take_or_to_rate(
    world: Scenario,
) -> None:
    st, clock = world.store, world.clock
    place = await places.room_by_code(st.uow(), "E1-102")
    assert place is not None
    before = {
        t.person_id: t for t in await technician_stats(st.uow(), viewer_id=world.sup_e1, **PERIOD)
    }
    office_before = await office_stats(st.uow(), viewer_id=world.sup_e1, **PERIOD)
    filed = await report(st.uow(), NewTicket(world.tom, place.room_id, "water", "My own tap"))
    # Offered to Ann, not to Tom who reported it; his forged or pooled Accept is refused.
    assert filed.offered_to == [world.ann]
    with pytest.raises(OwnTicket):
        await dispatch.accept(st.uow(), filed.ticket.id, world.tom)
    # A dispatcher may still give it to him on purpose; he fixes it and rates it 5.
    await dispatch.assign(st.uow(), filed.ticket.id, world.dana, world.tom)
    await work.start(st.uow(), filed.ticket.id, world.tom)
    clock.advance(minutes=30)
    await work.complete(st.uow(), filed.ticket.id, world.tom)
    await requester.confirm_and_rate(st.uow(), filed.ticket.id, world.tom, 5)
    after = {
        t.person_id: t for t in await technician_stats(st.uow(), viewer_id=world.sup_e1, **PERIOD)
    }
    tom, was = after[world.tom], before[world.tom]
    assert tom.jobs_done == was.jobs_done + 1  # the work counts
    assert (tom.rated_jobs, tom.average_rating) == (was.rated_jobs, was.average_rating) == (2, 3.5)
    office = await office_stats(st.uow(), viewer_id=world.sup_e1, **PERIOD)
    assert office.completed == office_before.completed + 1
    assert (office.rated, office.average_rating) == (
        office_before.rated,
        office_before.average_rating,
    )


async def test_open_jobs_count_even_before_any_completion(world: Scenario) -> None:
    # An hour's window after everything: no completions, but held jobs still show.
    later = {"start": END - timedelta(hours=1), "end": END}
    stats = await technician_stats(world.store.uow(), viewer_id=world.sup_e1, **later)
    assert [(t.name, t.jobs_done, t.overdue, t.rework_rate) for t in stats] == [
        ("Ann", 0, 1, None),
        ("Tom", 0, 1, None),
    ]


async def test_export_rows_cover_the_viewers_tickets(world: Scenario) -> None:
    rows = await export_rows(world.store.uow(), viewer_id=world.sup_e1, **PERIOD)
    n = world.numbers
    assert [r.number for r in rows] == [
        n[k] for k in ("t1", "t2", "t3", "t4", "t5", "t6", "t8", "t9")
    ]
    by = {r.number: r for r in rows}
    t1 = by[n["t1"]]
    assert (t1.status, t1.campus, t1.building, t1.room_code, t1.category) == (
        "closed",
        "東校區",
        "E1公寓",
        "E1-101",
        "water",
    )
    assert (t1.created_at, t1.accepted_at, t1.completed_at, t1.closed_at) == (
        T0,
        T0 + minutes(10),
        T0 + minutes(50),
        T0 + minutes(60),
    )
    assert (t1.technician, t1.rating, t1.accept_minutes, t1.resolution_minutes) == (
        "Tom",
        5,
        10.0,
        50.0,
    )
    t3 = by[n["t3"]]
    assert (t3.rating, t3.closed_at, t3.resolution_minutes) == (None, END, 305.0)
    t4 = by[n["t4"]]
    assert (t4.rework_count, t4.rating, t4.accept_minutes) == (1, 4, 10.0)  # since reopening
    t6 = by[n["t6"]]
    assert (t6.status, t6.defer_reason) == ("deferred", "parts on order")
    assert t6.promised_at == T0 + minutes(510) + timedelta(days=1)
    t9 = by[n["t9"]]
    assert (t9.status, t9.technician, t9.accept_minutes, t9.resolution_minutes) == (
        "dispatching",
        None,
        None,
        None,
    )
    assert all(r.created_at.tzinfo is not None for r in rows)
    assert [
        r.number for r in await export_rows(world.store.uow(), viewer_id=world.sup_e2, **PERIOD)
    ] == [n["t7"]]


@pytest.mark.parametrize("who", ["rita", "tom"])
async def test_people_without_an_overseeing_role_are_refused(world: Scenario, who: str) -> None:
    viewer = getattr(world, who)
    for fn in (office_stats, technician_stats, export_rows):
        with pytest.raises(NotPermitted):
            await fn(world.store.uow(), viewer_id=viewer, **PERIOD)
