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
# File a ticket for someone else (the ticket's FILER capacity).
FILERS: frozenset[Role] = frozenset({Role.INSPECTOR, Role.DISPATCHER, Role.ADMIN})
# File for a walk-up person at the booth.
BOOTH: frozenset[Role] = FILERS | {Role.SUPERVISOR}
# Walk a building room by room (/sweep).
SWEEPERS: frozenset[Role] = frozenset({Role.SUPERVISOR, Role.INSPECTOR, Role.ADMIN})
# Open the office board.
BOARD: frozenset[Role] = frozenset({Role.TECHNICIAN, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
# The roles a supervisor may invite (an admin may invite any staff role).
SUPERVISOR_INVITABLE: frozenset[Role] = frozenset(
    {Role.TECHNICIAN, Role.DISPATCHER, Role.INSPECTOR}
)
