"""The checks flows ask before a question or a menu, each offered by the service that owns
its rule: which roles pass, which ticket states and capacities pass, and the refusal."""

from __future__ import annotations

from collections.abc import Callable, Set
from datetime import UTC, datetime

import pytest

from store.directory import invites
from store.domain.board_access import may_open_board
from store.domain.sweeps import check_sweeper, may_walk_sweeps
from store.domain.tickets import may_file_for_others
from store.errors import NotPermitted, TransitionNotAllowed
from store.intake import booth
from store.lifecycle import COMPLAIN_STATUSES, Action, Capacity, Role, Status
from store.repair import dispatch, followups, requester, work
from store.reporting import figures

R = Role
# Who each check admits, as the flows admitted them before the checks moved to the store.
CHECKS: list[tuple[Callable[[Set[Role]], None], set[Role]]] = [
    (booth.check_booth_staff, {R.INSPECTOR, R.DISPATCHER, R.SUPERVISOR, R.ADMIN}),
    (dispatch.check_dispatcher, {R.DISPATCHER, R.ADMIN}),
    (work.check_technician, {R.TECHNICIAN}),
    (check_sweeper, {R.SUPERVISOR, R.INSPECTOR, R.ADMIN}),
    (followups.check_supervisor, {R.SUPERVISOR, R.ADMIN}),
    (invites.check_may_invite, {R.SUPERVISOR, R.ADMIN}),
    (figures.check_figures, {R.SUPERVISOR, R.DISPATCHER, R.ADMIN}),
]
MENUS: list[tuple[Callable[[Set[Role]], bool], set[Role]]] = [
    (may_file_for_others, {R.INSPECTOR, R.DISPATCHER, R.SUPERVISOR, R.ADMIN}),
    (dispatch.may_dispatch, {R.DISPATCHER, R.ADMIN}),
    (work.may_take_jobs, {R.TECHNICIAN}),
    (may_walk_sweeps, {R.SUPERVISOR, R.INSPECTOR, R.ADMIN}),
    (followups.may_follow_up, {R.SUPERVISOR, R.ADMIN}),
    (figures.may_see_figures, {R.SUPERVISOR, R.DISPATCHER, R.ADMIN}),
    (may_open_board, {R.TECHNICIAN, R.DISPATCHER, R.SUPERVISOR, R.ADMIN}),
]


@pytest.mark.parametrize(("check", "admitted"), CHECKS, ids=lambda c: getattr(c, "__name__", ""))
def test_each_role_check_admits_exactly_its_roles(
    check: Callable[[Set[Role]], None], admitted: set[Role]
) -> None:
    for role in Role:
        person_roles = frozenset({Role.REQUESTER, role})  # everyone is a requester too
        if role in admitted:
            check(person_roles)
        else:
            with pytest.raises(NotPermitted):
                check(person_roles)
    check(frozenset(Role))


@pytest.mark.parametrize(("may", "admitted"), MENUS, ids=lambda c: getattr(c, "__name__", ""))
def test_each_menu_question_answers_yes_for_exactly_its_roles(
    may: Callable[[Set[Role]], bool], admitted: set[Role]
) -> None:
    assert {role for role in Role if may(frozenset({Role.REQUESTER, role}))} == admitted
    assert not may(frozenset())


def test_a_requester_press_is_checked_against_the_requesters_side_of_the_table() -> None:
    mine, others = frozenset({Capacity.REQUESTER}), frozenset({Capacity.DISPATCHER})
    may_cancel = {Status.RECEIVED, Status.DISPATCHING, Status.ASSIGNED}
    for status in Status:
        for action, allowed in ((Action.CANCEL, may_cancel), (Action.CONFIRM, {Status.COMPLETED})):
            if status in allowed:
                requester.check_requester_move(action, status, mine | others)
            else:
                with pytest.raises(TransitionNotAllowed) as refused:
                    requester.check_requester_move(action, status, mine)
                assert refused.value.status == status
            # A dispatcher's own cancel is not the requester's button: "no longer possible".
            with pytest.raises(TransitionNotAllowed):
                requester.check_requester_move(action, status, others)


def test_only_the_requester_complains_and_not_about_a_cancelled_ticket() -> None:
    requester.check_requester(frozenset({Capacity.REQUESTER, Capacity.FILER}), "complain")
    for caps in (frozenset(), frozenset({Capacity.FILER, Capacity.SUPERVISOR})):
        with pytest.raises(NotPermitted):
            requester.check_requester(caps, "complain")
    for status in Status:
        if status in COMPLAIN_STATUSES:
            requester.check_complaint(status)
        else:
            assert status is Status.CANCELLED
            with pytest.raises(TransitionNotAllowed):
                requester.check_complaint(status)


def test_a_visit_time_waits_for_an_answer_until_confirmed_or_the_job_moves_on() -> None:
    at = datetime(2031, 5, 6, 9, 0, tzinfo=UTC)
    for status in (Status.ASSIGNED, Status.DEFERRED):
        assert work.visit_to_answer(status, at, False) == at
        assert work.visit_to_answer(status, at, True) is None
        assert work.visit_to_answer(status, None, False) is None
    for status in set(Status) - {Status.ASSIGNED, Status.DEFERRED}:
        assert work.visit_to_answer(status, at, False) is None
