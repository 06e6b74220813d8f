"""Who may see a requester's phone number: the one place that decides it. Pure, no I/O.

A phone is personal data that only a few people need to do their job:

- the technician holding the job, while it is open (to arrange the visit);
- the dispatchers and supervisors of the ticket's building (admins count as dispatchers
  of their scope), on the ticket's card (to chase a job or answer a complaint).

Nobody else, and nowhere else: not in lists (queues, jobs, my tickets, the board's
lists), digests, offers to technicians who have not taken the job, or exports, except
the `phone` column an admin asks for explicitly (`/export --with-phones`).

Every screen that shows one asks here: `ticket_views.ticket_detail` fills a view's
`contact_phone` only when `phone_visible` says so (lists never carry it), notices to a
technician carry it only when `phone_visible` would show it to them, and the export adds
the column only when `may_export_phones`.
"""

from __future__ import annotations

from collections.abc import Set

from store.lifecycle import OPEN_STATUSES, Capacity, Role, Status

# The capacities that see the phone on the ticket's card whatever its state (until the
# retention period erases it).
_OFFICE = frozenset({Capacity.DISPATCHER, Capacity.SUPERVISOR})


def phone_visible(status: Status, capacities: Set[Capacity]) -> bool:
    """Whether someone standing in `capacities` towards a ticket in `status` may see its
    requester's phone on the ticket's card."""
    if capacities & _OFFICE:
        return True
    return Capacity.ASSIGNEE in capacities and status in OPEN_STATUSES


def may_export_phones(roles: Set[Role]) -> bool:
    """Whether someone with `roles` may have the `phone` column in an export: admins."""
    return Role.ADMIN in roles
