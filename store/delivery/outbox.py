"""The outbox's read and bookkeeping side; the transport's sender does the sending."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import col, select

from store import roles as store_roles
from store.db import rowcount
from store.domain.notices import SCHEDULED_KINDS, notify
from store.domain.offers import withdraw_offers_of
from store.domain.scope import grants_of
from store.lifecycle import Role
from store.models import Outbox, Person, RoleGrant
from store.uow import UnitOfWork

MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice ready to render and send."""

    id: int
    kind: str
    payload: dict[str, Any]
    ticket_id: int | None
    recipient_id: int
    telegram_id: int | None
    language: str | None
    attempts: int


async def give_up_unreachable(uow: UnitOfWork) -> int:
    """Notices for someone known to have blocked the bot (or never started it) are given up
    without another call to Telegram, until they write to the bot again. Returns how many."""
    async with uow:
        unreachable = select(Person.id).where(col(Person.unreachable_since).is_not(None))
        result = await uow.session.execute(
            update(Outbox)
            .where(
                col(Outbox.recipient_id).in_(unreachable),
                col(Outbox.sent_at).is_(None),
                col(Outbox.failed_at).is_(None),
            )
            .values(failed_at=uow.now(), last_error="recipient unreachable")
            .execution_options(synchronize_session=False)
        )
        await uow.commit()
        return rowcount(result)


async def next_per_chat(
    uow: UnitOfWork, *, limit: int, skip_chats: Collection[int] = ()
) -> list[Notice]:
    """The first pending notice of each chat, when it is due, oldest first, for chats not
    in `skip_chats`.

    One per chat: a chat's backlog (a burst of notices to one person) then takes one place
    per batch, not the whole batch, and never holds up other chats' notices while it waits
    for its one-second gap. A chat's notices go in the order they were written (by id): a
    notice handed back, postponed by a 429 or waiting to be retried keeps its place, and
    the ones written after it wait for it ("received" never arrives after "offered to 3
    technicians"). Only reminders written ahead for later (SCHEDULED_KINDS) stand aside
    until their time comes.
    """
    async with uow.reading():
        now = uow.now()
        due = (
            select(
                col(Outbox.id).label("id"),
                func.row_number()
                .over(partition_by=col(Outbox.recipient_id), order_by=col(Outbox.id))
                .label("place"),
            )
            .where(
                col(Outbox.sent_at).is_(None),
                col(Outbox.failed_at).is_(None),
                or_(col(Outbox.due_at) <= now, col(Outbox.kind).not_in(SCHEDULED_KINDS)),
            )
            .subquery()
        )
        stmt = (
            select(Outbox, Person.telegram_id, Person.language)
            .join(due, due.c.id == col(Outbox.id))
            .join(Person, col(Person.id) == Outbox.recipient_id)
            .where(due.c.place == 1, col(Outbox.due_at) <= now)
            .order_by(col(Outbox.due_at), col(Outbox.id))
            .limit(limit)
        )
        if skip_chats:
            stmt = stmt.where(col(Person.telegram_id).not_in(list(skip_chats)))
        rows = await uow.session.execute(stmt)
        return [_notice(o, tg, lang) for o, tg, lang in rows.all()]


def _notice(o: Outbox, telegram_id: int | None, language: str | None) -> Notice:
    return Notice(
        id=o.id or 0,
        kind=o.kind,
        payload=dict(o.payload),
        ticket_id=o.ticket_id,
        recipient_id=o.recipient_id,
        telegram_id=telegram_id,
        language=language,
        attempts=o.attempts,
    )


@dataclass(frozen=True, slots=True)
class Backlog:
    """Notices due now and not yet sent (nor given up), and when the oldest fell due."""

    due: int
    oldest_due_at: datetime | None


async def backlog(uow: UnitOfWork) -> Backlog:
    """The sender's backlog, for monitoring: one range seek on `ix_outbox_pending` (pending
    rows only, however long the sent history). A notice the sender has claimed is not due
    until its lease ends, so a healthy sender keeps this near 0."""
    async with uow.reading():
        row = (
            await uow.session.execute(
                select(func.count(), func.min(col(Outbox.due_at))).where(
                    col(Outbox.sent_at).is_(None),
                    col(Outbox.failed_at).is_(None),
                    col(Outbox.due_at) <= uow.now(),
                )
            )
        ).one()
    return Backlog(due=int(row[0]), oldest_due_at=row[1])


async def claim_many(uow: UnitOfWork, notice_ids: Collection[int], lease: timedelta) -> set[int]:
    """Reserve due notices for this sender, in one statement, by moving their due time past
    the lease: of two senders (say, a leader and its successor) only one gets each. If the
    claimer dies before marking one, it becomes due again when the lease ends. Returns the
    ids this sender now holds."""
    if not notice_ids:
        return set()
    async with uow:
        now = uow.now()
        result = await uow.session.execute(
            update(Outbox)
            .where(
                col(Outbox.id).in_(list(notice_ids)),
                col(Outbox.sent_at).is_(None),
                col(Outbox.failed_at).is_(None),
                col(Outbox.due_at) <= now,
            )
            .values(due_at=now + lease)
            .returning(col(Outbox.id))
        )
        claimed = {i for i in result.scalars().all() if i is not None}
        await uow.commit()
        return claimed


