"""Read-side use cases: lists, details and timelines. They never change anything."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, case, func, tuple_, union, union_all
from sqlalchemy import select as sa_select
from sqlmodel import col

from store import roles
from store.domain import ticket_views
from store.domain.scope import tickets_in
from store.domain.targets import STALE_AFTER, target_branches, targets_between
from store.errors import NotFound
from store.lifecycle import OPEN_STATUSES, Capacity, Status
from store.models import (
    Room,
    Ticket,
    TicketFollower,
)
from store.uow import UnitOfWork
from store.views import EventView, Page, TechnicianLoad, TicketView, Window

# My tickets counts up to this many, then says "20+": a count is one short index read.
COUNT_CAP = 20


async def ticket_detail(
    uow: UnitOfWork, ticket_id: int, viewer_id: int
) -> tuple[TicketView, frozenset[Capacity]]:
    """A ticket the viewer may see, with the capacities that decide their buttons."""
    async with uow.reading():
        return await ticket_views.ticket_detail(uow, ticket_id, viewer_id)


async def timeline(uow: UnitOfWork, ticket_id: int, viewer_id: int) -> list[EventView]:
    """The ticket's whole history, oldest first, for someone allowed to see it."""
    async with uow.reading():
        return await ticket_views.timeline(uow, ticket_id, viewer_id)


def _mine(
    person_id: int, *, below: int | None = None, above: int | None = None, newest: bool, n: int
) -> Any:
    """Up to `n` ids of the person's tickets (requested, filed by them, followed) in id
    order, each way read from its own index (`ix_ticket_requester_newest`,
    `ix_ticket_filed_by_newest`, `ix_ticketfollower_person_ticket`) and merged; an OR
    over the three would scan the ticket table."""

    def branch(ticket_id: Any, owner: Any) -> Any:
        q = sa_select(ticket_id.label("id")).where(owner == person_id)
        if below is not None:
            q = q.where(ticket_id < below)
        if above is not None:
            q = q.where(ticket_id > above)
        return sa_select(q.order_by(ticket_id.desc() if newest else ticket_id).limit(n).subquery())

    merged = union(
        branch(col(Ticket.id), col(Ticket.requester_id)),
        branch(col(Ticket.id), col(Ticket.filed_by_id)),
        branch(col(TicketFollower.ticket_id), col(TicketFollower.person_id)),
    ).subquery()
    return sa_select(merged.c.id).order_by(merged.c.id.desc() if newest else merged.c.id).limit(n)


async def my_tickets(
    uow: UnitOfWork,
    person_id: int,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = 5,
) -> Window[TicketView]:
    """Tickets the person filed, was filed for or follows; newest first, `limit` at a time.

    The page holds the tickets older than ticket id `before`, or newer than `after`, or
    the newest ones. A page past either end (an old or forged button) shows the last
    page there is on that side.
    """

    async def ids(**kw: Any) -> list[int]:
        return list((await uow.session.execute(_mine(person_id, **kw))).scalars())

    async with uow.reading():  # never waits for a writer (issue 10)
        counted = await ids(newest=True, n=COUNT_CAP + 1)
        if after is not None:
            page = (await ids(above=after, newest=False, n=limit + 1))[::-1]
            has_newer, page = len(page) > limit, page[-limit:]
            has_older = bool(page) and bool(await ids(below=page[-1], newest=True, n=1))
        elif before is not None:
            page = await ids(below=before, newest=True, n=limit + 1)
            has_older, page = len(page) > limit, page[:limit]
            has_newer = bool(page) and bool(await ids(above=page[0], newest=False, n=1))
        else:
            page, has_newer = counted[:limit], False
            has_older = len(counted) > limit
        if not page and counted:
            # Past the end: the oldest page if we were going back, else the newest.
            if before is not None:
                page = (await ids(newest=False, n=limit))[::-1]
                has_newer, has_older = bool(page) and page[0] < counted[0], False
            else:
                page, has_newer, has_older = counted[:limit], False, len(counted) > limit
        items = await ticket_views.ticket_views(
            uow, [col(Ticket.id).in_(page)], order=(col(Ticket.id).desc(),), with_photos=False
        )
        return Window(
            items,
            min(len(counted), COUNT_CAP),
            len(counted) > COUNT_CAP,
            has_newer,
            has_older,
        )


async def open_duplicates(uow: UnitOfWork, room_id: int, category_id: int) -> list[TicketView]:
    """Open tickets in the same room and category: the duplicate guard's candidates."""
    async with uow.reading():
        return await ticket_views.ticket_views(
            uow,
            [
                col(Ticket.room_id) == room_id,
                col(Ticket.category_id) == category_id,
                col(Ticket.status).in_(list(OPEN_STATUSES)),
            ],
        )


