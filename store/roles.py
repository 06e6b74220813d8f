"""Named sets of roles: who counts as a dispatcher, a supervisor, a filer, spelled once.
Pure: no I/O. A grant's scope (everywhere, a campus, a building) is store.domain.scope's."""

from __future__ import annotations

from store.lifecycle import Role

# Everyone who holds a role beyond writing to the bot.
STAFF: frozenset[Role] = frozenset(Role) - {Role.REQUESTER}
# Work the queue: assign, reassign, cancel with a reason, the stale list.
DISPATCHERS: frozenset[Role] = frozenset({Role.DISPATCHER, Role.ADMIN})
# Follow-ups, the digest, time zones, invites.
SUPERVISORS: frozenset[Role] = frozenset({Role.SUPERVISOR, Role.ADMIN})
# The office's figures: /stats, /export and the board's office pages.
FIGURES: frozenset[Role] = SUPERVISORS | DISPATCHERS
# File a ticket for someone else: for a walk-up person at the booth, for a resident (the
# ticket's FILER capacity). Supervisors among them: wherever FILER reaches they stand in
# their SUPERVISOR capacity already, so it shows them no ticket and no button more.
FILERS: frozenset[Role] = frozenset({Role.INSPECTOR, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
# Walk a building room by room (/sweep).
SWEEPERS: frozenset[Role] = frozenset({Role.SUPERVISOR, Role.INSPECTOR, Role.ADMIN})
# Open the office board: the office for its figures, technicians for their own jobs.
BOARD: frozenset[Role] = FIGURES | {Role.TECHNICIAN}
# The roles a supervisor may invite (an admin may invite any staff role).
SUPERVISOR_INVITABLE: frozenset[Role] = frozenset(
    {Role.TECHNICIAN, Role.DISPATCHER, Role.INSPECTOR}
)
