"""Filing a ticket: validate it, have the aggregate open it (who may file, its number, its
row, its log), add photos and followers, and hand it to dispatch at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from sqlmodel import col, select

from store.domain.lookups import get_person, get_place
from store.domain.notices import notify_audience
from store.domain.offers import offer_to_on_duty_technicians
from store.domain.ticket_views import ticket_views
from store.domain.tickets import TicketContext, move, open_ticket
from store.errors import DescriptionTooLong, InvalidInput, NotFound, TooManyPhotos
from store.lifecycle import Action, Capacity
from store.models import Category, Ticket, TicketFollower, TicketPhoto
from store.text import normalise
from store.uow import UnitOfWork
from store.views import TicketView


class Urgency(StrEnum):
    """How soon it must be fixed; emergency also shows the emergency phone."""

    NORMAL = "normal"
    URGENT = "urgent"
    EMERGENCY = "emergency"


@dataclass(frozen=True, slots=True)
class NewTicket:
    """Everything a report carries; `filed_by_id` differs for proxy filing."""

    requester_id: int
    room_id: int
    category_key: str
    description: str
    urgency: Urgency = Urgency.NORMAL
    photos: Sequence[str] = ()
    contact_phone: str | None = None
    filed_by_id: int | None = None
    # A fault found while sweeping the building, and who else hears about it from the
    # start (the room's residents).
    sweep_id: int | None = None
    followers: Sequence[int] = ()
    # What this filing comes from (a draft, a sweep card's item): stored unique with the
    # ticket, so the same submission files one ticket however often it is retried.
    submission_key: str | None = None


def validate_description(uow: UnitOfWork, text: str) -> str:
    """The trimmed description, or an error naming the limit."""
    cleaned = normalise(text)
    if not cleaned:
        raise InvalidInput("description is empty")
    if len(cleaned) > uow.policy.description_max:
        raise DescriptionTooLong(
            "description too long", limit=uow.policy.description_max, length=len(cleaned)
        )
    return cleaned


@dataclass(frozen=True, slots=True)
class Filed:
    """A ticket `file_in` just filed: its id, its number, and who was offered it."""

    id: int
    number: str
    offered: list[int]


async def filed_view(uow: UnitOfWork, filed: Filed, new: NewTicket) -> TicketView:
    """The view of a ticket filed in this unit; its photos are the ones it was filed with."""
    views = await ticket_views(uow, [col(Ticket.id) == filed.id], with_photos=False)
    return replace(views[0], photos=tuple(new.photos))


async def filed_as(uow: UnitOfWork, submission_key: str | None) -> int | None:
    """The id of the ticket filed from this submission, if it was filed already."""
    if submission_key is None:
        return None
    found = await uow.session.execute(
        select(Ticket.id).where(Ticket.submission_key == submission_key)
    )
    return found.scalar_one_or_none()


async def file_in(uow: UnitOfWork, new: NewTicket) -> Filed:
    """`report` inside a transaction the caller owns and commits, for callers that write
    more in the same one (booth intake, sweep faults)."""
    description = validate_description(uow, new.description)
    if len(new.photos) > uow.policy.photos_max:
        raise TooManyPhotos("too many photos", limit=uow.policy.photos_max)
    try:
        urgency = Urgency(new.urgency)
    except ValueError:
        raise InvalidInput("unknown urgency", urgency=str(new.urgency)) from None
    category = (
        await uow.session.execute(
            select(Category).where(Category.key == new.category_key, Category.active)
        )
    ).scalar_one_or_none()
    if category is None:
        raise NotFound("category", category=new.category_key)
    place = await get_place(uow, new.room_id)
    requester = await get_person(uow, new.requester_id)
    filer_id = new.filed_by_id or new.requester_id
    for_someone_else = filer_id != new.requester_id
    # Who hears about it (ticket_audience), known without asking: a requester without
    # Telegram (booth walk-up) is heard through the filer.
    audience = [new.requester_id if requester.telegram_id is not None else filer_id]
    followers = [f for f in dict.fromkeys(new.followers) if f != new.requester_id]
    audience += [f for f in followers if f not in audience]
    ctx = await open_ticket(
        uow,
        place,
        category,
        urgency,
        requester_id=new.requester_id,
        filer_id=filer_id,
        audience=audience,
        description=description,
        # Someone filing for a resident may fall back on the resident's saved number; a
        # requester's own report carries exactly what they chose (Skip means no number).
        contact_phone=normalise(new.contact_phone)
        or (requester.phone if for_someone_else else None),
        sweep_id=new.sweep_id,
        submission_key=new.submission_key,
    )
    for position, file_id in enumerate(new.photos):
        uow.session.add(TicketPhoto(ticket_id=ctx.id, position=position, file_id=file_id))
    since = ctx.ticket.created_at
    for follower in followers:
        uow.session.add(TicketFollower(ticket_id=ctx.id, person_id=follower, since=since))
    await notify_audience(uow, ctx, "ticket.received")
    offered = await dispatch_now(uow, ctx, photos=list(new.photos))
    return Filed(ctx.id, ctx.ticket.number, offered)


async def dispatch_now(uow: UnitOfWork, ctx: TicketContext, *, photos: list[str]) -> list[int]:
    """received → dispatching by the system, then offer it; returns who was offered."""
    system = replace(ctx, actor=None, capacities=frozenset({Capacity.SYSTEM}))
    await move(uow, system, Action.DISPATCH, dispatched_at=uow.now())
    offered = await offer_to_on_duty_technicians(uow, system, just_filed=photos)
    if offered:
        await notify_audience(uow, system, "ticket.dispatching", offered=len(offered))
    return offered