class QueueFilter(StrEnum):
    """The dispatcher's queue views."""

    UNASSIGNED = "unassigned"
    OVERDUE = "overdue"
    DEFERRED = "deferred"
    ALL = "all"
    STALE = "stale"


def _queue_branches(flt: QueueFilter, now: datetime) -> list[ColumnElement[bool]]:
    """The view's tickets as disjoint branches, one per target column
    (`targets.target_branches`): each is read from its covering index alone."""
    since = now - STALE_AFTER
    if flt is QueueFilter.UNASSIGNED:
        return target_branches([Status.RECEIVED, Status.DISPATCHING], since=since)
    if flt is QueueFilter.DEFERRED:
        return target_branches([Status.DEFERRED], since=since)
    if flt is QueueFilter.OVERDUE:
        return target_branches(list(OPEN_STATUSES), since=since, until=now)
    if flt is QueueFilter.STALE:
        return target_branches(list(OPEN_STATUSES), until=since)
    return target_branches(list(OPEN_STATUSES), since=since)


async def dispatcher_queue(
    uow: UnitOfWork,
    person_id: int,
    flt: QueueFilter = QueueFilter.UNASSIGNED,
    *,
    offset: int = 0,
    limit: int = 10,
) -> Page[TicketView]:
    """Tickets in the dispatcher's scope, most urgent and then oldest first.

    Every view but the stale list reads only live tickets (target within STALE_AFTER), so
    it stays as long as the office's current work, whatever the history: its count and
    an OFFSET into it are cheap. The stale list, which grows with the years, is paged by
    `stale_tickets` instead.

    The matching tickets are read from the status-and-target indexes alone (one branch
    per target column, `ix_ticket_status_due_queue` and
    `ix_ticket_status_promised_queue`, which carry urgency, age and room): a backlog of
    thousands overdue is sorted and counted in the index, and only the page's tickets
    are fetched. The count is exact: the sort reads every match anyway.
    """
    offset = max(offset, 0)
    async with uow.reading():
        scope = await ticket_views.dispatcher_scope(uow, person_id, roles.DISPATCHERS)
        parts = [
            sa_select(
                col(Ticket.id).label("id"),
                URGENCY_RANK.label("rank"),
                col(Ticket.created_at).label("created_at"),
                col(Ticket.room_id).label("room_id"),
            ).where(branch)
            for branch in _queue_branches(flt, uow.now())
        ]
        found = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
        # The scope judged once over both branches' rows (PostgreSQL: one hash of the
        # rooms, not a semi join per row of a branch it misjudged as small).
        in_scope = tickets_in(uow, scope, found.c.room_id)
        order = (URGENCY_RANK, col(Ticket.created_at), col(Ticket.id))
        # The page's ids and the count in one pass over the matching index entries (a
        # window count), sorted on them alone; then only the page's tickets are joined to
        # their places and people.
        rows = (
            await uow.session.execute(
                sa_select(found.c.id, func.count().over())
                .where(in_scope)
                .order_by(found.c.rank, found.c.created_at, found.c.id)
                .offset(offset)
                .limit(limit)
            )
        ).all()
        if rows:
            total = int(rows[0][1])
        elif offset:  # a page past the end (the queue shrank): count on its own
            counted = sa_select(func.count()).select_from(found).where(in_scope)
            total = int((await uow.session.execute(counted)).scalar_one())
        else:
            total = 0
        items = await ticket_views.ticket_views(
            uow, [col(Ticket.id).in_([row[0] for row in rows])], order=order, with_photos=False
        )
        return Page(items, total, offset, limit)


URGENCY_RANK = case(
    (col(Ticket.urgency) == "emergency", 0), (col(Ticket.urgency) == "urgent", 1), else_=2
)


# Lifecycle order, the same on both engines (PostgreSQL sorts its enum by declaration,
# SQLite the stored names alphabetically).
HELD_RANK = case(
    (col(Ticket.status) == Status.ASSIGNED, 0),
    (col(Ticket.status) == Status.IN_PROGRESS, 1),
    else_=2,
)


# A technician's jobs are counted up to this many, then "100+".
JOBS_COUNT_CAP = 100
# The most urgent first, then by lifecycle (assigned, in progress, deferred), then oldest.
JOB_ORDER = (URGENCY_RANK, HELD_RANK, col(Ticket.created_at), col(Ticket.id))


def _held_by(person_id: int, since: datetime) -> list[Any]:
    return [
        col(Ticket.assignee_id) == person_id,
        # Outside the OR as well, so the seek is (assignee_id, status) on
        # `ix_ticket_assignee_jobs`, whose targets then skip, in the index, the jobs
        # left open for years (not every ticket they ever had), and which carries the
        # urgency and age the jobs are sorted by: the page is chosen in the index.
        col(Ticket.status).in_(ticket_views.HELD_STATUSES),
        targets_between(ticket_views.HELD_STATUSES, since=since),
    ]


