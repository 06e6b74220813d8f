"""Signed, expiring, single-use staff invites carried in a Telegram deep link.

A token is `<random part><tag>`: 16 characters of base64url randomness and a 22-character
HMAC-SHA256 tag over them (server secret). A tampered link is refused before any database
lookup, and the database keeps only sha256(token), so a leaked table grants nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Set
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select

from store import roles
from store.db import rowcount
from store.directory.staff import VIA_INVITE, GrantView, add_grants
from store.domain.people import upsert_person
from store.domain.scope import grant_covers, grants_of
from store.errors import InvalidInput, InviteInvalid, NotPermitted
from store.lifecycle import Role
from store.models import Building, Campus, Invite
from store.uow import UnitOfWork

INVITE_PREFIX = "inv_"  # the start payload is INVITE_PREFIX + token
_RANDOM_CHARS = 16  # 12 random bytes
_TAG_CHARS = 22  # 16 bytes of HMAC-SHA256
_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{{_RANDOM_CHARS + _TAG_CHARS}}}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _tag(random_part: str, secret: str | bytes) -> str:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    digest = hmac.new(key, b"invite:" + random_part.encode("ascii"), hashlib.sha256).digest()
    return _b64(digest[:16])


def token_hash(token: str) -> str:
    """What the database stores for a token: its sha256, hex. Any text hashes (a pasted or
    forged link may hold any characters, and then matches nothing); issued tokens are
    ASCII, so their hashes are what they always were."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def derive_invite_secret(bot_token: str) -> bytes:
    """An invite-signing key derived from the bot token, for deployments with no own secret."""
    return hmac.new(bot_token.encode("utf-8"), b"repairbot-invite-v1", hashlib.sha256).digest()


def verify_token(token: str, secret: str | bytes) -> bool:
    """Whether the token is well formed and carries a valid tag (no database needed)."""
    if not _TOKEN.fullmatch(token):
        return False
    random_part, tag = token[:_RANDOM_CHARS], token[_RANDOM_CHARS:]
    return hmac.compare_digest(tag, _tag(random_part, secret))


def check_may_invite(person_roles: Set[Role]) -> None:
    """NotPermitted unless some role of the person invites staff: an admin, a supervisor
    (which role and where is checked when the invite is made)."""
    if roles.SUPERVISORS.isdisjoint(person_roles):
        raise NotPermitted("supervisors and admins only", action="invite")


async def _check_inviter(
    uow: UnitOfWork, created_by: int, role: Role, campus_id: int | None, building_ids: list[int]
) -> None:
    grants = await grants_of(uow, created_by)
    if any(g.role == Role.ADMIN for g in grants):
        return
    supervising = [g for g in grants if g.role == Role.SUPERVISOR]
    if not supervising or role not in roles.SUPERVISOR_INVITABLE:
        raise NotPermitted(f"cannot invite a {role}", action="invite")
    if building_ids:
        rows = await uow.session.execute(
            select(Building).where(col(Building.id).in_(building_ids))
        )
        targets = list(rows.scalars())
        ok = len(targets) == len(building_ids) and all(
            any(grant_covers(g, b) for g in supervising) for b in targets
        )
    elif campus_id is not None:
        ok = any(g.building_id is None and g.campus_id in (None, campus_id) for g in supervising)
    else:
        ok = any(g.building_id is None and g.campus_id is None for g in supervising)
    if not ok:
        raise NotPermitted("the invite's scope is outside yours", action="invite")


async def create_invite(
    uow: UnitOfWork,
    *,
    created_by: int | None,
    role: Role,
    secret: str | bytes,
    campus_id: int | None = None,
    building_ids: Iterable[int] = (),
    ttl: timedelta = timedelta(hours=72),
) -> str:
    """Create an invite and return its raw token; `created_by` None means the CLI."""
    if role not in roles.STAFF:
        raise InvalidInput(f"{role} is not a staff role", role=str(role))
    if ttl <= timedelta(0):
        raise InvalidInput("invite lifetime must be positive")
    ids = list(dict.fromkeys(building_ids))
    random_part = _b64(secrets.token_bytes(12))
    token = random_part + _tag(random_part, secret)
    async with uow:
        if created_by is not None:
            await _check_inviter(uow, created_by, role, campus_id, ids)
        now = uow.now()
        uow.session.add(
            Invite(
                token_hash=token_hash(token),
                role=role,
                campus_id=None if ids else campus_id,
                building_ids=ids,
                created_by_id=created_by,
                created_at=now,
                expires_at=now + ttl,
            )
        )
        await uow.commit()
    return token


async def redeem_invite(
    uow: UnitOfWork,
    token: str,
    *,
    telegram_id: int,
    name: str | None,
    language: str | None,
    secret: str | bytes,
) -> GrantView:
    """Grant the invite's role to this Telegram user; InviteInvalid says why not."""
    if not verify_token(token, secret):
        raise InviteInvalid("tampered")
    async with uow:
        invite = (
            await uow.session.execute(select(Invite).where(Invite.token_hash == token_hash(token)))
        ).scalar_one_or_none()
        if invite is None:
            raise InviteInvalid("unknown")
        now = uow.now()
        if invite.used_at is not None:
            raise InviteInvalid("used")
        if invite.expires_at <= now:
            raise InviteInvalid("expired")
        person = await upsert_person(uow, telegram_id, name, language)
        await uow.flush()
        assert person.id is not None and invite.id is not None
        # Conditional UPDATE: of two people pressing one link at once, exactly one wins.
        claimed = await uow.session.execute(
            update(Invite)
            .where(col(Invite.id) == invite.id, col(Invite.used_at).is_(None))
            .values(used_at=now, used_by_id=person.id)
            .execution_options(synchronize_session=False)
        )
        if rowcount(claimed) != 1:
            raise InviteInvalid("used")
        # Someone holding the role more widely keeps that grant; the invite adds nothing.
        await add_grants(
            uow,
            person.id,
            invite.role,
            invite.campus_id,
            invite.building_ids,
            narrower="keep",
            actor_id=invite.created_by_id,
            via=VIA_INVITE,
        )
        view = await _grant_view(uow, person.id, invite)
        await uow.commit()
    return view


async def _grant_view(uow: UnitOfWork, person_id: int, invite: Invite) -> GrantView:
    campus = await uow.session.get(Campus, invite.campus_id) if invite.campus_id else None
    names: list[str] = []
    if invite.building_ids:
        rows = await uow.session.execute(
            select(Building).where(col(Building.id).in_(invite.building_ids))
        )
        by_id = {b.id: b.name for b in rows.scalars()}
        names = [by_id.get(b, "?") for b in invite.building_ids]
    return GrantView(
        person_id=person_id,
        role=invite.role,
        campus_id=invite.campus_id,
        campus=campus.name if campus else None,
        building_ids=tuple(invite.building_ids),
        buildings=tuple(names),
    )


__all__ = [
    "INVITE_PREFIX",
    "create_invite",
    "derive_invite_secret",
    "redeem_invite",
    "token_hash",
    "verify_token",
]
