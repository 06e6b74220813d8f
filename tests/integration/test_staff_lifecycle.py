"""Staff who leave (issue 24): removing a grant hands their work on at once, grants have
one meaning, a staff file imports all or nothing, and every change is recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from store.directory import invites, staff
from store.directory.staff_csv import parse_staff_csv
from store.domain.notices import SCHEDULED_KINDS
from store.errors import (
    GrantConflict,
    NotFound,
    NotPermitted,
    OfferWithdrawn,
    StaffImportError,
)
from store.lifecycle import Role, Status
from store.models import Outbox, RoleGrant, StaffChange
from store.repair import dispatch, requester, work
from store.uow import Store
from tests.support.rows import (
    events_of,
    followups_of,
    last_outbox_id,
    offers_of,
    outbox_rows,
    person_row,
    ticket_row,
)
from tests.support.world import (
    Env,
    file_ticket,
    make_env,
    make_person,
    set_building_supervisor,
)


async def _changes(store: Store, person_id: int, change: str | None = None) -> list[StaffChange]:
    """The person's audit rows, oldest first (`change`: only "added" or "removed")."""
    async with store.uow() as uow:
        query = select(StaffChange).where(col(StaffChange.person_id) == person_id)
        if change is not None:
            query = query.where(col(StaffChange.change) == change)
        rows = await uow.session.execute(query.order_by(col(StaffChange.id)))
        found = list(rows.scalars())
        uow.session.expunge_all()
        return found


async def _toms_jobs(env: Env) -> tuple[int, int, int, int]:
    """Tom holds an assigned, an in-progress and a deferred job in Building A; a fourth
    job is offered to him and Ann and still open."""
    st, w = env.store, env.world
    assigned, started, deferred, offered = [
        (await file_ticket(st, w, description=f"Job {n}")).ticket.id for n in range(4)
    ]
    for job in (assigned, started, deferred):
        await dispatch.accept(st.uow(), job, w.tom)
    for job in (started, deferred):
        await work.start(st.uow(), job, w.tom)
    await work.defer(st.uow(), deferred, w.tom, env.clock() + timedelta(days=3), "Parts")
    assert (await offers_of(st, offered)) == {w.tom: None, w.ann: None}
    return assigned, started, deferred, offered


async def test_removing_a_technician_hands_every_job_back_and_withdraws_offers(
    store: Store,
) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    assigned, started, deferred, offered = await _toms_jobs(env)
    mark = await last_outbox_id(st)

    result = await staff.remove_staff(st.uow(), None, person_id=w.tom, role=Role.TECHNICIAN)

    assert result.removed == ("technician (North)",)
    jobs = (assigned, started, deferred)
    numbers = [(await ticket_row(st, t)).number for t in jobs]
    assert result.handed.jobs == numbers and result.handed.offers == 1
    for job in jobs:
        ticket = await ticket_row(st, job)
        assert (ticket.status, ticket.assignee_id, ticket.promised_at) == (
            Status.DISPATCHING,
            None,
            None,
        )
        # Offered afresh to who is on duty there (Ann), never to Tom again.
        assert await offers_of(st, job) == {w.ann: None}
        [event] = [e for e in await events_of(st, job) if e.action == "hand_back"]
        assert (event.from_status, event.to_status, event.actor_id) in {
            (s, Status.DISPATCHING, None)
            for s in (Status.ASSIGNED, Status.IN_PROGRESS, Status.DEFERRED)
        }
        assert event.note == "technician (North) removed (cli)"
    after = await outbox_rows(st, after=mark)
    # The requester hears their repair is being reassigned, not that it was cancelled.
    told = [(r.kind, r.ticket_id) for r in after if r.recipient_id == w.requester]
    assert told == [("ticket.reassigning", job) for job in jobs]
    assert [r.ticket_id for r in after if (r.kind, r.recipient_id) == ("offer.new", w.ann)] == [
        *jobs
    ]
    # The open offer is withdrawn (the message edited to say so); Ann's stays open.
    assert await offers_of(st, offered) == {w.tom: "withdrawn", w.ann: None}
    [withdrawn] = [r for r in after if r.kind == "offer.withdrawn"]
    assert (withdrawn.recipient_id, withdrawn.ticket_id) == (w.tom, offered)
    assert withdrawn.payload["why"] == "staff"
    # The deferred job's reminders to Tom are withdrawn.
    reminders = await outbox_rows(st, ticket_id=deferred, kinds=SCHEDULED_KINDS)
    assert reminders and all(r.failed_at is not None for r in reminders)
    # Tom is told (which also resets his command menu), and is off duty for good.
    [notice] = [r for r in after if r.kind == staff.STAFF_NOTICE]
    assert notice.recipient_id == w.tom and notice.payload["jobs"] == numbers
    tom = await person_row(st, w.tom)
    assert tom.on_duty is False
    # The old offer's Accept is refused: the offer was withdrawn.
    with pytest.raises(OfferWithdrawn):
        await dispatch.accept(st.uow(), offered, w.tom)
    [change] = await _changes(st, w.tom, "removed")
    assert (change.change, change.role, change.scope, change.via, change.actor_id) == (
        "removed",
        Role.TECHNICIAN,
        "North",
        "cli",
        None,
    )
    assert change.note == f"jobs back to dispatch: {', '.join(numbers)}; offers withdrawn: 1"