async def technician_jobs(uow: UnitOfWork, person_id: int) -> list[TicketView]:
    """All the technician's open jobs, the most urgent first (see `technician_job_page`
    for the screen); jobs forgotten past STALE_AFTER are on the dispatcher's stale list."""
    async with uow.reading():
        return await ticket_views.ticket_views(
            uow,
            _held_by(person_id, uow.now() - STALE_AFTER),
            order=JOB_ORDER,
            with_photos=False,
        )


async def technician_job_page(
    uow: UnitOfWork,
    person_id: int,
    *,
    after: int | None = None,
    before: int | None = None,
    limit: int = 10,
) -> Window[TicketView]:
    """One page of the technician's open jobs in `JOB_ORDER`, read by keyset.

    The page holds the jobs after ticket `after` or before ticket `before` in that order,
    or the first ones. The cursor is a ticket id whose sort key is read back here, under
    the same conditions: a ticket that is not (or no longer) one of this person's open
    jobs, or a page past either end, gives the first page, flagged `restarted`. The count
    stops at JOBS_COUNT_CAP ("100+").
    """
    async with uow.reading():
        where = _held_by(person_id, uow.now() - STALE_AFTER)
        key = tuple_(*JOB_ORDER)

        async def ids(*extra: Any, backwards: bool = False, n: int) -> list[int]:
            order = [o.desc() for o in JOB_ORDER] if backwards else list(JOB_ORDER)
            stmt = sa_select(col(Ticket.id)).where(*where, *extra).order_by(*order).limit(n)
            return [int(i) for i in (await uow.session.execute(stmt)).scalars() if i]

        capped_ids = sa_select(col(Ticket.id)).where(*where).limit(JOBS_COUNT_CAP + 1)
        count_stmt = sa_select(func.count()).select_from(capped_ids.subquery())
        counted = int((await uow.session.execute(count_stmt)).scalar_one())
        cursor_id = after if after is not None else before
        page: list[int] = []
        has_prev = has_next = restarted = False
        if cursor_id is not None and 0 < cursor_id < 2**31:  # an id column's range
            row = (
                await uow.session.execute(
                    sa_select(*JOB_ORDER).where(*where, col(Ticket.id) == cursor_id)
                )
            ).first()
            if row is not None:
                mark = tuple_(*row)
                if after is not None:
                    page = await ids(key > mark, n=limit + 1)
                    has_next, page = len(page) > limit, page[:limit]
                    has_prev = bool(page)
                else:
                    page = (await ids(key < mark, backwards=True, n=limit + 1))[::-1]
                    has_prev, page = len(page) > limit, page[-limit:]
                    has_next = bool(page)
        restarted = cursor_id is not None and not page
        if not page:
            page = await ids(n=limit + 1)
            has_prev, has_next, page = False, len(page) > limit, page[:limit]
        items = await ticket_views.ticket_views(
            uow, [col(Ticket.id).in_(page)], order=JOB_ORDER, with_photos=False
        )
        return Window(
            items,
            min(counted, JOBS_COUNT_CAP),
            counted > JOBS_COUNT_CAP,
            has_prev,
            has_next,
            restarted=restarted,
        )


async def technicians_to_assign(
    uow: UnitOfWork,
    building_id: int,
    category_key: str,
    *,
    name: str | None = None,
    leave_out: int | None = None,
    offset: int = 0,
    limit: int = 10,
) -> Page[TechnicianLoad]:
    """A page of the technicians a dispatcher may assign a job in the building and
    category to: on duty first, then least loaded, unreachable ones last. `name` keeps
    those whose name contains it (any case); `leave_out` is the job's holder. An offset
    past the end (a forged or outdated button) gives the last page."""
    async with uow.reading():
        everyone = await ticket_views.technicians_for(
            uow, building_id, category_key, on_duty_only=False
        )
    wanted = (name or "").casefold()
    chosen = [
        t
        for t in everyone
        if t.person_id != leave_out and (not wanted or wanted in t.name.casefold())
    ]
    chosen.sort(key=lambda t: (not t.on_duty, not t.reachable, t.open_jobs, t.person_id))
    last = max((len(chosen) - 1) // limit * limit, 0)
    offset = min(max(offset, 0), last)
    return Page(chosen[offset : offset + limit], len(chosen), offset, limit)


async def on_duty_technicians(
    uow: UnitOfWork, room_id: int, category_key: str
) -> list[TechnicianLoad]:
    """On-duty technicians eligible for a room and category, least loaded first."""
    async with uow.reading():
        room = await uow.session.get(Room, room_id)
        if room is None:
            raise NotFound("room", room_id=room_id)
        return await ticket_views.technicians_for(uow, room.building_id, category_key)
