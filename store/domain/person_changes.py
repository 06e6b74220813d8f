"""Which people this process changed, and when: lets the bot keep a person's view.

The gatekeeper keeps the asker's PersonView between updates instead of reading the row
(and their role grants) on every update. It notes `clock()` before it reads, and the view
stays good while `changed_since(person_id, tick)` is false. A change is tied to the person
it is about, so one user's first message, a renamed user or a technician marked
unreachable does not send everyone else back to the database (a single counter did:
every such write invalidated every cached view in the process).

Changes made by another process (the CLI, a second instance) are not seen here; the
gatekeeper also reads again after a short while for those.
"""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session

from store.models import Person, RoleGrant

_WATCHED = (Person, RoleGrant)
PENDING = "people_changed"  # session.info: (person ids, everyone?) changed, not yet committed
REMEMBERED = 4096  # people whose last change is kept apiece; older ones count for everyone

_clock = [0]  # ticks on every change this process makes to people or role grants
_everyone = [0]  # the tick of the last change not tied to one person (set-based writes)
_changed: dict[int, int] = {}  # person id -> tick of their last change, oldest first


def clock() -> int:
    """The current tick: note it before reading a person's view."""
    return _clock[0]


def changed_since(person_id: int, tick: int) -> bool:
    """Whether this process changed the person (or their grants) after `tick`."""
    return _everyone[0] > tick or _changed.get(person_id, 0) > tick


def _mark(person_ids: set[int], everyone: bool) -> None:
    _clock[0] += 1
    tick = _clock[0]
    if everyone:
        _everyone[0] = tick
    for person_id in person_ids:
        _changed.pop(person_id, None)  # re-inserted last: the dict stays oldest first
        _changed[person_id] = tick
    if len(_changed) > REMEMBERED:
        # Forget the older half; their changes then count for everyone (one extra read
        # each at worst), which keeps this bounded however many people write.
        for person_id in list(itertools.islice(_changed, REMEMBERED // 2)):
            _everyone[0] = max(_everyone[0], _changed.pop(person_id))


def _note(session: Session, person_ids: set[int], everyone: bool) -> None:
    _mark(person_ids, everyone)
    ids, all_of_them = session.info.get(PENDING, (set(), False))
    session.info[PENDING] = (ids | person_ids, all_of_them or everyone)


def _people_of(obj: object) -> set[int]:
    """The people a changed Person or RoleGrant row is about."""
    if isinstance(obj, Person):
        return {obj.id} if obj.id is not None else set()
    assert isinstance(obj, RoleGrant)
    ids = {obj.person_id}
    ids.update(inspect(obj).attrs.person_id.history.deleted or ())  # a grant moved
    return {i for i in ids if i is not None}


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    # A new Person is nobody's cached view yet; a new grant changes its person's roles.
    new = [obj for obj in session.new if isinstance(obj, RoleGrant)]
    touched = [
        obj
        for obj in itertools.chain(new, session.dirty, session.deleted)
        if isinstance(obj, _WATCHED)
    ]
    if touched:
        _note(session, set().union(*(_people_of(obj) for obj in touched)), everyone=False)


@event.listens_for(Session, "do_orm_execute")
def _on_orm_execute(state: ORMExecuteState) -> None:
    # Set-based UPDATE/DELETE (e.g. a duty roster, grants replaced) bypass the flush and
    # do not say whom they touched: they count for everyone.
    mapper = state.bind_mapper
    watched = mapper is not None and mapper.class_ in _WATCHED
    if watched and (state.is_update or state.is_delete):
        _note(state.session, set(), everyone=True)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    # Mark again at commit: a reader that kept a view between the flush and the commit
    # saw the old row after the first mark.
    pending = session.info.pop(PENDING, None)
    if pending is not None:
        _mark(*pending)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    # Nothing was committed; the marks already made only cost a read.
    session.info.pop(PENDING, None)
