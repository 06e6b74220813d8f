"""Tunable business rules, passed to services as plain values (built from settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta


@dataclass(frozen=True, slots=True)
class CategoryTarget:
    """How fast a category should be accepted and completed."""

    accept: timedelta
    complete: timedelta


DEFAULT_CATEGORIES: dict[str, CategoryTarget] = {
    "water": CategoryTarget(timedelta(minutes=30), timedelta(hours=4)),
    "electrical": CategoryTarget(timedelta(minutes=30), timedelta(hours=4)),
    "hvac": CategoryTarget(timedelta(hours=1), timedelta(hours=24)),
    "furniture": CategoryTarget(timedelta(hours=2), timedelta(hours=48)),
    "doors_locks": CategoryTarget(timedelta(minutes=30), timedelta(hours=4)),
    "network": CategoryTarget(timedelta(hours=1), timedelta(hours=24)),
    "other": CategoryTarget(timedelta(hours=2), timedelta(hours=72)),
}


# Urgent and emergency tickets must move faster than their category alone asks: the
# shorter of the two targets applies.
DEFAULT_URGENCY_TARGETS: dict[str, CategoryTarget] = {
    "urgent": CategoryTarget(timedelta(minutes=15), timedelta(hours=2)),
    "emergency": CategoryTarget(timedelta(minutes=5), timedelta(hours=1)),
}


# Sweep checklists per kind of place: item key -> the category a fault is filed under.
DEFAULT_CHECKLISTS: dict[str, dict[str, str]] = {
    "dorm_room": {
        "lights": "electrical",
        "sockets": "electrical",
        "taps": "water",
        "door_lock": "doors_locks",
        "windows": "other",
        "hvac": "hvac",
        "furniture": "furniture",
        "network": "network",
    },
    "classroom": {
        "lights": "electrical",
        "sockets": "electrical",
        "projector": "electrical",
        "door_lock": "doors_locks",
        "windows": "other",
        "hvac": "hvac",
        "furniture": "furniture",
        "network": "network",
    },
    "public_area": {
        "lights": "electrical",
        "taps": "water",
        "door_lock": "doors_locks",
        "windows": "other",
        "floor": "other",
    },
    "office": {
        "lights": "electrical",
        "sockets": "electrical",
        "door_lock": "doors_locks",
        "hvac": "hvac",
        "furniture": "furniture",
        "network": "network",
    },
}


@dataclass(frozen=True, slots=True)
class Policy:
    """Limits and windows the services enforce."""

    # The campus zone: ticket and follow-up numbers follow its calendar year.
    timezone: str = "Asia/Shanghai"
    description_max: int = 1000
    comment_max: int = 1000
    reason_max: int = 500
    photos_max: int = 5
    urge_cooldown: timedelta = timedelta(hours=2)
    reopen_window: timedelta = timedelta(days=7)
    auto_close_after: timedelta = timedelta(days=7)
    low_rating_threshold: int = 2
    offer_batch: int = 3
    claim_ttl: timedelta = timedelta(days=30)
    max_defer: timedelta = timedelta(days=90)
    defer_reminder: timedelta = timedelta(hours=24)
    # Personal data (store.directory.privacy): a ended ticket's contact phone, its photos,
    # and a requester without activity are kept this long, then erased.
    contact_retention: timedelta = timedelta(days=30)
    photo_retention: timedelta = timedelta(days=180)
    person_retention: timedelta = timedelta(days=730)
    categories: dict[str, CategoryTarget] = field(default_factory=lambda: dict(DEFAULT_CATEGORIES))
    urgency_targets: dict[str, CategoryTarget] = field(
        default_factory=lambda: dict(DEFAULT_URGENCY_TARGETS)
    )
    checklists: dict[str, dict[str, str]] = field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_CHECKLISTS.items()}
    )
    # First days of the terms (campus calendar); sweeps may repeat at each one.
    term_starts: tuple[date, ...] = ()
