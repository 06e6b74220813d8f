"""The raw export: every ticket filed in a period within the viewer's scope, as rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, null
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import col

from store.domain.phones import may_export_phones
from store.domain.scope import grants_of
from store.errors import NotPermitted
from store.models import Building, Campus, Category, Person, Room, Ticket
from store.reporting.figures import any_ticket, scope_clause
from store.reporting.periods import period_bounds, raw, utc
from store.reporting.tally import accept_wait
from store.uow import UnitOfWork

EXPORT_BATCH = 1000  # rows fetched from the database, and handed on, at a time


@dataclass(frozen=True)
class ExportRow:
    """One ticket as a spreadsheet row; datetimes are aware UTC, durations in minutes."""

    number: str
    status: str
    campus: str
    building: str
    floor: str
    room: str
    room_code: str
    category: str
    urgency: str
    created_at: datetime
    dispatched_at: datetime | None
    accepted_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    closed_at: datetime | None
    technician: str | None
    promised_at: datetime | None
    defer_reason: str | None
    rework_count: int
    urge_count: int
    rating: int | None
    rating_comment: str | None
    accept_minutes: float | None
    resolution_minutes: float | None
    # The requester's phone: only in an admin's export that asked for it (`with_phones`).
    phone: str | None = None


def _minutes(delta: timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds() / 60


async def stream_export(
    uow: UnitOfWork,
    *,
    start: datetime,
    end: datetime,
    viewer_id: int,
    write: Callable[[list[ExportRow]], Awaitable[object]],
    batch_size: int | None = None,
    with_phones: bool = False,
    where: Sequence[ColumnElement[bool]] = (),
) -> int:
    """Every ticket filed in the period within the viewer's scope, oldest first, handed to
    `write` in batches of at most `batch_size` rows (default EXPORT_BATCH); returns how
    many there were.

    One query read through a server-side cursor (aiosqlite's and asyncpg's both fetch
    `batch_size` rows per round trip), so a year of a big office never sits in memory:
    only the batch being written does. The unit only reads (on SQLite it never waits for
    a writer), and `write` may take its time: the snapshot stays the query's.

    `with_phones` adds each ticket's requester phone, for admins only
    (store.domain.phones.may_export_phones; NotPermitted for anyone else); without it no
    phone is read at all. `where`: further terms on Ticket, Room and Building (the
    board's filtered tickets list exports exactly its rows)."""
    start, end = period_bounds(start, end)
    batch_size = batch_size or EXPORT_BATCH
    technician = aliased(Person)
    count = 0
    async with uow.reading():
        if with_phones:
            grants = await grants_of(uow, viewer_id)
            if not may_export_phones({g.role for g in grants}):
                raise NotPermitted("phone numbers in an export are for admins")
        scope = await scope_clause(uow, viewer_id)
        phone: Any = col(Ticket.contact_phone) if with_phones else null()
        stmt: Any = (
            sa_select(
                col(Ticket.number),
                col(Ticket.status),
                col(Campus.name).label("campus"),
                col(Building.name).label("building"),
                col(Room.floor),
                col(Room.name).label("room"),
                col(Room.code),
                col(Category.key),
                col(Ticket.urgency),
                raw(Ticket.created_at),
                raw(Ticket.dispatched_at),
                raw(Ticket.accepted_at),
                raw(Ticket.started_at),
                raw(Ticket.completed_at),
                raw(Ticket.closed_at),
                col(technician.name).label("technician"),
                raw(Ticket.promised_at),
                col(Ticket.defer_reason),
                col(Ticket.rework_count),
                col(Ticket.urge_count),
                col(Ticket.rating),
                col(Ticket.rating_comment),
                phone.label("phone"),
            )
            .join(Room, col(Room.id) == Ticket.room_id)
            .join(Building, col(Building.id) == Room.building_id)
            .join(Campus, col(Campus.id) == Building.campus_id)
            .join(Category, col(Category.id) == Ticket.category_id)
            .outerjoin(technician, col(technician.id) == Ticket.assignee_id)
            .where(
                scope,
                any_ticket(
                    uow, and_(col(Ticket.created_at) >= start, col(Ticket.created_at) < end)
                ),
                *where,
            )
            .order_by(col(Ticket.created_at), col(Ticket.id))
            .execution_options(yield_per=batch_size)
        )
        result = await uow.session.stream(stmt)
        async for partition in result.partitions():
            batch = [_export_row(row) for row in partition]
            count += len(batch)
            await write(batch)
    return count


async def export_rows(
    uow: UnitOfWork, *, start: datetime, end: datetime, viewer_id: int, with_phones: bool = False
) -> list[ExportRow]:
    """The same rows as `stream_export`, as one list: for small periods and tests."""
    rows: list[ExportRow] = []

    async def collect(batch: list[ExportRow]) -> None:
        rows.extend(batch)

    await stream_export(
        uow, start=start, end=end, viewer_id=viewer_id, write=collect, with_phones=with_phones
    )
    return rows


def _export_row(row: Any) -> ExportRow:
    created = utc(row.created_at)
    assert created is not None
    dispatched, accepted = utc(row.dispatched_at), utc(row.accepted_at)
    completed = utc(row.completed_at)
    return ExportRow(
        number=row.number,
        status=str(row.status),
        campus=row.campus,
        building=row.building,
        floor=row.floor,
        room=row.room,
        room_code=row.code,
        category=row.key,
        urgency=row.urgency,
        created_at=created,
        dispatched_at=dispatched,
        accepted_at=accepted,
        started_at=utc(row.started_at),
        completed_at=completed,
        closed_at=utc(row.closed_at),
        technician=row.technician,
        promised_at=utc(row.promised_at),
        defer_reason=row.defer_reason,
        rework_count=row.rework_count,
        urge_count=row.urge_count,
        rating=row.rating,
        rating_comment=row.rating_comment,
        accept_minutes=_minutes(accept_wait(created, dispatched, accepted)),
        resolution_minutes=_minutes(completed - created if completed else None),
        phone=row.phone,
    )
