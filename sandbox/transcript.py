"""An ordered record of user actions and bot calls, renderable as readable evidence."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One transcript line: who did what, and when relative to the server start."""

    seq: int
    at: float
    actor: str
    action: str
    detail: str


class Transcript:
    """Append-only log shared by the bot side and the user side."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self.entries: list[Entry] = []

    def record(self, actor: str, action: str, detail: str = "") -> Entry:
        """Append an entry and return it."""
        entry = Entry(len(self.entries) + 1, time.monotonic() - self._start, actor, action, detail)
        self.entries.append(entry)
        return entry

    def render(self, *, include_polls: bool = False) -> str:
        """Render the log as numbered text lines, one per event."""
        lines = []
        for entry in self.entries:
            if not include_polls and entry.action == "getUpdates" and entry.detail == "[]":
                continue
            detail = f" {entry.detail}" if entry.detail else ""
            lines.append(
                f"{entry.seq:04d} +{entry.at:7.3f}s {entry.actor}: {entry.action}{detail}"
            )
        return "\n".join(lines) + ("\n" if lines else "")

    def clear(self) -> None:
        """Forget every entry, e.g. between demo scenes."""
        self.entries.clear()
