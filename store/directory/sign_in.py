"""One-time sign-in links to the office board for a plain browser, beside the staff invites.

A token is random (no signature: it is only ever looked up), single-use and short-lived;
the database keeps only its sha256 (invites.token_hash), so a leaked table opens nothing.
Who may sign in, and what they then see, is the board's rule (store.domain.board_access),
checked when the link is made and again when it is used.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col

from store.directory.invites import token_hash
from store.domain import board_access
from store.domain.board_access import Viewer
from store.errors import NotPermitted
from store.models import BoardSignIn
from store.uow import UnitOfWork

SIGNIN_TTL = timedelta(minutes=10)


async def issue_signin(uow: UnitOfWork, person_id: int) -> str:
    """A single-use sign-in token for a plain browser, valid SIGNIN_TTL; only its hash is
    stored, so the database cannot be read for working links."""
    async with uow.reading():
        await board_access.viewer(uow, person_id)  # staff only
    token = secrets.token_urlsafe(24)
    async with uow:
        now = uow.now()
        uow.session.add(
            BoardSignIn(
                token_hash=token_hash(token),
                person_id=person_id,
                created_at=now,
                expires_at=now + SIGNIN_TTL,
            )
        )
        await uow.commit()
    return token


async def redeem_signin(uow: UnitOfWork, token: str) -> Viewer:
    """Use a sign-in token once; NotPermitted when unknown, used or expired."""
    async with uow:
        now = uow.now()
        # A conditional UPDATE: of two tabs opening the same link, exactly one gets in.
        claimed = await uow.session.execute(
            update(BoardSignIn)
            .where(
                col(BoardSignIn.token_hash) == token_hash(token),
                col(BoardSignIn.used_at).is_(None),
                col(BoardSignIn.expires_at) > now,
            )
            .values(used_at=now)
            .returning(col(BoardSignIn.person_id))
        )
        person_id = claimed.scalar_one_or_none()
        if person_id is None:
            raise NotPermitted("sign-in link unknown, used or expired")
        await uow.commit()
    async with uow.reading():
        return await board_access.viewer(uow, person_id)
