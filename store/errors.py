"""Domain errors: each carries a stable `code` the transport maps to a catalog text."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class DomainError(Exception):
    """Base of every refusal a service can give; `code` names the catalog key."""

    code = "error.generic"

    def __init__(self, message: str = "", **params: Any) -> None:
        super().__init__(message or self.code)
        self.params: dict[str, Any] = params


class NotFound(DomainError):
    """The ticket, room, person or invite does not exist (or is not visible to the actor)."""

    code = "error.not_found"


class NotPermitted(DomainError):
    """The actor lacks the role, the scope or the relation to the ticket."""

    code = "error.not_permitted"


class OwnTicket(NotPermitted):
    """A technician pressing Accept on a job they reported themselves: a colleague takes it
    (a dispatcher may still assign it to them on purpose)."""

    code = "error.own_ticket"


class TransitionNotAllowed(DomainError):
    """The ticket's current status does not allow this action (often: a stale button)."""

    code = "error.transition"

    def __init__(self, action: str, status: str) -> None:
        super().__init__(f"{action} is not allowed from {status}", action=action, status=status)
        self.action = action
        self.status = status


class TicketChanged(TransitionNotAllowed):
    """The ticket was changed by someone else between reading it and acting on it: the
    decision was taken on a stale view, so it is refused, not applied. `status` and
    `assignee` say what the ticket is now."""

    code = "error.changed"

    def __init__(self, action: str, status: str, assignee: str | None) -> None:
        super().__init__(action, status)
        self.params["assignee"] = assignee or ""
        if assignee:
            self.code = "error.changed_held"


class DraftChanged(DomainError):
    """The person's report draft was written elsewhere (another instance of the bot) since
    this process last saw it: the step is refused, the stored draft stays as it is."""

    code = "error.draft_changed"


class AlreadyTaken(TransitionNotAllowed):
    """Another technician accepted the job first."""

    code = "error.already_taken"

    def __init__(self, status: str, taken_by: str | None) -> None:
        super().__init__("accept", status)
        self.params["taken_by"] = taken_by or ""
        self.taken_by = taken_by


class InvalidInput(DomainError):
    """A value outside what the domain accepts (length, range, date)."""

    code = "error.invalid"


class DescriptionTooLong(InvalidInput):
    """The description exceeds the configured limit."""

    code = "error.description_too_long"


class TooManyPhotos(InvalidInput):
    """More photos than the configured maximum."""

    code = "error.too_many_photos"


class RatingOutOfRange(InvalidInput):
    """A rating that is not 1..5."""

    code = "error.rating_range"


class PromisedDateInPast(InvalidInput):
    """A deferral or visit time that is not in the future."""

    code = "error.date_in_past"


class NoTermDates(InvalidInput):
    """A sweep set to repeat each term, with no term start date configured ahead."""

    code = "error.no_term_dates"


class RepeatOneWay(InvalidInput):
    """A sweep asked to repeat both every N weeks and each term."""

    code = "sweep.repeat_one_way"


class ReasonRequired(InvalidInput):
    """An action that must carry a reason was given none."""

    code = "error.reason_required"


class CooldownActive(DomainError):
    """An urge inside the cool-down window; `until` says when it is allowed again."""

    code = "error.cooldown"

    def __init__(self, until: datetime) -> None:
        super().__init__(f"cool-down until {until.isoformat()}", until=until)
        self.until = until


class InviteInvalid(DomainError):
    """An invite that is unknown, tampered with, expired or already used."""

    code = "error.invite_invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(f"invite {reason}", reason=reason)
        self.reason = reason


class ReopenWindowClosed(DomainError):
    """'Not fixed' pressed after the reopen window ended."""

    code = "error.reopen_window"


class LocationImportError(DomainError):
    """A locations CSV with bad rows; `errors` lists (line number, message) for each."""

    code = "error.location_import"

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        super().__init__(f"{len(errors)} bad row(s) in the locations file", count=len(errors))
        self.errors = errors


class AmbiguousName(InvalidInput):
    """A name that matches several things (a building in two campuses); `choices` lists them."""

    code = "error.ambiguous"

    def __init__(self, message: str, choices: list[str]) -> None:
        super().__init__(message, choices=choices)
        self.choices = choices


class GrantConflict(InvalidInput):
    """A staff grant narrower than (or inside) one the person already holds for that role:
    a grant has one meaning, so nothing changes unless the old grant is replaced."""

    code = "error.grant_conflict"


class StaffImportError(DomainError):
    """A staff CSV with bad rows; `errors` lists (line number, message) for each."""

    code = "error.staff_import"

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        super().__init__(f"{len(errors)} bad row(s) in the staff file", count=len(errors))
        self.errors = errors


class OfferWithdrawn(NotPermitted):
    """Accept pressed on an offer that was withdrawn because the technician no longer
    covers the job (their grant was removed or narrowed)."""

    code = "error.offer_withdrawn"
