"""Whether this process changed people or role grants: lets the bot keep a person's view."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from store.models import Person, RoleGrant

_WATCHED = (Person, RoleGrant)
_changes = [0]  # bumped whenever this process writes people or role grants


def people_generation() -> int:
    """A number that changes whenever this process changes a person or a role grant.

    The gatekeeper keeps the asker's PersonView while it is unchanged, instead of reading
    the row on every update. Changes made by another process (the CLI, a second instance)
    are not seen here; the gatekeeper also reads again after a short while for those.
    """
    return _changes[0]


def _bump(session: Session) -> None:
    _changes[0] += 1
    session.info["people_changed"] = True


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    touched = itertools.chain(session.new, session.dirty, session.deleted)
    if any(isinstance(obj, _WATCHED) for obj in touched):
        _bump(session)


@event.listens_for(Session, "do_orm_execute")
def _on_orm_execute(state: ORMExecuteState) -> None:
    # Set-based UPDATE/DELETE (e.g. a duty roster, grants replaced) bypass the flush.
    mapper = state.bind_mapper
    watched = mapper is not None and mapper.class_ in _WATCHED
    if watched and (state.is_update or state.is_delete):
        _bump(state.session)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    # Bump again at commit: a reader that cached between the flush and the commit saw the
    # old row under the new number.
    if session.info.pop("people_changed", False):
        _changes[0] += 1
