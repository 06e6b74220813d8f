"""Booth intake: staff file for a walk-up person, who claims the ticket later with a code.

Until the ticket is claimed its notices go to the staff member who filed it (the
requester has no Telegram account yet). The claim code is single use and bound to that
one ticket; only its hash is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Set
from dataclasses import dataclass, replace

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from store.db import rowcount
from store.domain.filing import NewTicket, file_in, filed_as, filed_view
from store.domain.lookups import get_place
from store.domain.people import upsert_person
from store.domain.ticket_views import ticket_view
from store.domain.tickets import check_may_file, load, log_event, may_file_for_others, write
from store.errors import InvalidInput, InviteInvalid, NotPermitted
from store.intake import drafts
from store.lifecycle import Role
from store.models import ClaimCode, Person
from store.text import normalise
from store.uow import UnitOfWork
from store.views import ReportResult, TicketView

CLAIM_PREFIX = "c_"  # start payload: CLAIM_PREFIX + code
# Unambiguous characters only: the code may be read aloud or typed from paper.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10  # about 50 bits: not guessable, still short enough to type


@dataclass(frozen=True, slots=True)
class BoothResult:
    """The filed ticket and the claim code to hand to the walk-up person. A submission
    filed before (`report.already_filed`) has no code: only its hash was ever stored."""

    report: ReportResult
    code: str

    @property
    def payload(self) -> str:
        """The deep-link start payload for the claim."""
        return CLAIM_PREFIX + self.code


def _hash(code: str) -> str:
    return hashlib.sha256(code.upper().encode("ascii")).hexdigest()


def check_booth_staff(person_roles: Set[Role]) -> None:
    """NotPermitted unless some role of the person files for walk-ups (somewhere: the
    building is checked when the ticket is filed); asked before the first question."""
    if not may_file_for_others(person_roles):
        raise NotPermitted("booth staff only")


async def file_walkup(
    uow: UnitOfWork,
    *,
    staff_id: int,
    name: str,
    phone: str | None,
    new: NewTicket,
    draft_owner: int | None = None,
) -> BoothResult:
    """File `new` for a walk-up person (name, phone) on behalf of booth staff. Idempotent
    on `new.submission_key`, with the staff member's draft marked filed in the same
    transaction, as `report.report` does."""
    try:
        return await _file_walkup(uow, staff_id, name, phone, new, draft_owner)
    except IntegrityError:
        async with uow:
            earlier = await filed_as(uow, new.submission_key)
            if earlier is None:
                raise
            return _filed_before(await ticket_view(uow, earlier))


def _filed_before(view: TicketView) -> BoothResult:
    return BoothResult(ReportResult(view, already_filed=True), "")


async def _file_walkup(
    uow: UnitOfWork,
    staff_id: int,
    name: str,
    phone: str | None,
    new: NewTicket,
    draft_owner: int | None,
) -> BoothResult:
    person_name = normalise(name)
    if not person_name or len(person_name) > 200:
        raise InvalidInput("the walk-up person's name is required (up to 200 characters)")
    code = "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))
    # One transaction: the walk-up person, their ticket and its claim code exist together
    # or not at all (no stray person when filing is refused, no ticket without a code).
    async with uow:
        place = await get_place(uow, new.room_id)
        # Refused before anything is looked up or made for the walk-up person (filing
        # asks the same again when it opens the ticket).
        await check_may_file(uow, staff_id, place.building, for_someone_else=True)
        earlier = await filed_as(uow, new.submission_key)
        if earlier is not None:
            return _filed_before(await ticket_view(uow, earlier))
        walkup = Person(name=person_name, phone=normalise(phone), created_at=uow.now())
        uow.session.add(walkup)
        await uow.flush()
        assert walkup.id is not None
        walkup_ticket = replace(
            new,
            requester_id=walkup.id,
            filed_by_id=staff_id,
            contact_phone=new.contact_phone or normalise(phone),
        )
        filed = await file_in(uow, walkup_ticket)
        claim_code = ClaimCode(ticket_id=filed.id, code_hash=_hash(code), created_at=uow.now())
        uow.session.add(claim_code)
        if draft_owner is not None and new.submission_key is not None:
            await drafts.mark_filed(uow, draft_owner, new.submission_key, filed.id, filed.number)
        view = await filed_view(uow, filed, walkup_ticket)
        await uow.commit()
        result = ReportResult(view, filed.offered, escalated=not filed.offered)
    return BoothResult(result, code)


async def claim(
    uow: UnitOfWork, code: str, *, telegram_id: int, name: str | None, language: str | None
) -> str:
    """Link a booth ticket to the Telegram user who opened its claim link; returns its
    number. A code works once, and only for its ticket."""
    cleaned = code.strip().upper()
    if len(cleaned) != CODE_LENGTH or any(c not in _ALPHABET for c in cleaned):
        raise InviteInvalid("tampered")
    async with uow:
        row = (
            await uow.session.execute(
                select(ClaimCode).where(ClaimCode.code_hash == _hash(cleaned))
            )
        ).scalar_one_or_none()
        if row is None:
            raise InviteInvalid("unknown")
        if row.used_at is not None:
            raise InviteInvalid("used")
        if row.created_at + uow.policy.claim_ttl <= uow.now():
            raise InviteInvalid("expired")
        person = await upsert_person(uow, telegram_id, name, language)
        await uow.flush()
        assert person.id is not None and row.id is not None
        won = await uow.session.execute(
            update(ClaimCode)
            .where(col(ClaimCode.id) == row.id, col(ClaimCode.used_at).is_(None))
            .values(used_at=uow.now(), used_by_id=person.id)
            .execution_options(synchronize_session=False)
        )
        if rowcount(won) != 1:
            raise InviteInvalid("used")
        ctx = await load(uow, row.ticket_id, person.id)
        walkup = await uow.session.get(Person, ctx.ticket.requester_id)
        if person.phone is None and walkup is not None:
            person.phone = walkup.phone
        await write(uow, ctx, "claim", requester_id=person.id)
        log_event(uow, ctx, "claim", None, None, note=person.name)
        await uow.commit()
        return ctx.ticket.number
