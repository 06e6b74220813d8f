"""Typed callback data: the one place buttons' data is packed and unpacked.

Telegram carries callback_data as at most 64 bytes that the *client* sends back, so it
can be forged. Unpacking only yields well-typed values or None; every handler still
checks, on the server, who presses and what state the ticket is in.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import ClassVar, Self, get_type_hints

from store.errors import DomainError

MAX_BYTES = 64
SEP = ":"
# Every int a button carries (ids, offsets, counts, epoch minutes) fits PostgreSQL's
# INTEGER, the type of the id columns; a forged value beyond it is malformed, not a query.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
_INT = re.compile(r"-?[0-9]{1,10}")
# Every str a button carries is a key (an action, a step, a language, a checklist item):
# word characters and "-", "." or "+". Spaces, control characters or NUL mean forged data.
_WORD = re.compile(r"[\w.+-]+")
_REGISTRY: dict[str, type[Callback]] = {}


class StaleButton(DomainError):
    """A press whose data no longer (or never did) name something the presser can do."""

    code = "common.stale_button"


class CallbackTooLong(ValueError):
    """Packed data would exceed Telegram's 64 bytes."""


@dataclass(frozen=True)
class Callback:
    """Base: subclasses declare PREFIX and int/str fields."""

    PREFIX: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.PREFIX:
            if cls.PREFIX in _REGISTRY:
                raise TypeError(f"duplicate callback prefix {cls.PREFIX!r}")
            _REGISTRY[cls.PREFIX] = cls

    def pack(self) -> str:
        """`PREFIX:field:field`, checked against Telegram's limit."""
        parts = [self.PREFIX]
        for f in dataclasses.fields(self):
            value = str(getattr(self, f.name))
            if SEP in value:
                raise ValueError(f"{f.name} may not contain {SEP!r}")
            parts.append(value)
        data = SEP.join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise CallbackTooLong(data)
        return data

    @classmethod
    def unpack(cls, data: str | None) -> Self | None:
        """Parse data of this class, or None when it is malformed in any way."""
        parsed = parse(data)
        return parsed if isinstance(parsed, cls) else None


def parse(data: str | None) -> Callback | None:
    """Parse any registered callback; None for garbage, unknown prefixes or bad types."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    prefix, _, rest = data.partition(SEP)
    cls = _REGISTRY.get(prefix)
    if cls is None:
        return None
    fields = _fields(cls)
    values = rest.split(SEP) if fields else []
    if len(values) != len(fields) or (not fields and rest):
        return None
    kwargs: dict[str, object] = {}
    for (name, is_int), raw in zip(fields, values, strict=True):
        if is_int:
            # ASCII digits only: str.isdigit() also passes "²", which int() refuses.
            if not _INT.fullmatch(raw) or not INT_MIN <= int(raw) <= INT_MAX:
                return None
            kwargs[name] = int(raw)
        else:
            if not _WORD.fullmatch(raw):
                return None
            kwargs[name] = raw
    return cls(**kwargs)


_FIELDS: dict[type[Callback], tuple[tuple[str, bool], ...]] = {}


def _fields(cls: type[Callback]) -> tuple[tuple[str, bool], ...]:
    """A callback class's fields in order, each with whether it is an int (resolved once:
    get_type_hints evaluates the annotations, which cost more than the parse itself)."""
    if cls not in _FIELDS:
        hints = get_type_hints(cls)
        _FIELDS[cls] = tuple((f.name, hints[f.name] is int) for f in dataclasses.fields(cls))
    return _FIELDS[cls]


# --- the callbacks ------------------------------------------------------------------------


@dataclass(frozen=True)
class Menu(Callback):
    """A main-menu entry: report, my, phones, lang."""

    PREFIX: ClassVar[str] = "m"
    item: str


@dataclass(frozen=True)
class SetLanguage(Callback):
    """Pick a catalog language."""

    PREFIX: ClassVar[str] = "l"
    code: str


@dataclass(frozen=True)
class Pick(Callback):
    """A choice in the report flow: what (campus, building, floor, room, cat, urg, page)
    and which value (an id, an index or an offset). `step` ties it to the draft's step so
    a button from an older message is recognised as stale."""

    PREFIX: ClassVar[str] = "p"
    step: str
    what: str
    value: int


@dataclass(frozen=True)
class Nav(Callback):
    """Report-flow navigation: back, cancel, skip, done, confirm, edit, file_anyway."""

    PREFIX: ClassVar[str] = "n"
    step: str
    action: str


@dataclass(frozen=True)
class EditField(Callback):
    """Jump from the summary to one field."""

    PREFIX: ClassVar[str] = "e"
    field: str


@dataclass(frozen=True)
class Follow(Callback):
    """Follow an existing ticket instead of filing a duplicate."""

    PREFIX: ClassVar[str] = "f"
    ticket_id: int


@dataclass(frozen=True)
class MyPage(Callback):
    """A page of the requester's ticket list."""

    PREFIX: ClassVar[str] = "mp"
    offset: int


@dataclass(frozen=True)
class TicketAction(Callback):
    """A requester action on one ticket: open, urge, cancel, cancel_yes, fixed, notfixed,
    complain (a visit proposal is answered with VisitAnswer)."""

    PREFIX: ClassVar[str] = "t"
    action: str
    ticket_id: int


