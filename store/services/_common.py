"""Compatibility: the pieces that used to live here, re-exported from the modules that
now hold them (tickets, lookups, scope, notices, numbering, followups). New code imports
from those modules; this one goes once no caller is left. `clean_text` is
`store.text.normalise` under its old name."""

from __future__ import annotations

from store.services.lookups import Place, category_targets, get_category, get_person, get_place
from store.services.notices import (
    SCHEDULED_KINDS,
    notify,
    notify_audience,
    notify_dispatchers,
    ticket_audience,
    withdraw_scheduled,
)
from store.services.numbering import next_number
from store.services.scope import (
    DISPATCH_ROLES,
    FILER_ROLES,
    SUPERVISOR_ROLES,
    grant_covers,
    grants_of,
    responsible_supervisors,
    roles_covering,
    staff_covering,
)
from store.services.tickets import (
    TicketContext,
    capacities_for,
    claim_due_tickets,
    get_ticket,
    hide_from_strangers,
    load,
    log_event,
    move,
    write,
)
from store.text import normalise
from store.uow import UnitOfWork


def clean_text(value: str | None) -> str | None:
    """Normalised free text (store/text.py); empty becomes None."""
    return normalise(value)


async def open_followup(uow: UnitOfWork, ctx: TicketContext, kind: str, text: str | None) -> str:
    """Moved to store.services.followups (imported late: followups imports this module)."""
    from store.services.followups import open_followup as moved

    return await moved(uow, ctx, kind, text)


__all__ = [
    "DISPATCH_ROLES",
    "FILER_ROLES",
    "SCHEDULED_KINDS",
    "SUPERVISOR_ROLES",
    "Place",
    "TicketContext",
    "capacities_for",
    "category_targets",
    "claim_due_tickets",
    "clean_text",
    "get_category",
    "get_person",
    "get_place",
    "get_ticket",
    "grant_covers",
    "grants_of",
    "hide_from_strangers",
    "load",
    "log_event",
    "move",
    "next_number",
    "notify",
    "notify_audience",
    "notify_dispatchers",
    "open_followup",
    "responsible_supervisors",
    "roles_covering",
    "staff_covering",
    "ticket_audience",
    "withdraw_scheduled",
    "write",
]