async def test_with_nobody_on_duty_the_job_goes_to_the_dispatchers(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    job = (await file_ticket(st, w, category="hvac")).ticket.id  # Ann does not do hvac
    await dispatch.accept(st.uow(), job, w.tom)
    mark = await last_outbox_id(st)
    await staff.remove_staff(st.uow(), None, person_id=w.tom)
    assert (await ticket_row(st, job)).status == Status.DISPATCHING
    kinds = [(r.kind, r.recipient_id) for r in await outbox_rows(st, after=mark, ticket_id=job)]
    assert ("ticket.reassigning", w.requester) in kinds
    assert ("queue.escalated", w.dana) in kinds  # the dispatcher assigns someone


async def test_an_admin_in_the_chat_is_named_on_every_change(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    job = (await file_ticket(st, w)).ticket.id
    await dispatch.accept(st.uow(), job, w.ann)
    [grant] = next(g for g in (await staff.list_staff(st.uow())) if g.person.id == w.ann).grants
    await staff.remove_grant(st.uow(), grant.grant_id, actor_id=w.ada)
    [event] = [e for e in await events_of(st, job) if e.action == "hand_back"]
    assert event.actor_id == w.ada and event.note == "technician (North/Building A) removed (chat)"
    [change] = await _changes(st, w.ann, "removed")
    assert (change.actor_id, change.via, change.scope) == (w.ada, "chat", "North/Building A")


async def test_only_an_admin_removes_and_a_stale_grant_is_refused(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    [grant] = next(g for g in (await staff.list_staff(st.uow())) if g.person.id == w.ann).grants
    for not_admin in (w.dana, w.sam, w.tom, w.requester):
        with pytest.raises(NotPermitted):
            await staff.remove_grant(st.uow(), grant.grant_id, actor_id=not_admin)
    await staff.remove_grant(st.uow(), grant.grant_id, actor_id=w.ada)
    with pytest.raises(NotFound):  # pressed again, or on an old list
        await staff.remove_grant(st.uow(), grant.grant_id, actor_id=w.ada)
    [ada_grant] = next(
        g for g in (await staff.list_staff(st.uow())) if g.person.id == w.ada
    ).grants
    with pytest.raises(NotPermitted):  # the last admin cannot lock the office out
        await staff.remove_grant(st.uow(), ada_grant.grant_id, actor_id=w.ada)
    assert len(await _changes(st, w.ann, "removed")) == 1


async def test_removing_one_building_keeps_the_jobs_still_covered(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    ann_tid = (await person_row(st, w.ann)).telegram_id
    assert ann_tid is not None
    await staff.add_staff(st.uow(), ann_tid, Role.TECHNICIAN, building_ids=[w.building_b])
    in_a = (await file_ticket(st, w)).ticket.id
    in_b = (await file_ticket(st, w, room=w.room_b1)).ticket.id
    for job in (in_a, in_b):
        await dispatch.accept(st.uow(), job, w.ann)
    result = await staff.remove_staff(st.uow(), ann_tid, building_ids=[w.building_a])
    assert result.removed == ("technician (North/Building A)",)
    assert [g.scope_label() for g in result.grants] == ["North/Building B"]
    assert (await ticket_row(st, in_a)).status == Status.DISPATCHING
    assert (await ticket_row(st, in_b)).assignee_id == w.ann  # still hers
    assert (await person_row(st, w.ann)).on_duty is True  # still a technician
    # Tom holds all of North: one building cannot be cut out of it; nothing changes.
    tom_tid = (await person_row(st, w.tom)).telegram_id
    assert tom_tid is not None
    with pytest.raises(GrantConflict, match="wider than the scope asked"):
        await staff.remove_staff(st.uow(), tom_tid, building_ids=[w.building_a])
    with pytest.raises(NotFound, match="holds no dispatcher"):
        await staff.remove_staff(st.uow(), tom_tid, role=Role.DISPATCHER)
    assert await _changes(st, w.tom, "removed") == []


async def test_a_removed_supervisors_follow_ups_go_to_the_current_supervisor_or_admins(
    store: Store,
) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    sue = await make_person(st, Role.SUPERVISOR, name="Sue", buildings=[w.building_a])
    await set_building_supervisor(st, w.building_a, w.sam)
    in_a = (await file_ticket(st, w)).ticket.id
    in_b = (await file_ticket(st, w, room=w.room_b1)).ticket.id
    for job in (in_a, in_b):
        await requester.complain(st.uow(), job, w.requester, "Nobody came")
    assert [(await followups_of(st, t))[0].supervisor_id for t in (in_a, in_b)] == [w.sam] * 2
    mark = await last_outbox_id(st)
    result = await staff.remove_staff(st.uow(), None, person_id=w.sam)
    [fa], [fb] = await followups_of(st, in_a), await followups_of(st, in_b)
    assert result.handed.followups == [fa.number, fb.number]
    # Building A has Sue; Building B has no supervisor now, so the admins take it.
    assert (fa.supervisor_id, fb.supervisor_id) == (sue.id, w.ada)
    told = [
        (r.recipient_id, r.ticket_id, r.payload["handed_over_from"])
        for r in await outbox_rows(st, after=mark, kind="followup.new")
    ]
    assert told == [(sue.id, in_a, "Sam"), (w.ada, in_b, "Sam")]
    assert "followup_handover" in [e.action for e in await events_of(st, in_a)]
    [change] = await _changes(st, w.sam, "removed")
    assert change.note == f"follow-ups handed over: {fa.number}, {fb.number}"


async def test_a_grant_has_one_meaning(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    tom_tid = (await person_row(st, w.tom)).telegram_id
    assert tom_tid is not None
    setup = len(await _changes(st, w.tom))  # the world's own grant
    in_b = (await file_ticket(st, w, room=w.room_b1)).ticket.id
    await dispatch.accept(st.uow(), in_b, w.tom)
    # The same grant again: nothing changes, and it says so.
    again = await staff.add_staff(st.uow(), tom_tid, Role.TECHNICIAN, campus_id=w.north)
    assert not again.changed
    # A building inside the campus he holds: refused, nothing changes.
    with pytest.raises(GrantConflict, match="already holds technician for North"):
        await staff.add_staff(st.uow(), tom_tid, Role.TECHNICIAN, building_ids=[w.building_a])
    assert len(await _changes(st, w.tom)) == setup
    # --replace narrows it: the job in Building B goes back to dispatch.
    narrowed = await staff.add_staff(
        st.uow(), tom_tid, Role.TECHNICIAN, building_ids=[w.building_a], replace=True
    )
    assert (narrowed.added, narrowed.removed) == (
        ("technician (North/Building A)",),
        ("technician (North)",),
    )
    assert [g.scope_label() for g in narrowed.grants] == ["North/Building A"]
    assert narrowed.handed.jobs == [(await ticket_row(st, in_b)).number]
    assert (await ticket_row(st, in_b)).status == Status.DISPATCHING
    # A wider grant takes the place of the narrower one it covers.
    widened = await staff.add_staff(st.uow(), tom_tid, Role.TECHNICIAN)
    assert [g.scope_label() for g in widened.grants] == ["all"]
    assert [(c.change, c.scope) for c in (await _changes(st, w.tom))[setup:]] == [
        ("removed", "North"),
        ("added", "North/Building A"),
        ("removed", "North/Building A"),
        ("added", "all"),
    ]


STAFF_CSV = (
    "telegram_id,name,role,campus,building\n"
    "810000001,Kim,technician,North,Building A\n"
    "810000001,Kim,technician,North,Building B\n"
    "810000002,Lee,supervisor,South,\n"
    "810000003,Max,dispatcher,,\n"
)


async def _grant_count(store: Store) -> int:
    async with store.uow() as uow:
        return len((await uow.session.execute(select(RoleGrant.id))).all())


async def test_a_staff_file_imports_once_and_a_second_run_changes_nothing(
    store: Store,
) -> None:
    env = await make_env(store)
    st = env.store
    before = await _grant_count(st)
    first = await staff.import_staff(st.uow(), parse_staff_csv(STAFF_CSV))
    assert (first.people_added, first.grants_added, first.unchanged) == (3, 4, 0)
    second = await staff.import_staff(st.uow(), parse_staff_csv(STAFF_CSV))
    assert (second.people_added, second.grants_added, second.unchanged) == (0, 0, 4)
    assert await _grant_count(st) == before + 4
    kim = next(s for s in await staff.list_staff(st.uow()) if s.person.name == "Kim")
    assert [g.scope_label() for g in kim.grants] == ["North/Building A", "North/Building B"]
    assert {c.via for c in await _changes(st, kim.person.id)} == {"import"}


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("810000004,Ned,technician,Nowhere,", "line 5: no campus named 'Nowhere'"),
        ("810000004,Ned,technician,North,Building C", "no building named 'Building C' in"),
        # Tom holds technician for all of North already.
        (f"{'{tom}'},Tom,technician,North,Building A", "already holds technician for North"),
        ("810000001,Kim,technician,North,", "line 2: inside the technician grant of line 5"),
    ],
)
async def test_one_bad_line_imports_nothing(store: Store, bad_line: str, message: str) -> None:
    env = await make_env(store)
    st = env.store
    tom_tid = (await person_row(st, env.world.tom)).telegram_id
    before = await _grant_count(st)
    text = STAFF_CSV.replace("810000002,Lee,supervisor,South,\n", "") + bad_line + "\n"
    text = text.replace("{tom}", str(tom_tid))
    rows = parse_staff_csv(text)
    with pytest.raises(StaffImportError) as refused:
        await staff.import_staff(st.uow(), rows)
    shown = [f"line {line}: {m}" for line, m in refused.value.errors]
    assert any(message in s for s in shown), shown
    assert await _grant_count(st) == before


def test_the_staff_file_is_checked_line_by_line() -> None:
    text = (
        "telegram_id,name,role,campus,building\n"
        "abc,Kim,technician,,\n"
        "810000001,Kim,janitor,,\n"
        "810000001,Kim,technician,,\n"
        "810000001,Kim,technician,,\n"
        "810000001,Kimberly,admin,,\n"
        "1,2\n"
    )
    with pytest.raises(StaffImportError) as refused:
        parse_staff_csv(text)
    assert refused.value.errors == [
        (2, "telegram_id 'abc' is not a Telegram user id"),
        (3, "role 'janitor' is not one of admin, dispatcher, inspector, supervisor, technician"),
        (5, "the same grant as line 4"),
        (6, "810000001 is named 'Kim' on line 4"),
        (7, "expected 5 columns, got 2"),
    ]


async def test_outbox_has_a_renderable_notice_kind_for_each_staff_change(store: Store) -> None:
    # The requester's notice kind exists in every catalog (checked in the bot tests); here:
    # the reassigning notice carries the ticket's summary like every ticket notice.
    env = await make_env(store)
    st, w = env.store, env.world
    job = (await file_ticket(st, w)).ticket.id
    await dispatch.accept(st.uow(), job, w.tom)
    await staff.remove_staff(st.uow(), None, person_id=w.tom)
    async with st.uow() as uow:
        row = (
            await uow.session.execute(select(Outbox).where(Outbox.kind == "ticket.reassigning"))
        ).scalar_one()
    assert row.payload["number"] == (await ticket_row(st, job)).number
    assert row.payload["is_requester"] is True


async def test_an_invite_inside_a_wider_grant_keeps_the_wider_one(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    tom_tid = (await person_row(st, w.tom)).telegram_id
    assert tom_tid is not None
    token = await invites.create_invite(
        st.uow(),
        created_by=w.ada,
        role=Role.TECHNICIAN,
        secret=b"secret",
        building_ids=[w.building_a],
        ttl=timedelta(days=1),
    )
    await invites.redeem_invite(
        st.uow(), token, telegram_id=tom_tid, name="Tom", language="en", secret=b"secret"
    )
    tom = next(m for m in await staff.list_staff(st.uow()) if m.person.id == w.tom)
    assert [g.scope_label() for g in tom.grants] == ["North"]  # unchanged: one meaning
    # Someone new who joins by an invite is recorded, with who made the invite.
    token = await invites.create_invite(
        st.uow(), created_by=w.ada, role=Role.INSPECTOR, secret=b"secret", ttl=timedelta(days=1)
    )
    view = await invites.redeem_invite(
        st.uow(), token, telegram_id=820000001, name="Ines", language="en", secret=b"secret"
    )
    [change] = await _changes(st, view.person_id)
    assert (change.change, change.via, change.actor_id) == ("added", "invite", w.ada)
