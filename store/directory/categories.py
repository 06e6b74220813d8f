"""Repair categories: the rows kept matching the settings, and the active ones kept in memory."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from store.models import Category
from store.policy import Policy
from store.uow import UnitOfWork

CATEGORIES = "categories"  # the store cache holding the active categories
# The categories change only when an instance starts with other settings
# (sync_categories, which refreshes this process's copy at once); another instance's
# change shows here within this many seconds.
CATEGORIES_FRESH_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class CategoryView:
    """An active repair category; its label comes from the catalogs by `key`."""

    id: int
    key: str
    accept_minutes: int
    complete_minutes: int
    position: int


def _category_view(c: Category) -> CategoryView:
    return CategoryView(c.id or 0, c.key, c.accept_minutes, c.complete_minutes, c.position)


async def sync_categories(uow: UnitOfWork, policy: Policy) -> list[CategoryView]:
    """Make the Category rows match `policy.categories`; unconfigured ones become inactive.
    Two instances starting at once both insert a new category: the one that loses the race
    does it again, now finding the row the other inserted."""
    try:
        await _sync_categories(uow, policy)
    except IntegrityError:
        await _sync_categories(uow, policy)
    return await list_categories(uow)


async def _sync_categories(uow: UnitOfWork, policy: Policy) -> None:
    async with uow:
        existing = {c.key: c for c in (await uow.session.execute(select(Category))).scalars()}
        for position, (key, target) in enumerate(policy.categories.items()):
            accept = int(target.accept.total_seconds() // 60)
            complete = int(target.complete.total_seconds() // 60)
            category = existing.get(key)
            if category is None:
                category = Category(key=key, accept_minutes=accept, complete_minutes=complete)
                uow.session.add(category)
            category.accept_minutes, category.complete_minutes = accept, complete
            category.position, category.active = position, True
        for key, category in existing.items():
            # Keep retired categories as rows: old tickets still point at them.
            if key not in policy.categories and category.active:
                category.active = False
        uow.after_commit(uow.cache(CATEGORIES, _Categories).forget)
        await uow.commit()


class _Categories:
    """The active categories as last read, and when (time.monotonic)."""

    def __init__(self) -> None:
        self.views: tuple[CategoryView, ...] = ()
        self.read_at = -math.inf

    def forget(self) -> None:
        self.read_at = -math.inf


async def list_categories(uow: UnitOfWork) -> list[CategoryView]:
    """Active categories, by position: every report shows them, so they are kept in
    memory (see CATEGORIES_FRESH_SECONDS); filing checks the chosen one again."""
    kept = uow.cache(CATEGORIES, _Categories)
    if time.monotonic() - kept.read_at < CATEGORIES_FRESH_SECONDS:
        return list(kept.views)
    read_at = time.monotonic()
    async with uow.reading():
        rows = await uow.session.execute(
            select(Category)
            .where(col(Category.active).is_(True))
            .order_by(col(Category.position), col(Category.key))
        )
        views = [_category_view(c) for c in rows.scalars()]
    kept.views, kept.read_at = tuple(views), read_at
    return views


async def category_by_key(uow: UnitOfWork, key: str) -> CategoryView | None:
    """The active category with this key, or None."""
    async with uow.reading():
        category = (
            await uow.session.execute(
                select(Category).where(Category.key == key, col(Category.active).is_(True))
            )
        ).scalar_one_or_none()
        return _category_view(category) if category else None
