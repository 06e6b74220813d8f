"""A typed context: handlers reach the store, settings and texts through properties."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.i18n import Texts
from bot.sender import OutboxSender
from bot.settings import Settings
from scheduler.leadership import Leadership
from store.directory.profiles import PersonView
from store.uow import Store

if TYPE_CHECKING:
    from bot.board.server import BoardServer
    from bot.metrics import Metrics
    from bot.ops import OpsServer


@dataclass
class BotData:
    """Process-wide objects every handler may need; filled in by build_application."""

    settings: Settings | None = None
    store: Store | None = None
    sender: OutboxSender | None = None
    leadership: Leadership | None = None
    board: BoardServer | None = None  # the office board, when this process serves it
    metrics: Metrics | None = None
    ops: OpsServer | None = None  # the ops listener, when this process serves it
    extras: dict[str, Any] = field(default_factory=dict)


class Ctx(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """The context the gatekeeper fills with who is asking and in which language."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self._person: PersonView | None = None
        self._texts: Texts | None = None

    @property
    def store(self) -> Store:
        """The ticket store."""
        assert self.bot_data.store is not None
        return self.bot_data.store

    @property
    def settings(self) -> Settings:
        """All settings."""
        assert self.bot_data.settings is not None
        return self.bot_data.settings

    def nudge_sender(self) -> None:
        """Notices were just committed: let the outbox sender look at once."""
        if self.bot_data.sender is not None:
            self.bot_data.sender.nudge()

    @property
    def person(self) -> PersonView:
        """Who sent this update (set by the gatekeeper before any flow runs)."""
        if self._person is None:
            raise RuntimeError("gatekeeper did not run")
        return self._person

    @person.setter
    def person(self, value: PersonView) -> None:
        self._person = value

    @property
    def texts(self) -> Texts:
        """The catalog in the asker's language."""
        if self._texts is None:
            self._texts = Texts(
                self.settings.service.default_language, self.settings.service.timezone
            )
        return self._texts

    @texts.setter
    def texts(self, value: Texts) -> None:
        self._texts = value
