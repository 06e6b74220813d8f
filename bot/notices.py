"""Turn an outbox notice (kind + payload) into the message its recipient sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardMarkup

from bot.callbacks import (
    JobAction,
    NobodyHomeReply,
    OfferAnswer,
    Rate,
    TicketAction,
    VisitAnswer,
)
from bot.i18n import Texts
from bot.ui import keyboard, place_label, stars
from store.delivery.outbox import Notice
from store.repair.work import epoch_minutes


@dataclass(frozen=True, slots=True)
class Rendered:
    """What to send: text, buttons, photos; `edit_of` names the earlier notice to edit."""

    text: str
    markup: InlineKeyboardMarkup | None = None
    photos: list[str] = field(default_factory=list)
    edit_of: str | None = None


def _when(texts: Texts, iso: str | None) -> str:
    return texts.when(datetime.fromisoformat(iso)) if iso else "—"


def render(notice: Notice, texts: Texts) -> Rendered:
    """The message for one notice in the recipient's language."""
    p: dict[str, Any] = notice.payload
    common = {
        "number": p.get("number", ""),
        "place": place_label(p),
        "category": texts.category(p.get("category", "other")),
        "urgency": texts(f"urgency.{p.get('urgency', 'normal')}"),
    }
    tid = int(p.get("ticket_id", notice.ticket_id or 0))
    kind = notice.kind
    if kind == "ticket.received":
        return Rendered(texts("notice.received", **common))
    if kind == "ticket.dispatching":
        return Rendered(texts("notice.dispatching", offered=p.get("offered", 0), **common))
    if kind == "ticket.queued":
        key = "notice.queued_declined" if p.get("reason") == "all_declined" else "notice.queued"
        return Rendered(texts(key, **common))
    if kind == "ticket.assigned":
        return Rendered(texts("notice.assigned", technician=p.get("technician", ""), **common))
    if kind == "ticket.visit_proposed":
        at = epoch_minutes(datetime.fromisoformat(p["visit_at"])) if p.get("visit_at") else 0
        markup = keyboard(
            [
                [
                    (texts("my.accept_visit"), VisitAnswer("ok", tid, at)),
                    (texts("my.other_visit"), VisitAnswer("no", tid, at)),
                ]
            ]
        )
        when = _when(texts, p.get("visit_at"))
        return Rendered(texts("notice.visit_proposed", when=when, **common), markup)
    if kind == "ticket.in_progress":
        key = "notice.resumed" if p.get("resumed") else "notice.in_progress"
        return Rendered(texts(key, **common))
    if kind == "ticket.deferred":
        when = _when(texts, p.get("promised_at"))
        if p.get("previous"):
            previous = _when(texts, p.get("previous"))
            text = texts(
                "notice.redeferred",
                when=when,
                previous=previous,
                reason=p.get("reason", ""),
                **common,
            )
            return Rendered(text)
        return Rendered(texts("notice.deferred", when=when, reason=p.get("reason", ""), **common))
    if kind == "ticket.promise_missed":
        when = _when(texts, p.get("promised_at"))
        return Rendered(texts("notice.promise_missed", when=when, **common))
    if kind == "ticket.completed":
        # Followers (residents, a booth filer) see the news; only the requester rates.
        rating = rating_keyboard(texts, tid) if p.get("is_requester", True) else None
        return Rendered(texts("notice.completed", **common), rating, list(p.get("photos", [])))
    if kind == "ticket.cancelled":
        reason = p.get("reason")
        key = "notice.cancelled_reason" if reason else "notice.cancelled"
        return Rendered(texts(key, reason=reason or "", **common))
    if kind == "ticket.closed_stale":
        return Rendered(texts("notice.closed_stale", days=p.get("days", 90), **common))
    if kind == "ticket.reassigning":  # its technician left: not cancelled, reassigned
        return Rendered(texts("notice.reassigning", **common))
    if kind in ("ticket.released", "ticket.reopened", "ticket.closed"):
        return Rendered(texts(f"notice.{kind.split('.')[1]}", **common))
    if kind == "ticket.duplicate":
        return Rendered(texts("notice.duplicate", original=p.get("original", ""), **common))
    if kind == "followup.resolved":
        return Rendered(
            texts(
                "notice.followup_resolved",
                followup=p.get("followup", ""),
                resolution=p.get("resolution", ""),
                **common,
            )
        )
    return _render_staff(kind, p, tid, texts, common)


def rating_keyboard(texts: Texts, ticket_id: int) -> InlineKeyboardMarkup:
    """1–5 stars, then "not fixed"."""
    return keyboard(
        [
            [(str(n) + "★", Rate(ticket_id, n)) for n in range(1, 6)],
            [(texts("my.not_fixed"), TicketAction("notfixed", ticket_id))],
        ]
    )


