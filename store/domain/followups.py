"""Supervisors' follow-ups raised by low ratings, complaints and missed promises.

Who may see and resolve a follow-up is decided when they look or act, from their roles
and scope at that moment: `FollowUp.supervisor_id` only records who was told when it
opened. A supervisor whose role was removed, or who moved elsewhere, loses the building's
follow-ups at once, and whoever supervises the building now sees them.
"""

from __future__ import annotations

from store.domain.notices import notify
from store.domain.numbering import next_number
from store.domain.scope import (
    responsible_supervisors,
)
from store.domain.tickets import TicketContext, log_event
from store.models import FollowUp
from store.uow import UnitOfWork


async def open_followup(uow: UnitOfWork, ctx: TicketContext, kind: str, text: str | None) -> str:
    """Open a supervisor follow-up on the ticket and tell the responsible supervisors."""
    now = uow.now()
    year = uow.local_year()
    number = f"F{year}-{await next_number(uow, f'followup-{year}'):05d}"
    supervisors = await responsible_supervisors(uow, ctx.place.building)
    followup = FollowUp(
        number=number,
        ticket_id=ctx.id,
        kind=kind,
        text=text,
        raised_by_id=ctx.actor.id if ctx.actor else None,
        supervisor_id=supervisors[0] if supervisors else None,
        opened_at=now,
    )
    uow.session.add(followup)
    payload = {
        **ctx.summary(),
        "followup": number,
        "kind": kind,
        "text": text,
        "rating": ctx.ticket.rating,
        "technician_id": ctx.ticket.assignee_id,
    }
    for supervisor_id in supervisors:
        notify(uow, supervisor_id, "followup.new", payload, ticket_id=ctx.id)
    log_event(uow, ctx, f"followup_{kind}", None, None, note=number)
    return number
