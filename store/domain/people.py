"""The person row behind a Telegram user: created or refreshed from what Telegram says,
wherever someone first turns up (their own /start, an invite, the booth, the CLI)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select

from store.models import Person
from store.text import normalise
from store.uow import UnitOfWork

LANGUAGE_MAX = 10  # the longest language code kept; anything longer is not one
# `Person.seen_at` (inactivity for privacy.person_retention_days counts from it) is
# written at most this often: a day's first update, not every message.
SEEN_EVERY = timedelta(days=1)


async def upsert_person(
    uow: UnitOfWork, telegram_id: int, name: str | None, language: str | None
) -> Person:
    """The person with this Telegram id, created or with a refreshed name; no commit.

    A new user's first two updates can race: the insert does nothing on the unique
    Telegram id, and the loser re-selects the winner's row.
    """
    return (await _upsert(uow, telegram_id, name, language))[0]


async def upsert_newcomer(
    uow: UnitOfWork, telegram_id: int, name: str | None, language: str | None
) -> tuple[Person, bool]:
    """`upsert_person` for someone most likely new, and whether this unit created the row:
    it inserts before looking (one statement for a newcomer, one more for a rename)."""
    return await _upsert(uow, telegram_id, name, language, likely_new=True)


async def _upsert(
    uow: UnitOfWork,
    telegram_id: int,
    name: str | None,
    language: str | None,
    *,
    likely_new: bool = False,
) -> tuple[Person, bool]:
    """`upsert_person`, and whether this unit created the row."""
    name, language = telegram_fields(name, language)
    stmt = select(Person).where(Person.telegram_id == telegram_id)
    person = None if likely_new else (await uow.session.execute(stmt)).scalar_one_or_none()
    if person is None:
        created = await uow.session.scalars(
            uow.insert(Person)
            .values(
                telegram_id=telegram_id,
                name=name,
                language=language,
                skills=[],
                created_at=uow.now(),
                seen_at=uow.now(),
            )
            .on_conflict_do_nothing(index_elements=[col(Person.telegram_id)])
            .returning(Person)
        )
        person = created.one_or_none()
        if person is not None:
            return person, True
        person = (await uow.session.execute(stmt)).scalar_one()
    if is_stale(person, name, language, uow.now()):
        if seen_due(person, uow.now()):
            person.seen_at = uow.now()
        if name and person.name != name:
            person.name = name
        if person.language is None and language is not None:
            # A language the user picked in the bot beats Telegram's client setting.
            person.language = language
    return person, False


def telegram_fields(name: str | None, language: str | None) -> tuple[str, str | None]:
    """Name and language as stored, from what Telegram says about the user."""
    cleaned = (normalise(name) or "")[:200]
    code = (normalise(language) or None) if language else None
    if code is not None and len(code) > LANGUAGE_MAX:
        code = None
    return cleaned, code


def is_stale(person: Person, name: str, language: str | None, now: datetime | None = None) -> bool:
    """Whether the row needs what Telegram now says (a new name, a first language), or
    (given `now`) a fresh `seen_at`."""
    return (
        bool(name and person.name != name)
        or (person.language is None and language is not None)
        or (now is not None and seen_due(person, now))
    )


def seen_due(person: Person, now: datetime) -> bool:
    """Whether the person's `seen_at` is a day old (or unset): time to write it again."""
    return person.seen_at is None or now - person.seen_at >= SEEN_EVERY