def _render_staff(
    kind: str, p: dict[str, Any], tid: int, texts: Texts, common: dict[str, str]
) -> Rendered:
    details = {
        "description": p.get("description", ""),
        "phone": p.get("contact_phone") or texts("report.no_phone"),
    }
    if kind == "offer.new":
        markup = keyboard(
            [
                [
                    ("✅ " + texts("staff.accept"), OfferAnswer("accept", tid)),
                    ("✖️ " + texts("staff.decline"), OfferAnswer("decline", tid)),
                ]
            ]
        )
        return Rendered(
            texts("notice.offer", **details, **common), markup, list(p.get("photos", []))
        )
    if kind == "offer.taken":
        text = texts("notice.offer_taken", name=p.get("taken_by") or "—", **common)
        return Rendered(text, edit_of="offer.new")
    if kind == "offer.withdrawn":
        staff = p.get("why") == "staff"  # no longer covered by them: not cancelled
        key = "notice.offer_withdrawn_staff" if staff else "notice.offer_withdrawn"
        return Rendered(texts(key, **common), edit_of="offer.new")
    if kind == "job.assigned":
        return Rendered(
            texts("notice.job_assigned", **details, **common), photos=list(p.get("photos", []))
        )
    if kind == "job.rated":
        return Rendered(texts("notice.job_rated", stars=stars(p.get("rating")), **common))
    if kind in ("job.urged", "queue.urged"):
        key = "notice.job_urged" if kind == "job.urged" else "notice.queue_urged"
        return Rendered(texts(key, count=p.get("urge_count", 1), **common))
    if kind in ("job.visit_accepted", "job.visit_declined"):
        when = _when(texts, p.get("visit_at"))
        return Rendered(texts(f"notice.{kind.replace('.', '_')}", when=when, **common))
    if kind in ("job.unassigned", "job.cancelled", "job.reopened"):
        return Rendered(texts(f"notice.{kind.replace('.', '_')}", **common))
    if kind in ("job.promise_reminder", "job.promise_due"):
        when = _when(texts, p.get("promised_at"))
        key = "notice.promise_reminder" if kind == "job.promise_reminder" else "notice.promise_due"
        markup = keyboard([[(texts("jobs.open"), JobAction("open", tid))]])
        return Rendered(texts(key, when=when, reason=p.get("reason", ""), **common), markup)
    if kind == "ticket.overdue":
        status = texts.status(str(p.get("status", "assigned")))
        return Rendered(
            texts("notice.overdue", status=status, when=_when(texts, p.get("due_at")), **common)
        )
    if kind == "queue.escalated":
        reason = texts(f"reason.{p.get('reason', 'no_technician')}")
        return Rendered(texts("notice.queue_escalated", reason=reason, **common))
    if kind == "followup.new":
        text = texts(
            "notice.followup_handed" if p.get("handed_over_from") else "notice.followup_new",
            name=p.get("handed_over_from") or "",
            followup=p.get("followup", ""),
            kind=texts(f"followup_kind.{p.get('kind', 'complaint')}"),
            text=p.get("text") or stars(p.get("rating")),
            **common,
        )
        return Rendered(text)
    if kind == "sweep.nobody_home":
        room = int(p.get("room_id", 0))
        markup = keyboard(
            [
                [(texts("sweep.resident_report"), NobodyHomeReply("report", room))],
                [(texts("sweep.resident_fine"), NobodyHomeReply("fine", room))],
            ]
        )
        text = texts(
            "notice.sweep_nobody_home", building=p.get("building", ""), room=p.get("room", "")
        )
        return Rendered(text, markup)
    if kind == "sweep.report":
        by_item = ", ".join(
            f"{texts(f'checklist_item.{k}')} {n}"
            for k, n in dict(p.get("faults_by_item", {})).items()
        )
        by_floor = ", ".join(f"{k}: {n}" for k, n in dict(p.get("faults_by_floor", {})).items())
        tickets = ", ".join(
            f"{number} {texts.status(status)}" for number, status in p.get("tickets", [])
        )
        text = texts(
            "notice.sweep_report",
            building=p.get("building", ""),
            total=p.get("total", 0),
            checked=p.get("checked", 0),
            nobody=p.get("nobody_home", 0),
            not_reached=p.get("not_reached", 0),
            by_item=by_item or "—",
            by_floor=by_floor or "—",
            tickets=tickets or "—",
        )
        return Rendered(text[:4000])
    if kind == "staff.roles_changed":
        roles = ", ".join(
            f"{texts(f'role.{role}')} ({scope})" for role, scope in p.get("removed", [])
        )
        lines = [texts("notice.staff_removed", roles=roles or "—")]
        if p.get("jobs"):
            lines.append(texts("notice.staff_jobs_back", numbers=", ".join(p["jobs"])))
        return Rendered("\n".join(lines))
    if kind == "staff.unreachable":
        return Rendered(texts("notice.unreachable", name=p.get("name", "")))
    raise ValueError(f"no renderer for notice kind {kind!r}")
