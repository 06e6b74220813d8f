"""Personal data: what is kept about a person, a copy of it, its erasure, and the retention
passes that erase it on a schedule (README "Personal data").

Who may ask: `by` is the Telegram id of the person asking, or `CLI` for the office's
command line. Exporting or erasing someone is refused (NotPermitted) to anyone but the
person themself or the CLI. Every export and erasure is recorded as a `PrivacyEvent`
naming who asked ("self", "cli", "retention") with counts only, never personal data.

An erased person's row stays (tickets, figures and day summaries point at it) with no
name, phone, room, time zone or Telegram id, and `erased_at` set: screens, the board,
exports and digests show them as "former user" (views carry a flag, the bot words it).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import ColumnElement, delete, exists, func, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from store.domain.draft_cache import drafts_seen
from store.domain.lookups import get_place
from store.domain.tickets import Batch, claim_due
from store.errors import NotFound, NotPermitted
from store.lifecycle import OPEN_STATUSES, Role, Status
from store.models import (
    BoardSignIn,
    Category,
    Draft,
    FollowUp,
    Offer,
    Outbox,
    Person,
    PrivacyEvent,
    RoleGrant,
    Ticket,
    TicketEvent,
    TicketFollower,
    TicketPhoto,
)
from store.uow import UnitOfWork

CLI: Final = "cli"
Asker = int | Literal["cli"]
EXPORT_FORMAT = "repairbot.personal-data/1"
# Tickets that can no longer change: the retention periods count from when they ended.
ENDED_STATUSES = (Status.CLOSED, Status.CANCELLED)
BATCH = 200
# Event actions whose note names people (the claimer; the technicians offered or assigned).
_NAMING_ACTIONS = ("claim", "offer", "assign")
# Outbox payload keys that hold personal data of a ticket's requester.
_PHONE_KEYS = ("contact_phone", "phone")
_NAME_KEYS = ("name",)


class StaffNotErasable(NotPermitted):
    """The person holds a staff role: the office revokes it before their data can go."""

    code = "error.privacy_staff"


@dataclass(slots=True)
class Erasure:
    """What `erase_person` did (counts only; the CLI prints them)."""

    person_id: int
    tickets_kept: int = 0
    phones_erased: int = 0
    drafts_cancelled: int = 0
    notices_dropped: int = 0
    follows_ended: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """The counts, as recorded in the PrivacyEvent."""
        return {
            "tickets_kept": self.tickets_kept,
            "phones_erased": self.phones_erased,
            "drafts_cancelled": self.drafts_cancelled,
            "notices_dropped": self.notices_dropped,
            "follows_ended": self.follows_ended,
            **self.extra,
        }


# --- who asks ----------------------------------------------------------------------------


def _asker(telegram_id: int, by: Asker) -> str:
    """ "self" or "cli" for who may ask about `telegram_id`; NotPermitted for anyone else."""
    if by == CLI:
        return CLI
    if isinstance(by, int) and not isinstance(by, bool) and by == telegram_id:
        return "self"
    raise NotPermitted("only the person themself or the office's command line")


async def _find(uow: UnitOfWork, telegram_id: int) -> Person:
    person = (
        await uow.session.execute(select(Person).where(Person.telegram_id == telegram_id))
    ).scalar_one_or_none()
    if person is None or person.id is None:
        raise NotFound("person", telegram_id=telegram_id)
    return person


def _record(uow: UnitOfWork, person_id: int, action: str, by: str, detail: dict[str, int]) -> None:
    uow.session.add(
        PrivacyEvent(at=uow.now(), person_id=person_id, action=action, by=by, detail=detail)
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


# --- export ------------------------------------------------------------------------------


async def export_person(uow: UnitOfWork, telegram_id: int, *, by: Asker) -> dict[str, Any]:
    """Everything kept about the person with this Telegram id, as a JSON-ready dict.

    `by`: the asker's Telegram id (must be `telegram_id`) or `CLI`; anyone else gets
    NotPermitted; an unknown (or erased) id NotFound. Records an "export" PrivacyEvent.

    Keys: `format`, `exported_at`, `retention` (days per kind), `profile` (Telegram id,
    name, language, phone, saved room, time zone, roles, created and last seen),
    `tickets` (filed by them or for them: place, category, description, contact phone,
    their photos' file ids, rating and comment, and the timeline: every step's time,
    action and statuses, with the note only on the steps they took themselves — staff's
    notes are not theirs), `following` (tickets they follow: number, place, category,
    status, since — nothing of that ticket's requester), `complaints` (raised by them,
    with the office's resolution), `actions_elsewhere` (steps they took on others'
    tickets, without notes: a technician's work), `draft` (a report in progress).
    """
    who = _asker(telegram_id, by)
    async with uow:
        person = await _find(uow, telegram_id)
        pid = person.id
        assert pid is not None
        policy = uow.policy
        room: dict[str, str] | None = None
        if person.room_id is not None:
            try:
                room = (await get_place(uow, person.room_id)).label()
            except NotFound:
                room = None
        roles = sorted(
            {
                str(r)
                for r in (
                    await uow.session.execute(
                        select(RoleGrant.role).where(RoleGrant.person_id == pid)
                    )
                ).scalars()
            }
        )
        own = (
            await uow.session.execute(
                select(Ticket)
                .where(or_(col(Ticket.requester_id) == pid, col(Ticket.filed_by_id) == pid))
                .order_by(col(Ticket.id))
            )
        ).scalars()
        tickets = [await _ticket_document(uow, t, pid) for t in own]
        own_ids = {t["id"] for t in tickets}
        following = []
        for follow, ticket in (
            await uow.session.execute(
                select(TicketFollower, Ticket)
                .join(Ticket, col(Ticket.id) == TicketFollower.ticket_id)
                .where(TicketFollower.person_id == pid)
                .order_by(col(Ticket.id))
            )
        ).all():
            place = (await get_place(uow, ticket.room_id)).label()
            following.append(
                {
                    "number": ticket.number,
                    "status": str(ticket.status),
                    "category": await _category_key(uow, ticket.category_id),
                    "place": place,
                    "since": _iso(follow.since),
                }
            )
        complaints = [
            {
                "number": f.number,
                "ticket": number,
                "kind": f.kind,
                "text": f.text,
                "opened_at": _iso(f.opened_at),
                "resolved_at": _iso(f.resolved_at),
                "resolution": f.resolution,
            }
            for f, number in (
                await uow.session.execute(
                    select(FollowUp, Ticket.number)
                    .join(Ticket, col(Ticket.id) == FollowUp.ticket_id)
                    .where(FollowUp.raised_by_id == pid)
                    .order_by(col(FollowUp.id))
                )
            ).all()
        ]
        elsewhere = [
            {"ticket": number, "at": _iso(event.at), "action": event.action}
            for event, number in (
                await uow.session.execute(
                    select(TicketEvent, Ticket.number)
                    .join(Ticket, col(Ticket.id) == TicketEvent.ticket_id)
                    .where(TicketEvent.actor_id == pid)
                    .order_by(col(TicketEvent.at), col(TicketEvent.id))
                )
            ).all()
            if event.ticket_id not in own_ids
        ]
        draft = await uow.session.get(Draft, pid)
        document: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "exported_at": _iso(uow.now()),
            "retention": {
                "contact_phone_days_after_ticket_ends": policy.contact_retention.days,
                "photos_days_after_ticket_ends": policy.photo_retention.days,
                "person_days_without_activity": policy.person_retention.days,
            },
            "profile": {
                "telegram_id": person.telegram_id,
                "name": person.name,
                "language": person.language,
                "phone": person.phone,
                "room": room,
                "timezone": person.timezone,
                "roles": roles,
                "created_at": _iso(person.created_at),
                "last_seen_at": _iso(person.seen_at),
            },
            "tickets": [{k: v for k, v in t.items() if k != "id"} for t in tickets],
            "following": following,
            "complaints": complaints,
            "actions_elsewhere": elsewhere,
            "draft": (
                {"step": draft.step, "data": draft.data, "updated_at": _iso(draft.updated_at)}
                if draft is not None
                else None
            ),
        }
        _record(
            uow,
            pid,
            "export",
            who,
            {"tickets": len(tickets), "following": len(following), "complaints": len(complaints)},
        )
        await uow.commit()
    return document


async def _category_key(uow: UnitOfWork, category_id: int) -> str:
    category = await uow.session.get(Category, category_id)
    return category.key if category is not None else ""


async def _ticket_document(uow: UnitOfWork, t: Ticket, pid: int) -> dict[str, Any]:
    assert t.id is not None
    photos = (
        await uow.session.execute(
            select(TicketPhoto)
            .where(TicketPhoto.ticket_id == t.id)
            .order_by(col(TicketPhoto.position))
        )
    ).scalars()
    events = (
        await uow.session.execute(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == t.id)
            .order_by(col(TicketEvent.at), col(TicketEvent.id))
        )
    ).scalars()
    relation = []
    if t.requester_id == pid:
        relation.append("requester")
    if t.filed_by_id == pid:
        relation.append("filer")
    return {
        "id": t.id,
        "number": t.number,
        "relation": relation,
        "status": str(t.status),
        "category": await _category_key(uow, t.category_id),
        "urgency": t.urgency,
        "place": (await get_place(uow, t.room_id)).label(),
        "description": t.description,
        "contact_phone": t.contact_phone if t.requester_id == pid else None,
        "photos": [p.file_id for p in photos if p.kind == "report"],
        "photos_removed_at": _iso(t.photos_removed_at),
        "rating": t.rating if t.requester_id == pid else None,
        "rating_comment": t.rating_comment if t.requester_id == pid else None,
        "created_at": _iso(t.created_at),
        "completed_at": _iso(t.completed_at),
        "closed_at": _iso(t.closed_at),
        "timeline": [
            {
                "at": _iso(e.at),
                "action": e.action,
                "from_status": str(e.from_status) if e.from_status else None,
                "to_status": str(e.to_status) if e.to_status else None,
                "by": "me" if e.actor_id == pid else ("system" if e.actor_id is None else "staff"),
                "note": e.note if e.actor_id == pid else None,
            }
            for e in events
        ],
    }


# --- erasure -----------------------------------------------------------------------------


async def erase_person(uow: UnitOfWork, telegram_id: int, *, by: Asker) -> Erasure:
    """Erase the person with this Telegram id, for good; returns what was done.

    `by`: the asker's Telegram id (must be `telegram_id`) or `CLI`; anyone else gets
    NotPermitted; an unknown (or already erased) id NotFound; someone holding a staff role
    StaffNotErasable (the office revokes the role first: staff records are the office's).

    Done in one transaction (see `erase_row` for the details): name, phone, saved room,
    time zone, language and Telegram id cleared and `erased_at` set (the same Telegram
    account writing again starts as a new person); their open drafts cancelled; their
    tickets kept for the office's records, requester shown as "former user", the contact
    phone on them erased; open tickets stay open but no longer notify them (pending
    notices to them dropped, they no longer follow tickets, the notice audience skips
    them). Records an "erase" PrivacyEvent with `by` "self" or "cli" and counts only.
    """
    who = _asker(telegram_id, by)
    async with uow:
        person = await _find(uow, telegram_id)
        assert person.id is not None
        if await _holds_staff_role(uow, person.id):
            raise StaffNotErasable("revoke the person's staff roles first")
        done = await erase_row(uow, person)
        _record(uow, person.id, "erase", who, done.counts())
        await uow.commit()
    return done


async def _holds_staff_role(uow: UnitOfWork, person_id: int) -> bool:
    found = await uow.session.execute(
        select(RoleGrant.id)
        .where(RoleGrant.person_id == person_id, col(RoleGrant.role) != Role.REQUESTER)
        .limit(1)
    )
    return found.first() is not None


async def erase_row(uow: UnitOfWork, person: Person) -> Erasure:
    """Erase one person inside the caller's unit (no commit, no PrivacyEvent).

    - the row: name "" , phone, room, time zone, language, Telegram id cleared, skills
      emptied, off duty, `erased_at` set; grants of the requester role removed;
    - drafts: their draft row deleted (the report in progress is cancelled);
    - tickets they requested: contact phone erased (and on tickets they filed for someone
      else with their own phone), kept otherwise; `updated_at` is not touched (figures
      unchanged);
    - notices: pending outbox rows to them deleted (delivered ones stay as the record of
      what was sent; they hold no name or phone of theirs); the contact phone and their
      name or phone in other people's notices about their tickets scrubbed, and, for
      someone who worked tickets, their name in "staff.unreachable" notices;
    - following: they stop following tickets; their board sign-in links are deleted;
    - timeline: their name removed from the notes that name people (a booth claim, the
      technicians offered or assigned) on their own steps, their tickets and the jobs
      they were offered or hold;
    - a walk-up person row the booth made for them (no Telegram id, same name or phone,
      no ticket left) is erased too.
    """
    pid = person.id
    assert pid is not None
    name, phone = person.name, person.phone
    done = Erasure(person_id=pid)
    session = uow.session
    mine = list(
        (await session.execute(select(Ticket.id).where(Ticket.requester_id == pid))).scalars()
    )
    ticket_ids = [i for i in mine if i is not None]
    done.tickets_kept = len(ticket_ids)
    # Index seeks only (requester, filer): retention erases many people in a row.
    phone_where: list[list[ColumnElement[bool]]] = [[col(Ticket.requester_id) == pid]]
    if phone:
        phone_where.append([col(Ticket.filed_by_id) == pid, col(Ticket.contact_phone) == phone])
    for where in phone_where:
        result = await session.execute(
            update(Ticket)
            .where(*where, col(Ticket.contact_phone).is_not(None))
            .values(contact_phone=None, version=col(Ticket.version) + 1)
            .returning(col(Ticket.id))
            .execution_options(synchronize_session=False)
        )
        done.phones_erased += len(result.scalars().all())
    done.drafts_cancelled = _count(
        await session.execute(delete(Draft).where(col(Draft.person_id) == pid))
    )
    done.notices_dropped = _count(
        await session.execute(
            delete(Outbox).where(
                col(Outbox.recipient_id) == pid,
                col(Outbox.sent_at).is_(None),
                col(Outbox.failed_at).is_(None),
            )
        )
    )
    done.follows_ended = _count(
        await session.execute(delete(TicketFollower).where(col(TicketFollower.person_id) == pid))
    )
    await session.execute(delete(BoardSignIn).where(col(BoardSignIn.person_id) == pid))
    await session.execute(
        delete(RoleGrant).where(
            col(RoleGrant.person_id) == pid, col(RoleGrant.role) == Role.REQUESTER
        )
    )
    worked = await _tickets_worked(uow, pid)
    names, phones = ([name] if name else []), ([phone] if phone else [])
    # A technician's name is in "staff.unreachable" notices to dispatchers: looked for
    # only when they ever worked a ticket (that search reads every notice).
    await scrub_notices(uow, ticket_ids, names=names if worked else [], phones=phones)
    if name:
        await _scrub_event_notes(uow, pid, name, [*ticket_ids, *worked])
        done.extra["walkups_erased"] = await _erase_walkups(uow, pid, name, phone)
    person.name = ""
    person.phone = None
    person.room_id = None
    person.timezone = None
    person.language = None
    person.telegram_id = None
    person.skills = []
    person.on_duty = False
    person.erased_at = uow.now()
    session.add(person)
    await uow.flush()
    cache = drafts_seen(uow)
    uow.after_commit(lambda: cache.forget(pid))
    return done


def _count(result: Any) -> int:
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


async def scrub_notices(
    uow: UnitOfWork,
    ticket_ids: Collection[int],
    *,
    names: Collection[str] = (),
    phones: Collection[str] = (),
    drop_phone: bool = True,
    drop_photos: bool = False,
) -> None:
    """Remove personal data from the outbox rows about `ticket_ids` (and from
    "staff.unreachable" notices naming `names`): contact phones (`drop_phone`), photo file
    ids (`drop_photos`), and any value equal to one of `names` or `phones`."""
    where: list[ColumnElement[bool]] = []
    if ticket_ids:
        where.append(col(Outbox.ticket_id).in_(list(ticket_ids)))
    if names:
        where.append(col(Outbox.kind) == "staff.unreachable")
    if not where:
        return
    rows = (await uow.session.execute(select(Outbox).where(or_(*where)))).scalars().all()
    for row in rows:
        payload = dict(row.payload)
        changed = False
        for key, value in list(payload.items()):
            if (drop_phone and key in _PHONE_KEYS and value is not None) or (
                isinstance(value, str) and value and (value in names or value in phones)
            ):
                payload[key] = None
                changed = True
            elif drop_photos and key == "photos" and value:
                payload[key] = []
                changed = True
        if changed:
            await uow.session.execute(
                update(Outbox)
                .where(col(Outbox.id) == row.id)
                .values(payload=payload)
                .execution_options(synchronize_session=False)
            )


async def _tickets_worked(uow: UnitOfWork, pid: int) -> list[int]:
    """Tickets the person was offered or holds (index seeks): where notes name them."""
    offered = await uow.session.execute(select(Offer.ticket_id).where(Offer.technician_id == pid))
    held = await uow.session.execute(select(Ticket.id).where(col(Ticket.assignee_id) == pid))
    return sorted({i for i in [*offered.scalars(), *held.scalars()] if i is not None})


async def _scrub_event_notes(
    uow: UnitOfWork, pid: int, name: str, ticket_ids: Collection[int]
) -> None:
    """Take `name` out of the notes that name people: their own steps (a booth claim)
    and the naming steps (offer, assign) of `ticket_ids` — their tickets and the jobs
    they were offered or hold; each found through an index, not the whole history."""
    where: list[ColumnElement[bool]] = [col(TicketEvent.actor_id) == pid]
    if ticket_ids:
        where.append(col(TicketEvent.ticket_id).in_(sorted(set(ticket_ids))))
    rows = (
        await uow.session.execute(
            select(TicketEvent).where(
                or_(*where),
                col(TicketEvent.action).in_(_NAMING_ACTIONS),
                col(TicketEvent.note).is_not(None),
            )
        )
    ).scalars()
    for event in rows.all():
        parts = [p for p in (event.note or "").split(",") if p != name]
        note = ",".join(parts) or None
        if note != event.note:
            await uow.session.execute(
                update(TicketEvent)
                .where(col(TicketEvent.id) == event.id)
                .values(note=note)
                .execution_options(synchronize_session=False)
            )


async def _erase_walkups(uow: UnitOfWork, pid: int, name: str, phone: str | None) -> int:
    """The booth's walk-up rows for this person (no Telegram id, their name or phone,
    not erased, no ticket of theirs left after the claim): erased too."""
    same = [col(Person.name) == name]
    if phone:
        same.append(col(Person.phone) == phone)
    rows = (
        await uow.session.execute(
            select(Person).where(
                col(Person.telegram_id).is_(None),
                col(Person.erased_at).is_(None),
                col(Person.id) != pid,
                or_(*same),
                ~exists().where(col(Ticket.requester_id) == Person.id),
                ~exists().where(col(Ticket.filed_by_id) == Person.id),
                ~exists().where(col(RoleGrant.person_id) == Person.id),
            )
        )
    ).scalars()
    count = 0
    for walkup in rows.all():
        walkup.name, walkup.phone, walkup.room_id = "", None, None
        walkup.erased_at = uow.now()
        uow.session.add(walkup)
        count += 1
    return count


# --- retention ---------------------------------------------------------------------------


def _ended_before(cutoff: datetime) -> list[ColumnElement[bool]]:
    """Tickets closed or cancelled before `cutoff` (a closed one by its close, a cancelled
    one by its last change)."""
    return [
        col(Ticket.status).in_(ENDED_STATUSES),
        func.coalesce(col(Ticket.closed_at), col(Ticket.updated_at)) < cutoff,
    ]


async def erase_contacts_batch(uow: UnitOfWork, *, after: int = 0, limit: int = BATCH) -> Batch:
    """Retention: the contact phone of tickets closed or cancelled more than
    `policy.contact_retention` ago is erased (on the ticket and in notices about it).

    A scheduled move like the SLA checks: claimed by a conditional UPDATE (of two runs
    each ticket goes to one), idempotent (an erased phone is no longer due), batch by
    batch from `after`; `updated_at` is untouched, so figures do not change."""
    async with uow:
        cutoff = uow.now() - uow.policy.contact_retention
        due = [*_ended_before(cutoff), col(Ticket.contact_phone).is_not(None)]
        batch, claimed = await claim_due(uow, due, after, limit, contact_phone=None)
        await scrub_notices(uow, claimed)
        batch.numbers = [str(i) for i in claimed]
        await uow.commit()
    return batch


async def drop_photos_batch(uow: UnitOfWork, *, after: int = 0, limit: int = BATCH) -> Batch:
    """Retention: the photos (Telegram file ids, report and result) of tickets closed or
    cancelled more than `policy.photo_retention` ago are deleted, and the ticket's
    `photos_removed_at` set (the board then says "photo removed after N days"); the file
    ids in notices about those tickets go too. Claimed and idempotent like
    `erase_contacts_batch` (a ticket with `photos_removed_at` set is no longer due)."""
    async with uow:
        cutoff = uow.now() - uow.policy.photo_retention
        has_photos = exists().where(col(TicketPhoto.ticket_id) == Ticket.id)
        due = [*_ended_before(cutoff), col(Ticket.photos_removed_at).is_(None), has_photos]
        batch, claimed = await claim_due(uow, due, after, limit, photos_removed_at=uow.now())
        if claimed:
            await uow.session.execute(
                delete(TicketPhoto).where(col(TicketPhoto.ticket_id).in_(claimed))
            )
            await scrub_notices(uow, claimed, drop_phone=False, drop_photos=True)
        batch.numbers = [str(i) for i in claimed]
        await uow.commit()
    return batch


def _inactive_since(cutoff: datetime) -> list[ColumnElement[bool]]:
    """People with no sign of life since `cutoff` and nothing that still needs them."""
    pid = col(Person.id)
    return [
        col(Person.erased_at).is_(None),
        col(Person.created_at) < cutoff,
        or_(col(Person.seen_at).is_(None), col(Person.seen_at) < cutoff),
        ~exists().where(col(RoleGrant.person_id) == pid, col(RoleGrant.role) != Role.REQUESTER),
        # One NOT EXISTS per way a ticket is theirs: each a seek on its own index.
        *(
            ~exists().where(
                mine,
                or_(col(Ticket.status).in_(list(OPEN_STATUSES)), col(Ticket.updated_at) >= cutoff),
            )
            for mine in (col(Ticket.requester_id) == pid, col(Ticket.filed_by_id) == pid)
        ),
        ~exists().where(
            col(Ticket.assignee_id) == pid, col(Ticket.status).in_(list(OPEN_STATUSES))
        ),
        ~exists().where(col(TicketEvent.actor_id) == pid, col(TicketEvent.at) >= cutoff),
        ~exists().where(col(Draft.person_id) == pid, col(Draft.updated_at) >= cutoff),
        ~exists().where(col(TicketFollower.person_id) == pid, col(TicketFollower.since) >= cutoff),
        ~exists().where(col(FollowUp.raised_by_id) == pid, col(FollowUp.opened_at) >= cutoff),
    ]


# People erased per batch (one transaction): each erasure is ~17 short statements.
PEOPLE_BATCH = 20


async def anonymise_inactive_batch(
    uow: UnitOfWork, *, after: int = 0, limit: int = PEOPLE_BATCH
) -> Batch:
    """Retention: people (requesters and the booth's walk-up rows) with no activity for
    `policy.person_retention` — not seen writing to the bot, no ticket of theirs changed,
    no step, draft, follow or complaint of theirs since — with no open ticket (filed,
    requested or held) and no staff role are erased as `erase_row` does, each recorded
    as an "erase" PrivacyEvent by "retention". Claimed per person by re-reading the row
    with its due conditions under a row lock (FOR UPDATE on PostgreSQL; SQLite serialises
    writers), so of two runs at once one erases it; idempotent (an erased person is no
    longer due). `numbers` holds the person ids done."""
    async with uow:
        cutoff = uow.now() - uow.policy.person_retention
        due = _inactive_since(cutoff)
        stmt = (
            sa_select(col(Person.id))
            .where(*due, col(Person.id) > after)
            .order_by(col(Person.id))
            .limit(limit)
        )
        ids = [int(i) for i in (await uow.session.execute(stmt)).scalars() if i is not None]
        batch = Batch(last_id=ids[-1] if ids else None)
        for person_id in ids:
            person = (
                await uow.session.execute(
                    select(Person)
                    .where(col(Person.id) == person_id, *due)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            ).scalar_one_or_none()
            if person is None:
                continue
            done = await erase_row(uow, person)
            _record(uow, person_id, "erase", "retention", done.counts())
            batch.numbers.append(str(person_id))
        await uow.commit()
    return batch


RETENTION_STEPS = (erase_contacts_batch, drop_photos_batch, anonymise_inactive_batch)


__all__ = [
    "CLI",
    "RETENTION_STEPS",
    "Asker",
    "Erasure",
    "StaffNotErasable",
    "anonymise_inactive_batch",
    "drop_photos_batch",
    "erase_contacts_batch",
    "erase_person",
    "erase_row",
    "export_person",
    "scrub_notices",
]