@dataclass(frozen=True)
class VisitAnswer(Callback):
    """The requester's answer to one visit proposal: ok or no, and the proposed time as
    minutes since the Unix epoch (UTC), so that an answer to an older proposal is stale."""

    PREFIX: ClassVar[str] = "va"
    action: str
    ticket_id: int
    at_minutes: int


@dataclass(frozen=True)
class Rate(Callback):
    """Stars for a completed ticket."""

    PREFIX: ClassVar[str] = "r"
    ticket_id: int
    stars: int


@dataclass(frozen=True)
class OfferAnswer(Callback):
    """A technician's answer to a job offer: accept or decline."""

    PREFIX: ClassVar[str] = "o"
    action: str
    ticket_id: int


@dataclass(frozen=True)
class JobAction(Callback):
    """A technician's action on one of their jobs: open, visit, start, complete, defer,
    resume, release, list."""

    PREFIX: ClassVar[str] = "j"
    action: str
    ticket_id: int


@dataclass(frozen=True)
class JobsPage(Callback):
    """A page of a technician's /jobs: 0 for the first, a ticket id for the page after
    that job, minus a ticket id for the page before it (keyset, not an offset)."""

    PREFIX: ClassVar[str] = "jp"
    cursor: int


@dataclass(frozen=True)
class VisitSlot(Callback):
    """A proposed visit time, as minutes since the Unix epoch (UTC)."""

    PREFIX: ClassVar[str] = "vs"
    ticket_id: int
    at_minutes: int


@dataclass(frozen=True)
class DeferPick(Callback):
    """A deferral: the promised date as days from today, and the reason key (or "-")."""

    PREFIX: ClassVar[str] = "dp"
    ticket_id: int
    days: int
    reason: str


@dataclass(frozen=True)
class ReleaseReason(Callback):
    """Give a job back to dispatch with a preset reason."""

    PREFIX: ClassVar[str] = "rl"
    ticket_id: int
    reason: str


@dataclass(frozen=True)
class QueueView(Callback):
    """A dispatcher's queue page: filter and offset."""

    PREFIX: ClassVar[str] = "q"
    filter: str
    offset: int


@dataclass(frozen=True)
class QueueItem(Callback):
    """A dispatcher's action on one ticket: open, assign, cancel, duplicate."""

    PREFIX: ClassVar[str] = "qi"
    action: str
    ticket_id: int


@dataclass(frozen=True)
class StaleBulk(Callback):
    """Close or revive the stale list's page shown: the tickets with after < id <= upto
    (the server re-reads which of them are still stale and in scope)."""

    PREFIX: ClassVar[str] = "qs"
    action: str
    after: int
    upto: int


@dataclass(frozen=True)
class AssignTo(Callback):
    """Assign (or reassign) a ticket to one technician. `replacing` is whom the picker was
    shown for (0: nobody), so a press after the job changed hands is recognised as stale."""

    PREFIX: ClassVar[str] = "qa"
    ticket_id: int
    person_id: int
    replacing: int = 0


@dataclass(frozen=True)
class AssignPage(Callback):
    """A page of the Assign picker for a ticket: the offset into the technicians, and
    whether the name typed for this ticket (kept in the parked question) narrows it."""

    PREFIX: ClassVar[str] = "qp"
    ticket_id: int
    offset: int
    named: int = 0


@dataclass(frozen=True)
class FollowUpPage(Callback):
    """A page of /followups: the offset into the open follow-ups."""

    PREFIX: ClassVar[str] = "fp"
    offset: int


@dataclass(frozen=True)
class StaffPage(Callback):
    """An admin's staff list (/staff), one page of grants."""

    PREFIX: ClassVar[str] = "sl"
    page: int


@dataclass(frozen=True)
class StaffGrant(Callback):
    """An admin's step on one grant of the staff list: ask (confirm removal) or remove;
    `page` is the list page to go back to."""

    PREFIX: ClassVar[str] = "sg"
    action: str
    grant_id: int
    page: int


@dataclass(frozen=True)
class FollowUpAction(Callback):
    """A supervisor's action on a follow-up: open or resolve."""

    PREFIX: ClassVar[str] = "fu"
    action: str
    followup_id: int


@dataclass(frozen=True)
class SweepAct(Callback):
    """An inspector's action in a campaign: open, ok, fault, done, nobody, stop, close,
    progress (`room_id` 0 and `item` "-" when not about a room or an item)."""

    PREFIX: ClassVar[str] = "sw"
    action: str
    campaign_id: int
    room_id: int
    item: str


@dataclass(frozen=True)
class SweepPage(Callback):
    """A page of an inspector's open campaigns (/sweep): the offset into them."""

    PREFIX: ClassVar[str] = "sp"
    offset: int


@dataclass(frozen=True)
class SweepChecklist(Callback):
    """The checklist for a campaign being started (building and floors are in the
    parked question, which a forged press cannot change)."""

    PREFIX: ClassVar[str] = "sc"
    checklist: str


@dataclass(frozen=True)
class NobodyHomeReply(Callback):
    """A resident's answer to "the building check passed your room": fine or report."""

    PREFIX: ClassVar[str] = "nh"
    answer: str
    room_id: int


@dataclass(frozen=True)
class MyData(Callback):
    """My data: show, download, delete (asks), confirm (erases); `person_id` is the store id
    of the person the button was shown to, and only they may press it."""

    PREFIX: ClassVar[str] = "md"
    action: str
    person_id: int
