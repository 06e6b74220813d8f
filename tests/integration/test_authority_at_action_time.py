"""Authority is read when someone acts, not from who a row was routed to."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update
from sqlmodel import col

from store.errors import NotFound, NotPermitted
from store.lifecycle import Role, Status
from store.models import RoleGrant
from store.repair import dispatch, followups, requester, work
from store.uow import Store
from tests.support.rows import followups_of, last_outbox_id, notices, outbox_rows, ticket_row
from tests.support.world import Env, file_ticket, make_env, make_person, set_building_supervisor


async def _complaint(env: Env) -> tuple[int, int]:
    """Sue supervises Building A (named on it); a complaint there is routed to her."""
    st, w = env.store, env.world
    sue = (await make_person(st, Role.SUPERVISOR, name="Sue", buildings=[w.building_a])).id
    await set_building_supervisor(st, w.building_a, sue)
    t = (await file_ticket(st, w)).ticket.id
    await requester.complain(st.uow(), t, w.requester, "Nobody came")
    [followup] = await followups_of(st, t)
    assert followup.supervisor_id == sue
    return sue, followup.id or 0


async def test_a_removed_supervisor_loses_the_follow_ups_routed_to_them(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    sue, followup_id = await _complaint(env)
    assert [f.id for f in await followups.open_followups(st.uow(), sue)] == [followup_id]
    async with st.uow() as uow:
        await uow.session.execute(delete(RoleGrant).where(col(RoleGrant.person_id) == sue))
        await uow.commit()

    assert await followups.open_followups(st.uow(), sue) == []
    mark = await last_outbox_id(st)
    with pytest.raises(NotPermitted):
        await followups.resolve(st.uow(), followup_id, sue, "Sorted, trust me")
    assert await outbox_rows(st, after=mark) == []  # the requester hears nothing from her
    # Sam supervises all of North, Building A included: the follow-up is his now.
    assert [f.id for f in await followups.open_followups(st.uow(), w.sam)] == [followup_id]
    await followups.resolve(st.uow(), followup_id, w.sam, "Called the requester")
    assert notices(await outbox_rows(st, after=mark)) == [("followup.resolved", w.requester)]


async def test_a_supervisor_moved_to_another_campus_hands_over(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    sue, followup_id = await _complaint(env)
    async with st.uow() as uow:
        await uow.session.execute(
            update(RoleGrant)
            .where(col(RoleGrant.person_id) == sue)
            .values(building_id=None, campus_id=w.south)
        )
        await uow.commit()
    assert await followups.open_followups(st.uow(), sue) == []
    with pytest.raises(NotPermitted):
        await followups.resolve(st.uow(), followup_id, sue, "Done")
    assert [f.id for f in await followups.open_followups(st.uow(), w.sam)] == [followup_id]

    # New follow-ups skip her too, though the building still names her.
    t = (await file_ticket(st, w)).ticket.id
    mark = await last_outbox_id(st)
    await requester.complain(st.uow(), t, w.requester, "Still dripping")
    assert notices(await outbox_rows(st, after=mark)) == [("followup.new", w.sam)]


async def test_a_technician_moved_away_no_longer_works_the_job_they_hold(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket.id
    await dispatch.accept(st.uow(), t, w.tom)
    async with st.uow() as uow:  # Tom now works on the South campus only
        await uow.session.execute(
            update(RoleGrant).where(col(RoleGrant.person_id) == w.tom).values(campus_id=w.south)
        )
        await uow.commit()
    mark = await last_outbox_id(st)
    # He stands in no relation to the job now: the same answer as for a missing ticket.
    with pytest.raises(NotFound):
        await work.start(st.uow(), t, w.tom)
    with pytest.raises(NotFound):
        await dispatch.release(st.uow(), t, w.tom, "Not mine any more")
    assert await outbox_rows(st, after=mark) == []
    row = await ticket_row(st, t)
    assert (row.status, row.assignee_id) == (Status.ASSIGNED, w.tom)
    # The dispatcher moves it on; Tom is told he no longer has it.
    await dispatch.assign(st.uow(), t, w.dana, w.ann, replacing=w.tom)
    assert ("job.unassigned", w.tom) in notices(await outbox_rows(st, after=mark))
