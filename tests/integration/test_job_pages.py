"""A technician's jobs a page at a time by keyset, on both engines: the most urgent
first, then by lifecycle, then oldest (ties on the clock broken by id); pages forward and
back join up to the whole list; a cursor that is not one of their live jobs restarts."""

from __future__ import annotations

from datetime import timedelta

from store.domain.filing import Urgency
from store.repair import dispatch, queries, work
from store.uow import Store
from tests.support.world import file_ticket, make_env


async def test_pages_join_up_to_the_whole_list_in_urgency_order(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    urgencies = [Urgency.NORMAL, Urgency.EMERGENCY, Urgency.URGENT] * 4
    ids = []
    for i, urgency in enumerate(urgencies):
        t = (await file_ticket(st, w, urgency=urgency)).ticket
        await dispatch.accept(st.uow(), t.id, w.tom)
        if i % 4 == 0:
            await work.start(st.uow(), t.id, w.tom)
        ids.append(t.id)
        if i % 2:  # half the tickets share their filing time with the one before
            clock.advance(timedelta(minutes=1))
    other = (await file_ticket(st, w, urgency=Urgency.EMERGENCY)).ticket.id
    await dispatch.accept(st.uow(), other, w.ann)

    whole = [v.id for v in await queries.technician_jobs(st.uow(), w.tom)]
    assert sorted(whole) == sorted(ids)
    rank = {"emergency": 0, "urgent": 1, "normal": 2}
    views = {v.id: v for v in await queries.technician_jobs(st.uow(), w.tom)}
    assert [rank[views[i].urgency] for i in whole] == sorted(rank[views[i].urgency] for i in whole)

    first = await queries.technician_job_page(st.uow(), w.tom, limit=5)
    assert ([v.id for v in first.items], first.total, first.capped) == (whole[:5], 12, False)
    assert (first.has_newer, first.has_older, first.restarted) == (False, True, False)
    forward, page = [v.id for v in first.items], first
    while page.has_older:
        page = await queries.technician_job_page(st.uow(), w.tom, after=page.items[-1].id, limit=5)
        forward += [v.id for v in page.items]
    assert forward == whole and len(page.items) == 2 and page.has_newer
    backward = [v.id for v in page.items]
    while page.has_newer:
        page = await queries.technician_job_page(st.uow(), w.tom, before=page.items[0].id, limit=5)
        backward = [v.id for v in page.items] + backward
    assert backward == whole and not page.restarted

    # Ann's job, no ticket at all, an id beyond the column: the first page, flagged.
    for cursor in ({"after": other}, {"before": 10**6}, {"after": 2**40}):
        again = await queries.technician_job_page(st.uow(), w.tom, limit=5, **cursor)
        assert [v.id for v in again.items] == whole[:5] and again.restarted, cursor
