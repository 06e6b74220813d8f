"""SQLModel tables. All datetimes are aware UTC; the transport converts to campus time.

Statuses are changed only by services through `store.lifecycle`; every change writes a
`TicketEvent` and its `Outbox` rows in the same transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from store.lifecycle import Role, Status

# Enums are stored as their plain string values (String columns, not native ENUM types),
# so adding a status later is a code change, not an ALTER TYPE.
# Naming convention keeps Alembic's constraint names stable across SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# --- places -------------------------------------------------------------------------------


class Campus(SQLModel, table=True):
    """A campus; buildings belong to one."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)


class Building(SQLModel, table=True):
    """A building, unique by name within its campus, with its responsible supervisor."""

    __table_args__ = (UniqueConstraint("campus_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    campus_id: int = Field(foreign_key="campus.id", index=True)
    name: str = Field(max_length=100)
    supervisor_id: int | None = Field(default=None, foreign_key="person.id")


class Room(SQLModel, table=True):
    """A room (or hall, toilet, corridor); `code` is unique and printed on its QR sticker."""

    id: int | None = Field(default=None, primary_key=True)
    building_id: int = Field(foreign_key="building.id", index=True)
    floor: str = Field(max_length=20)
    name: str = Field(max_length=100)
    code: str = Field(max_length=40, unique=True)


class Category(SQLModel, table=True):
    """A repair category with its targets (minutes); labels come from the catalogs."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=40, unique=True)
    accept_minutes: int
    complete_minutes: int
    position: int = 0
    active: bool = True


# --- people -------------------------------------------------------------------------------


class Person(SQLModel, table=True):
    """Anyone who wrote to the bot or was added as staff."""

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int | None = Field(default=None, sa_type=BigInteger, unique=True)
    name: str = Field(default="", max_length=200)
    language: str | None = Field(default=None, max_length=10)
    phone: str | None = Field(default=None, max_length=40)
    # The resident's own room: their reports start there, and sweeps of it reach them.
    # No FOREIGN KEY on purpose: person → room → building → person (supervisor) would be
    # a cycle the schema cannot create in one pass; set_room checks the room exists.
    room_id: int | None = Field(default=None, index=True)
    # IANA zone for this person's digest time; None means the campus time zone.
    timezone: str | None = Field(default=None, max_length=40)
    on_duty: bool = False
    # Category keys the technician covers; empty means every category.
    skills: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    unreachable_since: datetime | None = None
    created_at: datetime
    # Last seen writing to the bot (refreshed at most daily): the inactivity that
    # privacy.person_retention_days counts from (store.directory.privacy).
    seen_at: datetime | None = None
    # Set when the person's data was erased (on request or by retention): the row stays
    # for the office's records, named "former user", with no name, phone or Telegram id.
    erased_at: datetime | None = None


class RoleGrant(SQLModel, table=True):
    """A role held by a person; a staff role is scoped to a campus, a building, or all."""

    __table_args__ = (UniqueConstraint("person_id", "role", "campus_id", "building_id"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    role: Role = Field(sa_type=String(20))
    campus_id: int | None = Field(default=None, foreign_key="campus.id")
    building_id: int | None = Field(default=None, foreign_key="building.id")


class StaffChange(SQLModel, table=True):
    """Append-only record of a change to someone's staff roles: which grant was added or
    removed, by whom (`actor_id`, the admin in the chat; none for the command line) and
    through what (`via`: cli, chat, import, invite), and what was handed on with it."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    person_id: int = Field(foreign_key="person.id", index=True)
    change: str = Field(max_length=20)  # added, removed
    role: Role = Field(sa_type=String(20))
    campus_id: int | None = Field(default=None, foreign_key="campus.id")
    building_id: int | None = Field(default=None, foreign_key="building.id")
    # The scope as it was named then ("all", a campus, "campus/building").
    scope: str = Field(max_length=300)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    via: str = Field(max_length=20)
    note: str | None = Field(default=None, sa_column=Column(Text))


class Invite(SQLModel, table=True):
    """A staff invite: only the token's hash is stored; single use, expiring."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    role: Role = Field(sa_type=String(20))
    campus_id: int | None = Field(default=None, foreign_key="campus.id")
    building_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_by_id: int | None = Field(default=None, foreign_key="person.id")


# --- tickets ------------------------------------------------------------------------------


class Counter(SQLModel, table=True):
    """Last issued number per series ("ticket-2026"); bumped by a row-locking upsert."""

    name: str = Field(primary_key=True, max_length=40)
    last: int = 0


# A partial index's condition exactly as SQLAlchemy writes `Ticket.summarized == false()`
# (SQLite uses a partial index only for a query that repeats its condition).
_NOT_SUMMARIZED: dict[str, Any] = {
    "sqlite_where": text("summarized = 0"),
    "postgresql_where": text("summarized = false"),
}


# What the queues sort by (urgency, then age) and scope by (room), after a ticket's target.
_QUEUE_TAIL = ("urgency", "created_at", "room_id")


_CONTACT_KEPT: dict[str, Any] = {
    "sqlite_where": text("contact_phone IS NOT NULL"),
    "postgresql_where": text("contact_phone IS NOT NULL"),
}


class Ticket(SQLModel, table=True):
    """A repair request and everything its lifecycle records."""

    __table_args__ = (
        Index("ix_ticket_room_category_status", "room_id", "category_id", "status"),
        Index("ix_ticket_requester_created", "requester_id", "created_at"),
        Index("ix_ticket_status_created", "status", "created_at"),
        # The digest and /stats pick the tickets touching a period (filed, accepted,
        # completed or changed in it, or still open) one index per timestamp, so their
        # cost follows the period's activity, not the office's history (figures.any_ticket).
        Index("ix_ticket_created_at", "created_at"),
        # The board's buildings table counts each room's faults of the last 90 days from
        # this index alone (store.reporting.board_lists).
        Index("ix_ticket_created_room", "created_at", "room_id"),
        # The board's tickets list by technician: their tickets of a date range, in order.
        Index("ix_ticket_assignee_created", "assignee_id", "created_at"),
        Index("ix_ticket_accepted_at", "accepted_at"),
        Index("ix_ticket_completed_at", "completed_at"),
        Index("ix_ticket_updated_at", "updated_at"),
        # My tickets pages newest first by id, one seek per way a ticket is "mine"
        # (queries.my_tickets): requested, filed on someone's behalf, followed.
        Index("ix_ticket_requester_newest", "requester_id", "id"),
        Index("ix_ticket_filed_by_newest", "filed_by_id", "id"),
        # The queues, overdue and stale lists and the technician's jobs read open tickets
        # by status and target, so they seek to the live part of a long history; what the
        # queues sort and scope by follows, so a backlog of thousands is sorted and counted
        # from the index alone and only the page's tickets are read (PostgreSQL: the id
        # INCLUDEd, for index-only scans).
        Index(
            "ix_ticket_status_due_queue",
            "status",
            "due_at",
            *_QUEUE_TAIL,
            postgresql_include=["id"],
        ),
        Index(
            "ix_ticket_status_promised_queue",
            "status",
            "promised_at",
            *_QUEUE_TAIL,
            postgresql_include=["id"],
        ),
        # A technician's jobs: a range seek per held status on the target, so the jobs
        # they left open for years are skipped in the index (targets.live_clause), then
        # sorted by urgency and age (queries.JOB_ORDER) from the index alone.
        Index(
            "ix_ticket_assignee_jobs",
            "assignee_id",
            "status",
            "due_at",
            "promised_at",
            "urgency",
            "created_at",
            postgresql_include=["id"],
        ),
        # The open backlog the digest and /stats count (open now, per status, per
        # technician, late ones) read from this index alone, never the ticket rows:
        # ten times faster over the tickets left open for years.
        Index(
            "ix_ticket_status_backlog",
            "status",
            "room_id",
            "assignee_id",
            "due_at",
            "promised_at",
            "number",
        ),
        # The day summaries (store.reporting.summaries): the closed and cancelled tickets
        # not summarized yet, and the live part of a period the reports still read row by
        # row (every open ticket and the few finished since the last roll-up), by moment.
        Index("ix_ticket_to_summarize", "status", "id", **_NOT_SUMMARIZED),
        Index("ix_ticket_live_created", "created_at", **_NOT_SUMMARIZED),
        Index("ix_ticket_live_accepted", "accepted_at", **_NOT_SUMMARIZED),
        Index("ix_ticket_live_completed", "completed_at", **_NOT_SUMMARIZED),
        # Retention (store.directory.privacy): the tickets still holding a contact phone,
        # open ones and those ended under `contact_retention_days` ago, a small part of
        # the history; the hourly pass reads them alone.
        Index("ix_ticket_contact_kept", "status", "id", **_CONTACT_KEPT),
    )
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20, unique=True)
    status: Status = Field(sa_type=String(20))
    # Bumped by every write to the row: a change is a compare-and-set on the version the
    # decision was read at, so a decision taken on a stale read is refused, not applied.
    version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # The draft (or booth/sweep intake) this ticket was filed from: unique, so a second
    # Confirm of the same draft finds the ticket already filed instead of filing another.
    submission_key: str | None = Field(default=None, max_length=64, unique=True)
    requester_id: int = Field(foreign_key="person.id")
    filed_by_id: int = Field(foreign_key="person.id")
    room_id: int = Field(foreign_key="room.id")
    category_id: int = Field(foreign_key="category.id")
    urgency: str = Field(default="normal", max_length=20)
    description: str = Field(sa_column=Column(Text, nullable=False))
    contact_phone: str | None = Field(default=None, max_length=40)
    assignee_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    # Targets fixed at filing from the category (reset on reopen): SLA checks are indexed
    # column comparisons, the same on SQLite and PostgreSQL.
    accept_due_at: datetime | None = None
    due_at: datetime | None = None
    escalated_at: datetime | None = None
    visit_at: datetime | None = None
    visit_confirmed: bool = False
    promised_at: datetime | None = None
    defer_reason: str | None = Field(default=None, max_length=500)
    # Set once when the scheduler escalated a missed promise or a missed completion target,
    # so a restart or a second tick never tells anyone twice; cleared by a new round.
    promise_missed_at: datetime | None = None
    overdue_at: datetime | None = None
    duplicate_of_id: int | None = Field(default=None, foreign_key="ticket.id")
    # Set when an inspector found the fault while sweeping the building.
    sweep_id: int | None = Field(default=None, foreign_key="sweepcampaign.id")
    rework_count: int = 0
    urge_count: int = 0
    last_urged_at: datetime | None = None
    rating: int | None = None
    rating_comment: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime
    updated_at: datetime
    dispatched_at: datetime | None = None
    accepted_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    closed_at: datetime | None = None
    # Set when retention dropped the ticket's photos (the board says so).
    photos_removed_at: datetime | None = None
    # Set once this closed or cancelled ticket is in the day summaries; what a report
    # reads from them, it no longer reads from this row (store.reporting.summaries).
    summarized: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class TicketPhoto(SQLModel, table=True):
    """A Telegram file id attached to a ticket, in order; `kind` is report or result."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    position: int
    file_id: str = Field(max_length=200)
    kind: str = Field(default="report", max_length=10)


class TicketFollower(SQLModel, table=True):
    """Someone who chose to follow an existing ticket instead of filing a duplicate."""

    # The key leads with the ticket; My tickets asks the other way round.
    __table_args__ = (Index("ix_ticketfollower_person_ticket", "person_id", "ticket_id"),)

    ticket_id: int = Field(foreign_key="ticket.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    since: datetime


class TicketEvent(SQLModel, table=True):
    """Append-only history: who did what, when, from which status to which."""

    # Someone's latest step, one seek: retention asks it of each person it considers
    # (store.directory.privacy), and a person's export lists their steps.
    __table_args__ = (Index("ix_ticketevent_actor_at", "actor_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    action: str = Field(max_length=30)
    from_status: Status | None = Field(default=None, sa_type=String(20))
    to_status: Status | None = Field(default=None, sa_type=String(20))
    note: str | None = Field(default=None, sa_column=Column(Text))


class Offer(SQLModel, table=True):
    """A job offered to one technician; kept so late offers can be withdrawn."""

    __table_args__ = (UniqueConstraint("ticket_id", "technician_id"),)
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    technician_id: int = Field(foreign_key="person.id", index=True)
    offered_at: datetime
    outcome: str | None = Field(default=None, max_length=20)  # accepted, declined, taken


# --- notices and follow-ups ---------------------------------------------------------------


class Outbox(SQLModel, table=True):
    """A notice to deliver. The sender marks it sent only after Telegram accepted it."""

    __table_args__ = (
        Index("ix_outbox_pending", "sent_at", "failed_at", "due_at"),
        # The notices about a ticket: retention scrubs their phone and photos
        # (store.directory.privacy) without reading every notice ever sent.
        Index("ix_outbox_ticket_id", "ticket_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(foreign_key="person.id")
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    kind: str = Field(max_length=40)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime
    due_at: datetime
    attempts: int = 0
    sent_at: datetime | None = None
    failed_at: datetime | None = None  # given up: recipient unreachable or rejected
    last_error: str | None = Field(default=None, max_length=500)
    # What the transport got back (a message id), so a later notice can edit it.
    delivery_ref: int | None = Field(default=None, sa_type=BigInteger)


class FollowUp(SQLModel, table=True):
    """A supervisor's to-do raised by a low rating or a complaint; open until resolved."""

    # /stats and the digest count the open ones in a viewer's scope: starting from this
    # (small, partial) index, not from every ticket of the viewer's buildings.
    __table_args__ = (
        Index(
            "ix_followup_open",
            "ticket_id",
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20, unique=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    kind: str = Field(max_length=20)  # low_rating, complaint
    text: str | None = Field(default=None, sa_column=Column(Text))
    raised_by_id: int | None = Field(default=None, foreign_key="person.id")
    supervisor_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    opened_at: datetime
    resolved_at: datetime | None = None
    resolved_by_id: int | None = Field(default=None, foreign_key="person.id")
    resolution: str | None = Field(default=None, sa_column=Column(Text))


class Draft(SQLModel, table=True):
    """A report in progress, saved at every step so it survives a restart of the bot."""

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    step: str = Field(max_length=30)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime


class DigestRun(SQLModel, table=True):
    """One supervisor's digest for one local day: claimed before sending, so a restart or a
    second instance never sends it twice; `sent_at` stays empty if the send failed.
    `chart_sent_at` marks the first of its two messages, so a retry sends only the rest."""

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    day: date = Field(primary_key=True)
    claimed_at: datetime
    chart_sent_at: datetime | None = None
    sent_at: datetime | None = None


class DaySummary(SQLModel, table=True):
    """The figures of one campus-local day in one building, over the tickets that can no
    longer change (closed or cancelled): a `store.reporting.tally.Tally`, packed, grown by
    the roll-up job and read by /stats and the digest in place of those tickets' rows."""

    day: date = Field(primary_key=True)
    building_id: int = Field(foreign_key="building.id", primary_key=True)
    tickets: int = 0  # contributions added (a ticket counts once per day it touched)
    tally: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class SummaryState(SQLModel, table=True):
    """The campus zone the day summaries' days are in: when the setting changes, the job
    starts them again (a day in one zone is not a day in another)."""

    id: int = Field(default=1, primary_key=True)
    zone: str = Field(max_length=64)


class SweepCampaign(SQLModel, table=True):
    """A "sweep the building" campaign: every room (of some floors) checked against a list."""

    id: int | None = Field(default=None, primary_key=True)
    building_id: int = Field(foreign_key="building.id", index=True)
    floors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    checklist: str = Field(max_length=40)
    started_by_id: int = Field(foreign_key="person.id")
    started_at: datetime
    closed_at: datetime | None = None
    # Repeat every N weeks, or at each term start (service.term_starts), through the
    # scheduler; neither: once.
    repeat_weeks: int | None = None
    repeat_each_term: bool = False
    next_start_at: datetime | None = None


class SweepRoom(SQLModel, table=True):
    """One room of a campaign: pending, claimed by an inspector, checked or nobody home."""

    campaign_id: int = Field(foreign_key="sweepcampaign.id", primary_key=True)
    room_id: int = Field(foreign_key="room.id", primary_key=True)
    position: int
    state: str = Field(default="pending", max_length=20)
    inspector_id: int | None = Field(default=None, foreign_key="person.id")
    claimed_at: datetime | None = None
    done_at: datetime | None = None
    # item key -> "ok" or the number of the ticket filed for it
    results: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class PrivacyEvent(SQLModel, table=True):
    """A personal-data export or erasure: who asked (`by`: "self", "cli", "retention")
    and counts of what it did; never a name, phone or Telegram id."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    person_id: int = Field(foreign_key="person.id", index=True)
    action: str = Field(max_length=20)  # export, erase
    by: str = Field(max_length=20)
    detail: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class BoardSignIn(SQLModel, table=True):
    """A one-time sign-in link to the office board: only the token's hash is stored."""

    token_hash: str = Field(primary_key=True, max_length=64)
    person_id: int = Field(foreign_key="person.id", index=True)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class ClaimCode(SQLModel, table=True):
    """A booth ticket's claim code: opening its link once links the ticket to that person."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", unique=True)
    code_hash: str = Field(max_length=64, unique=True)
    created_at: datetime
    used_at: datetime | None = None
    used_by_id: int | None = Field(default=None, foreign_key="person.id")


_NO_AUTOINC = {"autoincrement": False}


class HandledUpdate(SQLModel, table=True):
    """A Telegram update whose handlers have finished, so a redelivery of it is skipped
    (webhook retries, a new polling leader fetching what the old one had not confirmed).
    Keyed by the bot as well: update ids count per bot, and a database may outlive a
    token. Pruned after a day (store.delivery.inbox)."""

    bot_id: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs=_NO_AUTOINC)
    update_id: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs=_NO_AUTOINC)
    handled_at: datetime = Field(index=True)


class PublishedMenu(SQLModel, table=True):
    """The staff command menu last published to a person's chat at start-up: a digest of
    what was sent and the newest StaffChange of theirs then, so the next start sends it
    again only when it would differ or their roles changed since (bot/menus.py)."""

    person_id: int = Field(primary_key=True, foreign_key="person.id")
    digest: str = Field(max_length=64)
    change_id: int | None = None
    published_at: datetime
