"""The whole transition table: every allowed move works, every other move is refused."""

from __future__ import annotations

import itertools

import pytest

from store.errors import NotPermitted, TransitionNotAllowed
from store.lifecycle import (
    TRANSITIONS,
    Action,
    Capacity,
    Status,
    allowed_actions,
    authorize,
    needs_reason,
)

S = Status
# The design's table, written out independently of store/lifecycle.py so a slip in one
# is caught by the other.
EXPECTED: dict[Action, tuple[set[Status | None], Status, set[Capacity]]] = {
    Action.FILE: ({None}, Status.RECEIVED, {Capacity.REQUESTER, Capacity.FILER}),
    Action.DISPATCH: ({Status.RECEIVED}, Status.DISPATCHING, {Capacity.SYSTEM}),
    Action.ACCEPT: ({Status.DISPATCHING}, Status.ASSIGNED, {Capacity.TECHNICIAN}),
    Action.ASSIGN: ({Status.DISPATCHING}, Status.ASSIGNED, {Capacity.DISPATCHER}),
    Action.REASSIGN: ({Status.ASSIGNED}, Status.ASSIGNED, {Capacity.DISPATCHER}),
    Action.RELEASE: (
        {Status.ASSIGNED},
        Status.DISPATCHING,
        {Capacity.ASSIGNEE, Capacity.DISPATCHER},
    ),
    Action.START: ({Status.ASSIGNED}, Status.IN_PROGRESS, {Capacity.ASSIGNEE}),
    Action.DEFER: ({Status.IN_PROGRESS}, Status.DEFERRED, {Capacity.ASSIGNEE}),
    Action.REDEFER: ({Status.DEFERRED}, Status.DEFERRED, {Capacity.ASSIGNEE}),
    Action.RESUME: ({Status.DEFERRED}, Status.IN_PROGRESS, {Capacity.ASSIGNEE}),
    Action.COMPLETE: (
        {Status.IN_PROGRESS, Status.DEFERRED},
        Status.COMPLETED,
        {Capacity.ASSIGNEE},
    ),
    Action.CONFIRM: ({Status.COMPLETED}, Status.CLOSED, {Capacity.REQUESTER}),
    Action.AUTO_CLOSE: ({Status.COMPLETED}, Status.CLOSED, {Capacity.SYSTEM}),
    Action.REOPEN: ({Status.COMPLETED}, Status.DISPATCHING, {Capacity.REQUESTER}),
    Action.CANCEL: (
        {Status.RECEIVED, Status.DISPATCHING, Status.ASSIGNED},
        Status.CANCELLED,
        {Capacity.REQUESTER, Capacity.DISPATCHER},
    ),
    # The stale list (issue 12): open 90+ days past the target, closed or revived in bulk.
    Action.CLOSE_STALE: (
        {S.RECEIVED, S.DISPATCHING, S.ASSIGNED, S.IN_PROGRESS, S.DEFERRED},
        Status.CANCELLED,
        {Capacity.DISPATCHER},
    ),
    Action.REVIVE: (
        {S.RECEIVED, S.DISPATCHING, S.ASSIGNED, S.IN_PROGRESS, S.DEFERRED},
        Status.DISPATCHING,
        {Capacity.DISPATCHER},
    ),
    # Issue 24: the holder stopped being a technician there; the system hands the job back.
    Action.HAND_BACK: (
        {S.ASSIGNED, S.IN_PROGRESS, S.DEFERRED},
        Status.DISPATCHING,
        {Capacity.SYSTEM},
    ),
}

del S

SOURCES: list[Status | None] = [None, *Status]
CASES = list(itertools.product(Action, SOURCES, Capacity))


def test_table_matches_the_design() -> None:
    assert set(TRANSITIONS) == set(EXPECTED)
    for action, (sources, target, who) in EXPECTED.items():
        rule = TRANSITIONS[action]
        assert set(rule.sources) == sources, action
        assert rule.target == target, action
        assert set(rule.capacities) == who, action


@pytest.mark.parametrize(("action", "source", "capacity"), CASES, ids=str)
def test_every_move(action: Action, source: Status | None, capacity: Capacity) -> None:
    sources, target, who = EXPECTED[action]
    if capacity not in who:
        with pytest.raises(NotPermitted):
            authorize(action, source, frozenset({capacity}))
    elif source not in sources:
        with pytest.raises(TransitionNotAllowed) as info:
            authorize(action, source, frozenset({capacity}))
        assert info.value.status == str(source)
    else:
        assert authorize(action, source, frozenset({capacity})) == target


def test_closed_and_cancelled_are_final() -> None:
    for status in (Status.CLOSED, Status.CANCELLED):
        assert allowed_actions(status, frozenset(Capacity)) == []


def test_allowed_actions_are_the_buttons_to_offer() -> None:
    requester = frozenset({Capacity.REQUESTER})
    assert allowed_actions(Status.COMPLETED, requester) == [Action.CONFIRM, Action.REOPEN]
    assert allowed_actions(Status.IN_PROGRESS, requester) == []
    assignee = frozenset({Capacity.ASSIGNEE})
    assert allowed_actions(Status.ASSIGNED, assignee) == [Action.RELEASE, Action.START]


def test_reasons() -> None:
    assert needs_reason(Action.CANCEL, frozenset({Capacity.DISPATCHER}))
    assert not needs_reason(Action.CANCEL, frozenset({Capacity.REQUESTER}))
    # A dispatcher cancelling their own ticket acts as its requester: no reason needed.
    assert not needs_reason(Action.CANCEL, frozenset({Capacity.REQUESTER, Capacity.DISPATCHER}))
    assert needs_reason(Action.DEFER, frozenset({Capacity.ASSIGNEE}))
    assert needs_reason(Action.REDEFER, frozenset({Capacity.ASSIGNEE}))
    assert not needs_reason(Action.START, frozenset({Capacity.ASSIGNEE}))
