"""Sweep campaigns against a real database (SQLite and PostgreSQL): rooms shared between
inspectors, resume, faults filed as tickets the residents follow, "nobody home" notices,
the closing report, and repeating campaigns."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete
from sqlmodel import col, select

from store.directory.profiles import set_room
from store.domain.sweeps import CLAIMED
from store.errors import (
    InvalidInput,
    NoTermDates,
    NotFound,
    NotPermitted,
    TransitionNotAllowed,
)
from store.intake import campaigns, sweep
from store.lifecycle import Role, Status
from store.models import (
    Category,
    RoleGrant,
    SweepCampaign,
    SweepRoom,
    Ticket,
    TicketFollower,
    TicketPhoto,
)
from store.repair import dispatch
from store.uow import Store
from tests.support.rows import outbox_rows, ticket_by_number
from tests.support.world import (
    E1,
    E2,
    Clock,
    Places,
    person_in,
    set_building_supervisor,
    small_campus,
)

# E1公寓's rooms in walking order: floor 1, 2, then 10 (natural sort).
E1_ROOMS = ["E1-101", "E1-102", "E1-201", "E1-1001"]


@dataclass(frozen=True)
class World:
    store: Store
    clock: Clock
    places: Places
    e1: int
    sue: int  # E1's named supervisor
    sid: int  # another supervisor covering E1
    ivan: int  # inspectors of E1
    iris: int
    eve: int  # inspector of E2 only
    tom: int  # technician of E1, on duty
    pat: int  # a plain requester
    rita: int  # residents of E1-101 on Telegram
    rob: int
    nora: int  # resident of E1-101 without Telegram (a booth walk-up)

    def room(self, code: str) -> int:
        return self.places.room(code).room_id


async def make_world(store: Store) -> World:
    clock, places = await small_campus(store)
    e1, e2 = places.building(E1).id, places.building(E2).id
    room = places.room("E1-101").room_id
    async with store.uow() as uow:  # people in one go: ~12 people, one transaction
        people = {
            "Sue": await person_in(uow, Role.SUPERVISOR, name="Sue", buildings=[e1]),
            "Sid": await person_in(uow, Role.SUPERVISOR, name="Sid", buildings=[e1]),
            "Ivan": await person_in(uow, Role.INSPECTOR, name="Ivan", buildings=[e1]),
            "Iris": await person_in(uow, Role.INSPECTOR, name="Iris", buildings=[e1]),
            "Eve": await person_in(uow, Role.INSPECTOR, name="Eve", buildings=[e2]),
            "Tom": await person_in(uow, Role.TECHNICIAN, name="Tom", buildings=[e1], on_duty=True),
            "Pat": await person_in(uow, name="Pat"),
            "Rita": await person_in(uow, name="Rita"),
            "Rob": await person_in(uow, name="Rob"),
            # A walk-up: no Telegram.
            "Nora": await person_in(uow, name="Nora", walk_up=True, room_id=room),
        }
        ids = {name: person.id or 0 for name, person in people.items()}
        await uow.commit()
    await set_building_supervisor(store, e1, ids["Sue"])
    # Residents choose their room through the service, as /myroom does.
    await set_room(store.uow(), ids["Rita"], room)
    await set_room(store.uow(), ids["Rob"], room)
    return World(
        store,
        clock,
        places,
        e1,
        sue=ids["Sue"],
        sid=ids["Sid"],
        ivan=ids["Ivan"],
        iris=ids["Iris"],
        eve=ids["Eve"],
        tom=ids["Tom"],
        pat=ids["Pat"],
        rita=ids["Rita"],
        rob=ids["Rob"],
        nora=ids["Nora"],
    )


async def start(w: World, actor: int | None = None, **kw: Any) -> campaigns.CampaignView:
    kw.setdefault("building_id", w.e1)
    kw.setdefault("checklist", "dorm_room")
    return await campaigns.start_campaign(w.store.uow(), actor_id=actor or w.sue, **kw)


async def followers(w: World, ticket_id: int) -> set[int]:
    async with w.store.uow() as uow:
        rows = await uow.session.execute(
            select(TicketFollower.person_id).where(TicketFollower.ticket_id == ticket_id)
        )
        return set(rows.scalars())


# --- rooms, inspectors, resume ------------------------------------------------------------


async def test_two_inspectors_share_the_rooms_without_overlap(store: Store) -> None:
    w = await make_world(store)
    view = await start(w)
    assert (view.total, view.done, view.building, view.closed) == (4, 0, E1, False)

    seen: list[int] = []
    while True:
        cards = await asyncio.gather(
            sweep.next_room(store.uow(), view.id, w.ivan),
            sweep.next_room(store.uow(), view.id, w.iris),
        )
        rooms = [c.room_id for c in cards if c is not None]
        assert len(rooms) == len(set(rooms)), "two inspectors got the same room"
        assert not set(rooms) & set(seen), "a done room was handed out again"
        if not rooms:
            break
        seen.extend(rooms)
        for card, inspector in zip(cards, (w.ivan, w.iris), strict=True):
            if card is not None:
                await sweep.finish_room(
                    store.uow(), view.id, card.room_id, inspector, nobody_home=False
                )
    assert sorted(seen) == sorted(w.room(c) for c in E1_ROOMS)
    progress = await campaigns.progress(store.uow(), view.id)
    assert (progress.done, progress.total, progress.nobody_home) == (4, 4, 0)


async def test_many_concurrent_claims_never_give_a_room_to_two_inspectors(
    store: Store,
) -> None:
    w = await make_world(store)
    view = await start(w)
    inspectors = (w.ivan, w.iris) * 3  # six claims at once, each in its own unit of work
    cards = await asyncio.gather(*(sweep.next_room(store.uow(), view.id, i) for i in inspectors))
    holder: dict[int, int] = {}
    for card, who in zip(cards, inspectors, strict=True):
        if card is not None:
            assert holder.setdefault(card.room_id, who) == who, "a room went to two inspectors"
    assert {w.ivan, w.iris} <= set(holder.values())
    async with store.uow() as uow:
        rows = await uow.session.execute(
            select(SweepRoom.room_id, SweepRoom.inspector_id).where(
                SweepRoom.campaign_id == view.id, SweepRoom.state == CLAIMED
            )
        )
        assert {room: who for room, who in rows.all()} == holder


async def test_resume_returns_the_same_room_with_its_ticks(store: Store) -> None:
    w = await make_world(store)
    view = await start(w)
    first = await sweep.next_room(store.uow(), view.id, w.ivan)
    assert first is not None
    assert (first.code, first.floor, first.residents) == ("E1-101", "1", 2)  # Nora: no Telegram
    assert first.items == tuple(store.policy.checklists["dorm_room"])
    card = await sweep.mark_ok(store.uow(), view.id, first.room_id, w.ivan, "lights")
    assert card.results == {"lights": "ok"}

    # "After a restart": a new Store on the same database knows nothing in memory.
    fresh = Store(store.engine, store.policy, clock=w.clock)
    again = await sweep.next_room(fresh.uow(), view.id, w.ivan)
    assert again is not None
    assert (again.room_id, again.results) == (first.room_id, {"lights": "ok"})
    other = await sweep.next_room(fresh.uow(), view.id, w.iris)
    assert other is not None and other.code == "E1-102"
    listed = await campaigns.active_campaigns(fresh.uow(), w.ivan)
    assert [(c.id, c.done, c.total) for c in listed] == [(view.id, 0, 4)]


async def test_an_abandoned_claim_goes_to_another_inspector_after_the_timeout(
    store: Store,
) -> None:
    w = await make_world(store)
    view = await start(w, floors=["1"])
    mine = await sweep.next_room(store.uow(), view.id, w.ivan)
    assert mine is not None and mine.code == "E1-101"
    w.clock.advance(hours=1)
    theirs = await sweep.next_room(store.uow(), view.id, w.iris)
    assert theirs is not None and theirs.code == "E1-102"  # still Ivan's
    await sweep.finish_room(store.uow(), view.id, theirs.room_id, w.iris, nobody_home=False)
    w.clock.advance(seconds=sweep.CLAIM_TIMEOUT.total_seconds())
    taken = await sweep.next_room(store.uow(), view.id, w.iris)
    assert taken is not None and taken.code == "E1-101"
    with pytest.raises(TransitionNotAllowed):
        await sweep.mark_ok(store.uow(), view.id, mine.room_id, w.ivan, "lights")
    await sweep.finish_room(store.uow(), view.id, taken.room_id, w.iris, nobody_home=False)
    # A finished room is never handed out again, however old its claim.
    w.clock.advance(hours=5)
    assert await sweep.next_room(store.uow(), view.id, w.ivan) is None


async def test_floors_filter_and_refusals_when_starting(store: Store) -> None:
    w = await make_world(store)
    view = await start(w, floors=[" 10 ", "1", ""])
    assert (view.total, view.floors) == (3, ("10", "1"))
    codes = []
    while (card := await sweep.next_room(store.uow(), view.id, w.ivan)) is not None:
        codes.append(card.code)
        await sweep.finish_room(store.uow(), view.id, card.room_id, w.ivan, nobody_home=False)
    assert codes == ["E1-101", "E1-102", "E1-1001"]

    with pytest.raises(InvalidInput) as unknown_floor:
        await start(w, floors=["1", "7"])
    assert unknown_floor.value.params == {"floors": "7"}
    with pytest.raises(InvalidInput):
        await start(w, checklist="spaceship")
    with pytest.raises(InvalidInput):
        await start(w, repeat_weeks=0)
    with pytest.raises(NotFound):
        await start(w, building_id=999_999)
    async with store.uow() as uow:  # nothing half-made by the refusals
        count = len(list((await uow.session.execute(select(SweepCampaign.id))).scalars()))
    assert count == 1


async def test_only_sweepers_of_the_building_may_sweep_it(store: Store) -> None:
    w = await make_world(store)
    for outsider in (w.pat, w.tom, w.eve):  # requester, technician, inspector of E2
        with pytest.raises(NotPermitted):
            await start(w, actor=outsider)
    view = await start(w, actor=w.ivan)  # an inspector may start one too
    for outsider in (w.pat, w.tom, w.eve):
        with pytest.raises(NotPermitted):
            await sweep.next_room(store.uow(), view.id, outsider)
        with pytest.raises(NotPermitted):
            await campaigns.close_campaign(store.uow(), view.id, outsider)
        assert await campaigns.active_campaigns(store.uow(), outsider) == []
    card = await sweep.next_room(store.uow(), view.id, w.ivan)
    assert card is not None
    # A room claimed by Ivan cannot be ticked, faulted or finished by anyone else; Eve,
    # who sweeps another building, is refused for that before anything else.
    with pytest.raises(TransitionNotAllowed):
        await sweep.mark_ok(store.uow(), view.id, card.room_id, w.iris, "lights")
    with pytest.raises(NotPermitted):
        await sweep.file_fault(store.uow(), view.id, card.room_id, w.eve, "taps", "Drips")
    with pytest.raises(TransitionNotAllowed):
        await sweep.finish_room(store.uow(), view.id, card.room_id, w.iris, nobody_home=True)
    with pytest.raises(NotFound):
        await sweep.mark_ok(store.uow(), view.id, w.room("E2-101"), w.ivan, "lights")
    assert await outbox_rows(w.store, kind="sweep.nobody_home") == []

    # Ivan loses his role: his claimed card and its buttons go with it.
    async with store.uow() as uow:
        await uow.session.execute(delete(RoleGrant).where(col(RoleGrant.person_id) == w.ivan))
        await uow.commit()
    with pytest.raises(NotPermitted):
        await sweep.mark_ok(store.uow(), view.id, card.room_id, w.ivan, "lights")
    with pytest.raises(NotPermitted):
        await sweep.file_fault(store.uow(), view.id, card.room_id, w.ivan, "taps", "Drips")
    with pytest.raises(NotPermitted):
        await sweep.finish_room(store.uow(), view.id, card.room_id, w.ivan, nobody_home=False)


# --- faults --------------------------------------------------------------------------------


async def test_a_fault_files_a_ticket_the_residents_follow(store: Store) -> None:
    w = await make_world(store)
    view = await start(w)
    card = await sweep.next_room(store.uow(), view.id, w.ivan)
    assert card is not None and card.code == "E1-101"
    await sweep.mark_ok(store.uow(), view.id, card.room_id, w.ivan, "lights")

    number = await sweep.file_fault(
        store.uow(), view.id, card.room_id, w.ivan, "taps", "  The tap drips.  ", ["photo-1"]
    )
    row = await ticket_by_number(w.store, number)
    assert row.sweep_id == view.id
    assert (row.requester_id, row.filed_by_id, row.room_id) == (w.ivan, w.ivan, card.room_id)
    assert row.description == "The tap drips."
    async with store.uow() as uow:
        photos = await uow.session.execute(
            select(TicketPhoto.file_id).where(TicketPhoto.ticket_id == row.id)
        )
        assert list(photos.scalars()) == ["photo-1"]
        category = await uow.session.get(Category, row.category_id)
        assert category is not None and category.key == "water"  # taps → water
    assert await followers(w, row.id or 0) == {w.rita, w.rob}  # Nora has no Telegram

    # Everyone on the ticket hears it was received; the technician got the offer.
    received = {o.recipient_id for o in await outbox_rows(w.store, kind="ticket.received")}
    assert received == {w.ivan, w.rita, w.rob}
    assert {o.recipient_id for o in await outbox_rows(w.store, kind="offer.new")} == {w.tom}
    # ... and every later notice too.
    await dispatch.accept(store.uow(), row.id or 0, w.tom)
    assigned = {o.recipient_id for o in await outbox_rows(w.store, kind="ticket.assigned")}
    assert assigned == {w.ivan, w.rita, w.rob}

    # The same item sent again (a retry after a crash or a lost answer) is the ticket
    # already filed, not a second one; ticking it fine afterwards: refused.
    again = await sweep.file_fault(store.uow(), view.id, card.room_id, w.ivan, "taps", "Again")
    assert again == number
    assert (
        len(await outbox_rows(w.store, kind="ticket.received")) == 3
    )  # still one ticket, three people
    with pytest.raises(TransitionNotAllowed):
        await sweep.mark_ok(store.uow(), view.id, card.room_id, w.ivan, "taps")
    # An item ticked fine may still turn out faulty; unknown items and empty notes: refused.
    electrical = await sweep.file_fault(
        store.uow(), view.id, card.room_id, w.ivan, "lights", "Flickers"
    )
    with pytest.raises(InvalidInput):
        await sweep.file_fault(store.uow(), view.id, card.room_id, w.ivan, "projector", "X")
    with pytest.raises(InvalidInput):
        await sweep.mark_ok(store.uow(), view.id, card.room_id, w.ivan, "projector")
    with pytest.raises(InvalidInput):
        await sweep.file_fault(store.uow(), view.id, card.room_id, w.ivan, "hvac", "   ")
    resumed = await sweep.next_room(store.uow(), view.id, w.ivan)
    assert resumed is not None
    assert resumed.results == {"lights": electrical, "taps": number}
    progress = await campaigns.progress(store.uow(), view.id)
    assert progress.faults_by_item == {"lights": 1, "taps": 1}
    async with store.uow() as uow:
        count = (
            await uow.session.execute(select(Ticket.id).where(Ticket.sweep_id == view.id))
        ).all()
    assert len(count) == 2


async def test_nobody_home_asks_the_residents_on_telegram_only(store: Store) -> None:
    w = await make_world(store)
    view = await start(w)
    card = await sweep.next_room(store.uow(), view.id, w.ivan)
    assert card is not None and card.code == "E1-101"
    asked = await sweep.finish_room(store.uow(), view.id, card.room_id, w.ivan, nobody_home=True)
    assert asked == 2
    rows = await outbox_rows(w.store, kind="sweep.nobody_home")
    assert sorted(r.recipient_id for r in rows) == sorted([w.rita, w.rob])
    assert rows[0].payload == {
        "room_id": card.room_id,
        "room": "101",
        "room_code": "E1-101",
        "building": E1,
        "campaign_id": view.id,
    }
    # A room with no residents on file asks nobody; the room is still done.
    card = await sweep.next_room(store.uow(), view.id, w.ivan)
    assert card is not None and card.residents == 0
    assert (
        await sweep.finish_room(store.uow(), view.id, card.room_id, w.ivan, nobody_home=True) == 0
    )
    with pytest.raises(TransitionNotAllowed):  # finished rooms are finished
        await sweep.finish_room(store.uow(), view.id, card.room_id, w.ivan, nobody_home=False)
    progress = await campaigns.progress(store.uow(), view.id)
    assert (progress.done, progress.nobody_home) == (2, 2)
    assert len(await outbox_rows(w.store, kind="sweep.nobody_home")) == 2


# --- closing -------------------------------------------------------------------------------


async def test_close_reports_the_figures_to_the_buildings_supervisor(store: Store) -> None:
    w = await make_world(store)
    view = await start(w)
    uow = store.uow
    # Ivan: E1-101 with two faults; Iris: E1-102 nobody home; Ivan: E1-201 one fault;
    # E1-1001 stays with Iris, claimed but never finished.
    r101 = await sweep.next_room(uow(), view.id, w.ivan)
    r102 = await sweep.next_room(uow(), view.id, w.iris)
    assert r101 is not None and r102 is not None
    t1 = await sweep.file_fault(uow(), view.id, r101.room_id, w.ivan, "taps", "Drips")
    t2 = await sweep.file_fault(uow(), view.id, r101.room_id, w.ivan, "sockets", "Loose")
    await sweep.mark_ok(uow(), view.id, r101.room_id, w.ivan, "lights")
    await sweep.finish_room(uow(), view.id, r101.room_id, w.ivan, nobody_home=False)
    await sweep.finish_room(uow(), view.id, r102.room_id, w.iris, nobody_home=True)
    r201 = await sweep.next_room(uow(), view.id, w.ivan)
    assert r201 is not None and r201.code == "E1-201"
    t3 = await sweep.file_fault(uow(), view.id, r201.room_id, w.ivan, "taps", "No water")
    await sweep.finish_room(uow(), view.id, r201.room_id, w.ivan, nobody_home=False)
    r1001 = await sweep.next_room(uow(), view.id, w.iris)
    assert r1001 is not None and r1001.code == "E1-1001"
    await dispatch.accept(uow(), (await ticket_by_number(w.store, t1)).id or 0, w.tom)

    report = await campaigns.close_campaign(uow(), view.id, w.ivan)
    assert (report.checked, report.nobody_home, report.not_reached) == (2, 1, 1)
    assert report.faults_by_item == {"taps": 2, "sockets": 1}
    assert report.faults_by_floor == {"1": 2, "2": 1}
    assert report.tickets == sorted(
        [(t1, Status.ASSIGNED), (t2, Status.DISPATCHING), (t3, Status.DISPATCHING)]
    )
    assert report.campaign.closed and report.campaign.done == 3

    rows = await outbox_rows(w.store, kind="sweep.report")
    assert [r.recipient_id for r in rows] == [w.sue]  # the named supervisor, not Sid
    assert rows[0].payload == {
        "campaign_id": view.id,
        "building": E1,
        "total": 4,
        "checked": 2,
        "nobody_home": 1,
        "not_reached": 1,
        "faults_by_item": {"taps": 2, "sockets": 1},
        "faults_by_floor": {"1": 2, "2": 1},
        "tickets": [[n, str(s)] for n, s in report.tickets],
    }
    # Closed: no second close, no more rooms or ticks, and it leaves the open list.
    with pytest.raises(TransitionNotAllowed):
        await campaigns.close_campaign(uow(), view.id, w.sue)
    with pytest.raises(TransitionNotAllowed):
        await sweep.next_room(uow(), view.id, w.iris)
    with pytest.raises(NotFound):
        await sweep.finish_room(uow(), view.id, r1001.room_id, w.iris, nobody_home=False)
    assert await campaigns.active_campaigns(uow(), w.ivan) == []
    assert len(await outbox_rows(w.store, kind="sweep.report")) == 1


async def test_two_concurrent_closes_report_once(store: Store) -> None:
    w = await make_world(store)
    view = await start(w)
    results = await asyncio.gather(
        campaigns.close_campaign(store.uow(), view.id, w.ivan),
        campaigns.close_campaign(store.uow(), view.id, w.iris),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["SweepReport", "TransitionNotAllowed"]
    assert len(await outbox_rows(w.store, kind="sweep.report")) == 1
    ok = next(r for r in results if isinstance(r, campaigns.SweepReport))
    assert (ok.checked, ok.nobody_home, ok.not_reached, ok.tickets) == (0, 0, 4, [])


async def test_supervisors_covering_the_building_get_the_report_when_none_is_named(
    store: Store,
) -> None:
    w = await make_world(store)
    await set_building_supervisor(store, w.e1, None)
    view = await start(w, actor=w.ivan)
    await campaigns.close_campaign(store.uow(), view.id, w.ivan)
    reports = await outbox_rows(w.store, kind="sweep.report")
    assert sorted(r.recipient_id for r in reports) == [w.sue, w.sid]


# --- repeating -----------------------------------------------------------------------------


async def test_a_repeating_campaign_starts_again_once_when_due(store: Store) -> None:
    w = await make_world(store)
    view = await start(w, floors=["2"], repeat_weeks=2)
    w.clock.advance(weeks=1, days=6)
    assert await campaigns.repeat_due_campaigns(store.uow()) == []
    w.clock.advance(days=1)
    started = await asyncio.gather(
        campaigns.repeat_due_campaigns(store.uow()), campaigns.repeat_due_campaigns(store.uow())
    )
    new_ids = [cid for batch in started for cid in batch]
    assert len(new_ids) == 1 and new_ids[0] != view.id
    assert await campaigns.repeat_due_campaigns(store.uow()) == []
    again = await campaigns.progress(store.uow(), new_ids[0])
    assert (again.building_id, again.checklist, again.floors, again.total) == (
        w.e1,
        "dorm_room",
        ("2",),
        1,
    )
    async with store.uow() as uow:
        old = await uow.session.get(SweepCampaign, view.id)
        new = await uow.session.get(SweepCampaign, new_ids[0])
        assert old is not None and new is not None
        assert old.next_start_at is None
        assert (new.repeat_weeks, new.started_by_id) == (2, w.sue)
        assert (new.started_at, new.next_start_at) == (w.clock(), w.clock() + timedelta(weeks=2))
    # Two weeks later the new one repeats in turn (once).
    w.clock.advance(weeks=2)
    assert len(await campaigns.repeat_due_campaigns(store.uow())) == 1
    assert await campaigns.repeat_due_campaigns(store.uow()) == []


async def test_a_campaign_that_cannot_repeat_does_not_hold_up_the_others(store: Store) -> None:
    w = await make_world(store)
    await start(w, actor=w.ivan, floors=["1"], repeat_weeks=1)
    kept = await start(w, actor=w.iris, floors=["2"], repeat_weeks=1)
    async with store.uow() as uow:  # Ivan is no longer an inspector
        grant = (
            await uow.session.execute(select(RoleGrant).where(RoleGrant.person_id == w.ivan))
        ).scalar_one()
        await uow.session.delete(grant)
        await uow.commit()
    w.clock.advance(weeks=1)
    started = await campaigns.repeat_due_campaigns(store.uow())
    assert len(started) == 1
    again = await campaigns.progress(store.uow(), started[0])
    assert (again.floors, again.checklist) == (kept.floors, kept.checklist)
    assert await campaigns.repeat_due_campaigns(store.uow()) == []


async def test_a_campaign_repeats_at_each_term_start_until_the_terms_run_out(
    store: Store,
) -> None:
    w = await make_world(store)  # 2026-03-02 16:00 in Shanghai
    with pytest.raises(NoTermDates):  # no term dates configured: say so, start nothing
        await start(w, each_term=True)
    terms = (date(2026, 2, 23), date(2026, 9, 7), date(2027, 2, 22))
    store.policy = dataclasses.replace(store.policy, term_starts=terms)
    with pytest.raises(InvalidInput):
        await start(w, each_term=True, repeat_weeks=4)
    view = await start(w, floors=["2"], each_term=True)
    autumn = datetime(2026, 9, 6, 16, 0, tzinfo=UTC)  # 2026-09-07 00:00 in Shanghai
    assert view.next_start_at == autumn  # the spring term had already begun
    w.clock.now = autumn - timedelta(minutes=1)
    assert await campaigns.repeat_due_campaigns(store.uow()) == []
    w.clock.now = autumn
    [second] = await campaigns.repeat_due_campaigns(store.uow())
    again = await campaigns.progress(store.uow(), second)
    assert (again.floors, again.next_start_at) == (
        ("2",),
        datetime(2027, 2, 21, 16, 0, tzinfo=UTC),
    )
    assert await campaigns.repeat_due_campaigns(store.uow()) == []
    # The last known term still gets its sweep; with no date after it, repeating stops.
    w.clock.now = datetime(2027, 2, 21, 16, 0, tzinfo=UTC)
    [third] = await campaigns.repeat_due_campaigns(store.uow())
    assert (await campaigns.progress(store.uow(), third)).next_start_at is None
    w.clock.advance(weeks=60)
    assert await campaigns.repeat_due_campaigns(store.uow()) == []