async def release(uow: UnitOfWork, notice_ids: Collection[int]) -> None:
    """Hand claimed notices back unsent: due again now, for the next batch."""
    if not notice_ids:
        return
    async with uow:
        await uow.session.execute(
            update(Outbox)
            .where(col(Outbox.id).in_(list(notice_ids)), col(Outbox.sent_at).is_(None))
            .values(due_at=uow.now())
        )
        await uow.commit()


async def mark_sent(uow: UnitOfWork, notice_id: int, delivery_ref: int | None) -> None:
    """Telegram accepted it: never send it again."""
    async with uow:
        await uow.session.execute(
            update(Outbox)
            .where(col(Outbox.id) == notice_id)
            .values(sent_at=uow.now(), attempts=Outbox.attempts + 1, delivery_ref=delivery_ref)
        )
        await uow.commit()


# Payload key the sender sets once a notice's photos went out ahead of its text.
PHOTOS_SENT = "_photos_sent"


async def mark_photos_sent(uow: UnitOfWork, notice_id: int) -> None:
    """The photos sent ahead of a notice's text were accepted: a retry of the text (after a
    5xx, a timeout, a flood wait) must not send them again."""
    async with uow:
        row = await uow.session.get(Outbox, notice_id)
        if row is not None:
            row.payload = {**row.payload, PHOTOS_SENT: True}
            uow.session.add(row)
            await uow.commit()


async def mark_retry(uow: UnitOfWork, notice_id: int, error: str, delay: timedelta) -> bool:
    """A passing failure: try again after `delay`; False once attempts are used up."""
    async with uow:
        row = await uow.session.get(Outbox, notice_id)
        if row is None:
            return False
        row.attempts += 1
        row.last_error = error[:500]
        if row.attempts >= MAX_ATTEMPTS:
            row.failed_at = uow.now()
        else:
            row.due_at = uow.now() + delay
        uow.session.add(row)
        await uow.commit()
        return row.failed_at is None


async def postpone(uow: UnitOfWork, notice_id: int, until: datetime) -> None:
    """Rate-limited (429): not the notice's fault, so no attempt is counted."""
    async with uow:
        await uow.session.execute(
            update(Outbox).where(col(Outbox.id) == notice_id).values(due_at=until)
        )
        await uow.commit()


async def mark_unreachable(uow: UnitOfWork, notice_id: int, error: str) -> list[int]:
    """The recipient blocked the bot or never started it: stop trying every notice of theirs.

    Returns the ids of their other pending notices that were given up as well.
    """
    async with uow:
        row = await uow.session.get(Outbox, notice_id)
        if row is None:
            return []
        now = uow.now()
        await _flag_unreachable(uow, row.recipient_id)
        pending = list(
            (
                await uow.session.execute(
                    select(Outbox.id).where(
                        Outbox.recipient_id == row.recipient_id,
                        col(Outbox.sent_at).is_(None),
                        col(Outbox.failed_at).is_(None),
                    )
                )
            ).scalars()
        )
        await uow.session.execute(
            update(Outbox)
            .where(col(Outbox.id).in_(pending))
            .values(failed_at=now, last_error=error[:500], attempts=Outbox.attempts + 1)
        )
        await uow.commit()
        return [pid for pid in pending if pid != notice_id]


async def _flag_unreachable(uow: UnitOfWork, person_id: int) -> None:
    """Set the flag once; a technician's open offers move on and dispatchers hear of it."""
    person = await uow.session.get(Person, person_id)
    if person is not None and person.unreachable_since is None:
        person.unreachable_since = uow.now()
        uow.session.add(person)
        await _tell_dispatchers_about_staff(uow, person)
        await withdraw_offers_of(uow, person_id)


async def person_blocked_bot(uow: UnitOfWork, person_id: int) -> None:
    """Telegram told us (my_chat_member "kicked") that the person blocked the bot: stop
    sending to them now, before a notice fails."""
    async with uow:
        await _flag_unreachable(uow, person_id)
        await uow.commit()


async def _tell_dispatchers_about_staff(uow: UnitOfWork, person: Person) -> None:
    """A technician nobody can reach gets no offers; the dispatchers must know."""
    roles = {g.role for g in await grants_of(uow, person.id or 0)}
    if Role.TECHNICIAN not in roles:
        return
    rows = await uow.session.execute(
        select(RoleGrant.person_id)
        .where(col(RoleGrant.role).in_(store_roles.DISPATCHERS))
        .distinct()
    )
    for dispatcher_id in rows.scalars():
        if dispatcher_id != person.id:
            notify(uow, dispatcher_id, "staff.unreachable", {"name": person.name})


async def mark_reachable(uow: UnitOfWork, person_id: int) -> None:
    """They wrote to the bot again: deliver to them from now on."""
    async with uow:
        person = await uow.session.get(Person, person_id)
        if person is not None and person.unreachable_since is not None:
            person.unreachable_since = None
            uow.session.add(person)
            await uow.commit()


async def delivery_ref(
    uow: UnitOfWork, recipient_id: int, ticket_id: int, kind: str
) -> int | None:
    """The message id of an earlier notice, so a follow-up can edit it in place."""
    async with uow:
        return (
            await uow.session.execute(
                select(Outbox.delivery_ref)
                .where(
                    Outbox.recipient_id == recipient_id,
                    Outbox.ticket_id == ticket_id,
                    Outbox.kind == kind,
                    col(Outbox.delivery_ref).is_not(None),
                )
                .order_by(col(Outbox.id).desc())
                .limit(1)
            )
        ).scalar_one_or_none()
