"""Plain read models the services return; the transport renders them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from store.lifecycle import Status

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TicketView:
    """A ticket as the screens show it."""

    id: int
    number: str
    status: Status
    campus: str
    building: str
    building_id: int
    floor: str
    room: str
    room_code: str
    category: str
    urgency: str
    description: str
    requester_id: int
    filed_by_id: int
    contact_phone: str | None
    assignee_id: int | None
    assignee_name: str | None
    visit_at: datetime | None
    visit_confirmed: bool
    promised_at: datetime | None
    defer_reason: str | None
    rework_count: int
    urge_count: int
    last_urged_at: datetime | None
    rating: int | None
    rating_comment: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    # Set when retention dropped the photos (privacy.photo_retention_days).
    photos_removed_at: datetime | None = None
    # The technician's data was erased (no name): the bot shows "former user".
    assignee_former: bool = False
    photos: tuple[str, ...] = ()
    result_photos: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EventView:
    """One line of a ticket's timeline."""

    at: datetime
    action: str
    from_status: Status | None
    to_status: Status | None
    actor_name: str | None
    note: str | None
    # The actor's data was erased: the bot shows "former user" (catalog) for the name.
    actor_former: bool = False


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a longer list."""

    items: list[T]
    total: int
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        """Whether a later page exists."""
        return self.offset + self.limit < self.total

    @property
    def has_prev(self) -> bool:
        """Whether an earlier page exists."""
        return self.offset > 0


@dataclass(frozen=True, slots=True)
class Window(Generic[T]):
    """One page of a list read by keyset (newest first by id), not by OFFSET: a page costs
    the same on page 1 and page 500, and its count stops at a cap ("20+")."""

    items: list[T]
    total: int  # exact below the cap, else the cap itself
    capped: bool  # there are more than `total`
    has_newer: bool
    has_older: bool
    # The page asked for (after or before a ticket) could not be found, e.g. a forged or
    # outdated button: this is the first page instead.
    restarted: bool = False


@dataclass(frozen=True, slots=True)
class TechnicianLoad:
    """A technician with their duty state and how many open jobs they hold."""

    person_id: int
    telegram_id: int | None
    name: str
    on_duty: bool
    open_jobs: int
    reachable: bool = True


@dataclass(frozen=True, slots=True)
class ReportResult:
    """What filing a ticket produced: the ticket and who was offered it."""

    ticket: TicketView
    offered_to: list[int] = field(default_factory=list)
    escalated: bool = False
    # True when this submission had been filed before (a second Confirm, a retry after a
    # crash): `ticket` is that earlier ticket and nothing new was filed.
    already_filed: bool = False
