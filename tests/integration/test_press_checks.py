"""The checks a flow asks before it parks a question about a ticket (store.repair.work,
store.repair.dispatch): a press is refused at once, as the action itself would refuse it."""

from __future__ import annotations

import pytest

from store.errors import NotFound, NotPermitted, TransitionNotAllowed
from store.lifecycle import Action, Status
from store.repair import dispatch, work
from store.uow import Store
from tests.support.world import file_ticket, make_env


async def test_a_job_press_is_checked_as_the_technicians_action_would_be(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket.id
    await dispatch.assign(st.uow(), t, w.dana, w.ann)

    await work.check_own_job(st.uow(), t, w.ann, None)  # a visit time, while assigned
    await work.check_own_job(st.uow(), t, w.ann, Action.RELEASE)
    with pytest.raises(TransitionNotAllowed):  # not started yet
        await work.check_own_job(st.uow(), t, w.ann, Action.COMPLETE)
    with pytest.raises(NotPermitted):  # a colleague who may see it, not its holder
        await work.check_own_job(st.uow(), t, w.tom, Action.RELEASE)
    with pytest.raises(NotFound):  # a stranger learns nothing about it
        await work.check_own_job(st.uow(), t, w.stranger, None)

    await work.start(st.uow(), t, w.ann)
    await work.check_own_job(st.uow(), t, w.ann, Action.DEFER)
    with pytest.raises(TransitionNotAllowed):  # a visit is agreed before work starts
        await work.check_own_job(st.uow(), t, w.ann, None)

    assert (await work.held_job(st.uow(), t, w.ann)).status is Status.IN_PROGRESS
    with pytest.raises(NotPermitted):
        await work.held_job(st.uow(), t, w.tom)


async def test_a_dispatchers_press_is_checked_against_scope_and_state(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket.id

    view = await dispatch.ticket_in_scope(st.uow(), t, w.dana)
    assert view.id == t and view.status is Status.DISPATCHING
    await dispatch.ticket_in_scope(st.uow(), t, w.dana, Action.ASSIGN, Action.REASSIGN)
    with pytest.raises(TransitionNotAllowed):  # nobody holds it yet
        await dispatch.ticket_in_scope(st.uow(), t, w.dana, Action.REASSIGN)
    with pytest.raises(NotPermitted):  # its requester sees it, but does not dispatch
        await dispatch.ticket_in_scope(st.uow(), t, w.requester)

    await dispatch.assign(st.uow(), t, w.dana, w.ann)
    await dispatch.ticket_in_scope(st.uow(), t, w.dana, Action.ASSIGN, Action.REASSIGN)
    await work.start(st.uow(), t, w.ann)
    with pytest.raises(TransitionNotAllowed):  # work has started: no cancelling now
        await dispatch.ticket_in_scope(st.uow(), t, w.dana, Action.CANCEL)
    await dispatch.ticket_in_scope(st.uow(), t, w.dana)  # still opens
