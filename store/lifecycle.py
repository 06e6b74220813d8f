"""Ticket statuses, the transition table and who may perform each move. Pure: no I/O.

The table is the single source of truth: services ask `authorize()` before any status
change, and the unit tests walk every (action, status, capacity) combination against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from store.errors import NotPermitted, TransitionNotAllowed


class Status(StrEnum):
    """Where a ticket is in its life."""

    RECEIVED = "received"
    DISPATCHING = "dispatching"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    DEFERRED = "deferred"
    COMPLETED = "completed"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN_STATUSES: frozenset[Status] = frozenset(
    {
        Status.RECEIVED,
        Status.DISPATCHING,
        Status.ASSIGNED,
        Status.IN_PROGRESS,
        Status.DEFERRED,
    }
)
FINAL_STATUSES: frozenset[Status] = frozenset({Status.CLOSED, Status.CANCELLED})


class Role(StrEnum):
    """Roles a person can hold; staff roles may be scoped to campuses or buildings."""

    REQUESTER = "requester"
    TECHNICIAN = "technician"
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"
    INSPECTOR = "inspector"
    ADMIN = "admin"


class Capacity(StrEnum):
    """In what capacity an actor stands towards one particular ticket."""

    REQUESTER = "requester"  # filed it, or it was filed on their behalf
    ASSIGNEE = "assignee"  # the technician it is assigned to
    TECHNICIAN = "technician"  # a technician whose scope covers the ticket's building
    DISPATCHER = "dispatcher"  # a dispatcher (or admin) whose scope covers the building
    SUPERVISOR = "supervisor"  # a supervisor whose scope covers the building
    FILER = "filer"  # inspector or booth staff filing for someone else
    SYSTEM = "system"  # the bot itself: auto-dispatch, auto-close


class Action(StrEnum):
    """Every status-changing use case."""

    FILE = "file"
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    ASSIGN = "assign"
    REASSIGN = "reassign"
    RELEASE = "release"
    START = "start"
    DEFER = "defer"
    REDEFER = "redefer"
    RESUME = "resume"
    COMPLETE = "complete"
    CONFIRM = "confirm"
    AUTO_CLOSE = "auto_close"
    REOPEN = "reopen"
    CANCEL = "cancel"
    # The stale list (open far past its target): a dispatcher closes or revives in bulk.
    CLOSE_STALE = "close_stale"
    REVIVE = "revive"
    # The holder stopped being a technician for the ticket's building (their grant was
    # removed or narrowed): the job goes back to dispatch and is offered afresh.
    HAND_BACK = "hand_back"


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the table: from which statuses, to which, and who may do it."""

    sources: frozenset[Status | None]
    target: Status
    capacities: frozenset[Capacity]


def _t(sources: set[Status | None], target: Status, *who: Capacity) -> Transition:
    return Transition(frozenset(sources), target, frozenset(who))


C = Capacity
S = Status
TRANSITIONS: dict[Action, Transition] = {
    Action.FILE: _t({None}, S.RECEIVED, C.REQUESTER, C.FILER),
    Action.DISPATCH: _t({S.RECEIVED}, S.DISPATCHING, C.SYSTEM),
    Action.ACCEPT: _t({S.DISPATCHING}, S.ASSIGNED, C.TECHNICIAN),
    Action.ASSIGN: _t({S.DISPATCHING}, S.ASSIGNED, C.DISPATCHER),
    # Reassign is "release then assign" done by a dispatcher in one step.
    Action.REASSIGN: _t({S.ASSIGNED}, S.ASSIGNED, C.DISPATCHER),
    Action.RELEASE: _t({S.ASSIGNED}, S.DISPATCHING, C.ASSIGNEE, C.DISPATCHER),
    Action.START: _t({S.ASSIGNED}, S.IN_PROGRESS, C.ASSIGNEE),
    Action.DEFER: _t({S.IN_PROGRESS}, S.DEFERRED, C.ASSIGNEE),
    # A new promised date for a deferred job; like the first, it needs a reason.
    Action.REDEFER: _t({S.DEFERRED}, S.DEFERRED, C.ASSIGNEE),
    Action.RESUME: _t({S.DEFERRED}, S.IN_PROGRESS, C.ASSIGNEE),
    Action.COMPLETE: _t({S.IN_PROGRESS, S.DEFERRED}, S.COMPLETED, C.ASSIGNEE),
    Action.CONFIRM: _t({S.COMPLETED}, S.CLOSED, C.REQUESTER),
    Action.AUTO_CLOSE: _t({S.COMPLETED}, S.CLOSED, C.SYSTEM),
    Action.REOPEN: _t({S.COMPLETED}, S.DISPATCHING, C.REQUESTER),
    Action.CANCEL: _t(
        {S.RECEIVED, S.DISPATCHING, S.ASSIGNED}, S.CANCELLED, C.REQUESTER, C.DISPATCHER
    ),
    # Only for tickets on the stale list (store.repair.stale checks that): closed as
    # forgotten, or back to the queue for a fresh round with fresh targets.
    Action.CLOSE_STALE: _t(
        {S.RECEIVED, S.DISPATCHING, S.ASSIGNED, S.IN_PROGRESS, S.DEFERRED},
        S.CANCELLED,
        C.DISPATCHER,
    ),
    Action.REVIVE: _t(
        {S.RECEIVED, S.DISPATCHING, S.ASSIGNED, S.IN_PROGRESS, S.DEFERRED},
        S.DISPATCHING,
        C.DISPATCHER,
    ),
    Action.HAND_BACK: _t({S.ASSIGNED, S.IN_PROGRESS, S.DEFERRED}, S.DISPATCHING, C.SYSTEM),
}
del C, S

# Actions that need a reason: the requester or technician sees it, the log keeps it.
REASON_REQUIRED: dict[Action, frozenset[Capacity]] = {
    Action.DEFER: frozenset({Capacity.ASSIGNEE}),
    Action.REDEFER: frozenset({Capacity.ASSIGNEE}),
    Action.RELEASE: frozenset({Capacity.ASSIGNEE, Capacity.DISPATCHER}),
    Action.CANCEL: frozenset({Capacity.DISPATCHER}),
}

# Non-transition requester actions and the statuses in which they make sense.
URGE_STATUSES: frozenset[Status] = OPEN_STATUSES
COMPLAIN_STATUSES: frozenset[Status] = frozenset(Status) - {Status.CANCELLED}
VISIT_PROPOSE_STATUSES: frozenset[Status] = frozenset({Status.ASSIGNED, Status.DEFERRED})


def authorize(action: Action, status: Status | None, capacities: frozenset[Capacity]) -> Status:
    """Return the target status, or raise why `action` is refused.

    Permission is checked before state so that a stranger learns nothing about a
    ticket's state from the error they get.
    """
    rule = TRANSITIONS[action]
    if not capacities & rule.capacities:
        raise NotPermitted(f"{action} needs one of {sorted(rule.capacities)}", action=action)
    if status not in rule.sources:
        raise TransitionNotAllowed(action, str(status))
    return rule.target


def allowed_actions(status: Status, capacities: frozenset[Capacity]) -> list[Action]:
    """Actions the actor may take now, in table order: what buttons to offer."""
    return [
        action
        for action, rule in TRANSITIONS.items()
        if status in rule.sources and capacities & rule.capacities
    ]


def needs_reason(action: Action, capacities: frozenset[Capacity]) -> bool:
    """Whether this actor must give a reason: only if every capacity they act in needs one."""
    required = REASON_REQUIRED.get(action, frozenset())
    used = capacities & TRANSITIONS[action].capacities
    return bool(used) and used <= required
