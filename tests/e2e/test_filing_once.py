"""One Submit, one ticket: whatever fails after the ticket is committed, pressing Submit
again or starting /report anew never files the same report twice, and says which ticket
it became."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.flows import report as report_flow
from sandbox.client import UserHandle
from sandbox.faults import Fault
from sandbox.views import BotMessage
from store.domain.filing import NewTicket
from store.intake.report import report
from store.models import Ticket
from store.uow import UnitOfWork
from store.views import ReportResult
from tests.support.harness import Harness
from tests.support.report_steps import NUMBER, to_summary

pytestmark = pytest.mark.parametrize("e2e_db", ["sqlite", "postgres"], indirect=True)


async def summary_of(user: UserHandle) -> BotMessage:
    """A report up to its summary (a text alone); returns the summary message."""
    return await to_summary(user, description="The tap drips all night.")


async def tickets(bot: Harness) -> list[Ticket]:
    async with bot.store.uow() as uow:
        found = list((await uow.session.execute(select(Ticket))).scalars())
        uow.session.expunge_all()
        return found


async def test_the_submitted_edit_failing_files_one_ticket(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    summary = await summary_of(alice)
    bot.sandbox.fail_next("editMessageText", Fault.server_error(500))
    await alice.press(summary, "✅ Submit")
    received = await alice.expect(text_contains="received")  # the notice still comes
    number = NUMBER.search(received.text or "")
    assert number is not None
    assert summary.edits == 0  # "Submitted" never replaced the summary: Confirm is still there

    # She presses Confirm again, as anyone would: the ticket she already has, no second one.
    again = await alice.press(summary, "✅ Submit")
    assert again is not None and again.show_alert
    assert f"already filed as {number.group()}" in (again.text or "")
    assert [t.number for t in await tickets(bot)] == [number.group()]

    # /report starts a new report: the filed one is not offered to "continue".
    await alice.command("report")
    step = await alice.expect(text_contains="same as last time?")
    assert "continue" not in (step.text or "")
    assert len(await tickets(bot)) == 1


async def test_dying_between_filing_and_the_reply_files_one_ticket(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies right after the ticket is committed, before any reply: /report
    then names the ticket instead of offering to continue (and refile) the report."""
    alice = bot.sandbox.user(1001, "Alice")
    summary = await summary_of(alice)

    async def dies_after_commit(
        uow: UnitOfWork, new: NewTicket, *, draft_owner: int | None = None
    ) -> ReportResult:
        await report(uow, new, draft_owner=draft_owner)
        raise SystemError("killed right after the commit")

    with monkeypatch.context() as patch:
        patch.setattr(report_flow, "report", dies_after_commit)
        await alice.press(summary, "✅ Submit")
        received = await alice.expect(text_contains="received")
    number = NUMBER.search(received.text or "")
    assert number is not None
    [ticket] = await tickets(bot)
    assert ticket.number == number.group() and ticket.submission_key is not None

    await alice.command("report")
    told = await alice.expect(text_contains="Your last report was filed")
    assert number.group() in (told.text or "")
    await alice.expect(text_contains="same as last time?")  # and a new report begins
    # The old summary's Confirm cannot file it again either: it is out of date now.
    again = await alice.press(summary, "✅ Submit")
    assert again is not None and "out of date" in (again.text or "")
    assert len(await tickets(bot)) == 1
