"""Supervisors' follow-ups: complaints, low ratings, who hears, and resolving them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store.errors import InvalidInput, NotFound, NotPermitted, TransitionNotAllowed
from store.lifecycle import Role, Status
from store.repair import dispatch, followups, requester, sla, work
from store.uow import Store
from tests.support.rows import (
    events_of,
    followups_of,
    last_outbox_id,
    notices,
    outbox_rows,
    snapshot,
    ticket_row,
)
from tests.support.scheduled import run_check
from tests.support.world import (
    Env,
    file_ticket,
    make_env,
    make_person,
    set_building_supervisor,
    set_on_duty,
)


async def _completed(env: Env, room: int | None = None) -> int:
    st, w = env.store, env.world
    t = (await file_ticket(st, w, room=room)).ticket.id
    await dispatch.accept(st.uow(), t, w.tom)
    await work.start(st.uow(), t, w.tom)
    await work.complete(st.uow(), t, w.tom)
    return t


async def test_complaint_goes_to_the_buildings_supervisor_first(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    sue = (await make_person(st, Role.SUPERVISOR, name="Sue", buildings=[w.building_a])).id
    await set_building_supervisor(st, w.building_a, sue)
    t = (await file_ticket(st, w)).ticket.id
    mark = await last_outbox_id(st)

    number = await requester.complain(st.uow(), t, w.requester, "  Nobody came for hours ")
    assert number == "F2031-00001"
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == [("followup.new", sue)]  # not Sam, who covers all of North
    payload = rows[0].payload
    assert (payload["followup"], payload["kind"], payload["text"]) == (
        number,
        "complaint",
        "Nobody came for hours",
    )
    [followup] = await followups_of(st, t)
    assert (followup.number, followup.kind, followup.supervisor_id, followup.raised_by_id) == (
        number,
        "complaint",
        sue,
        w.requester,
    )
    assert followup.resolved_at is None
    assert (await events_of(st, t))[-1].action == "followup_complaint"
    assert (await ticket_row(st, t)).status == Status.DISPATCHING  # a complaint moves nothing

    assert await requester.complain(st.uow(), t, w.requester, "Still nobody") == "F2031-00002"


async def test_the_same_complaint_sent_twice_opens_one_followup(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket.id
    first = await requester.complain(st.uow(), t, w.requester, "Nobody came")
    mark = await last_outbox_id(st)
    # A resend after a timeout (same words, spacing aside) gets the same number, and the
    # supervisor hears once.
    assert await requester.complain(st.uow(), t, w.requester, " Nobody came ") == first
    assert await outbox_rows(st, after=mark) == []
    [opened] = await followups_of(st, t)
    assert opened.number == first
    # Once it is resolved, the same words are a new complaint.
    assert opened.id is not None
    await followups.resolve(st.uow(), opened.id, w.sam, "Spoke to the technician")
    again = await requester.complain(st.uow(), t, w.requester, "Nobody came")
    assert again != first


async def test_complaint_falls_back_to_covering_supervisors_then_admins(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    north = (await file_ticket(st, w)).ticket.id
    south = (await file_ticket(st, w, room=w.room_c1)).ticket.id  # no supervisor in South
    mark = await last_outbox_id(st)
    await requester.complain(st.uow(), north, w.requester, "slow")
    await requester.complain(st.uow(), south, w.requester, "slow")
    rows = await outbox_rows(st, after=mark)
    assert [(r.ticket_id, r.recipient_id) for r in rows] == [(north, w.sam), (south, w.ada)]


async def test_bad_complaints_change_nothing(store: Store) -> None:
    env = await make_env(store, comment_max=100)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket.id
    gone = (await file_ticket(st, w)).ticket.id
    await requester.cancel(st.uow(), gone, w.requester)
    before = await snapshot(st)
    with pytest.raises(InvalidInput):
        await requester.complain(st.uow(), t, w.requester, "   ")
    with pytest.raises(InvalidInput):
        await requester.complain(st.uow(), t, w.requester, "x" * 101)
    with pytest.raises(NotFound):
        await requester.complain(st.uow(), t, w.stranger, "I live next door")
    with pytest.raises(NotPermitted):
        await requester.complain(st.uow(), t, w.dana, "complaining for someone")
    with pytest.raises(TransitionNotAllowed):
        await requester.complain(st.uow(), gone, w.requester, "why cancelled?")
    assert await snapshot(st) == before


async def test_only_ratings_at_or_below_the_threshold_open_a_follow_up(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    opened: dict[int, str | None] = {}
    for stars in (1, 2, 3, 4, 5):
        t = await _completed(env)
        mark = await last_outbox_id(st)
        result = await requester.confirm_and_rate(st.uow(), t, w.requester, stars)
        opened[stars] = result.followup_number
        rows = await outbox_rows(st, after=mark)
        found = await followups_of(st, t)
        if stars <= 2:
            assert notices(rows) == sorted([("job.rated", w.tom), ("followup.new", w.sam)])
            new = next(r for r in rows if r.kind == "followup.new").payload
            assert (new["kind"], new["rating"], new["technician_id"]) == (
                "low_rating",
                stars,
                w.tom,
            )
            assert [(f.kind, f.number) for f in found] == [("low_rating", result.followup_number)]
        else:
            assert notices(rows) == [("job.rated", w.tom)]
            assert found == []
    assert opened == {1: "F2031-00001", 2: "F2031-00002", 3: None, 4: None, 5: None}


async def test_a_comment_after_a_low_rating_fills_the_follow_up(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = await _completed(env)
    await requester.confirm_and_rate(st.uow(), t, w.requester, 1)
    view = await requester.comment_rating(st.uow(), t, w.requester, "Water everywhere")
    assert view.rating_comment == "Water everywhere"
    [followup] = await followups_of(st, t)
    assert followup.text == "Water everywhere"


async def test_unrated_tickets_open_no_follow_up_and_take_no_comment(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    t = await _completed(env)
    clock.advance(env.store.policy.auto_close_after * 2)
    assert len(await run_check(st, sla.auto_close_batch)) == 1
    assert (await ticket_row(st, t)).rating is None
    assert await followups_of(st, t) == []
    assert await followups.open_followups(st.uow(), w.sam) == []
    before = await snapshot(st)
    with pytest.raises(TransitionNotAllowed):
        await requester.comment_rating(st.uow(), t, w.requester, "late comment")
    with pytest.raises(TransitionNotAllowed):
        await requester.confirm_and_rate(st.uow(), t, w.requester, 5)
    assert await snapshot(st) == before


async def test_resolving_a_follow_up(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    sol = (await make_person(st, Role.SUPERVISOR, name="Sol", campus_id=w.south)).id
    t = await _completed(env)
    await set_on_duty(st, [w.tom], False)
    await requester.confirm_and_rate(st.uow(), t, w.requester, 2, "Left a mess")
    env.clock.advance(timedelta(minutes=1))
    complaint = await requester.complain(st.uow(), t, w.requester, "And was rude")
    listed = await followups.open_followups(st.uow(), w.sam)
    assert [(f.number, f.kind, f.text, f.rating) for f in listed] == [
        ("F2031-00001", "low_rating", "Left a mess", 2),
        (complaint, "complaint", "And was rude", 2),
    ]
    assert await followups.open_followups(st.uow(), sol) == []
    first = listed[0]

    before = await snapshot(st)
    with pytest.raises(InvalidInput):
        await followups.resolve(st.uow(), first.id, w.sam, "   ")
    for outsider in (sol, w.tom, w.requester):
        with pytest.raises(NotPermitted):
            await followups.resolve(st.uow(), first.id, outsider, "done")
    assert await snapshot(st) == before

    env.clock.advance(env.store.policy.urge_cooldown)
    mark = await last_outbox_id(st)
    await followups.resolve(st.uow(), first.id, w.sam, "Talked to Tom; cleaned up")
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == [("followup.resolved", w.requester)]
    assert (rows[0].payload["followup"], rows[0].payload["resolution"]) == (
        "F2031-00001",
        "Talked to Tom; cleaned up",
    )
    resolved = (await followups_of(st, t))[0]
    assert (resolved.resolved_at, resolved.resolved_by_id, resolved.resolution) == (
        env.clock.now,
        w.sam,
        "Talked to Tom; cleaned up",
    )
    events = await events_of(st, t)
    assert (events[-1].action, events[-1].actor_id, events[-1].note) == (
        "followup_resolved",
        w.sam,
        "Talked to Tom; cleaned up",
    )
    assert [f.number for f in await followups.open_followups(st.uow(), w.sam)] == [complaint]

    before = await snapshot(st)
    with pytest.raises(TransitionNotAllowed):
        await followups.resolve(st.uow(), first.id, w.sam, "again")
    assert await snapshot(st) == before
    # an admin may resolve anywhere
    await followups.resolve(st.uow(), listed[1].id, w.ada, "Apologised")
    assert await followups.open_followups(st.uow(), w.sam) == []
