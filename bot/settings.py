"""Settings: a TOML file overridden by `REPAIRBOT_<SECTION>__<KEY>` environment variables.

Precedence, highest first: init arguments, environment, the TOML file, the defaults here.
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url

from store.db import create_engine
from store.directory.invites import derive_invite_secret
from store.policy import (
    DEFAULT_CATEGORIES,
    DEFAULT_CHECKLISTS,
    DEFAULT_URGENCY_TARGETS,
    CategoryTarget,
    Policy,
)
from store.uow import Store

# Words that mark an example value. A real token's secret is random base64, so these are
# matched only where they cannot arise by chance: whole words, or a run of six x's. (A
# plain substring test for "xxx" rejected about one random token in a thousand.)
PLACEHOLDER_MARKERS = re.compile(
    r"change-?me|your[-_]?token|placeholder|[<>]|x{6,}", re.IGNORECASE
)
# Telegram's shape: "<bot id>:<secret>", e.g. 123456789:AAH… (35 url-safe characters).
TOKEN_SHAPE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,}$")
SUPPORTED_LANGUAGES = ("zh_Hans", "zh_Hant", "en")


class ConfigError(Exception):
    """A setting is missing or still holds a placeholder; the message says which and how."""


def looks_like_placeholder(value: str) -> bool:
    """Whether a value is empty, still the example's placeholder, or not token-shaped."""
    value = value.strip()
    return (
        not value
        or PLACEHOLDER_MARKERS.search(value) is not None
        or TOKEN_SHAPE.fullmatch(value) is None
    )


class TelegramSettings(BaseModel):
    """How to reach Telegram (or the sandbox stand-in)."""

    token: SecretStr = SecretStr("")
    api_url: str = "https://api.telegram.org/bot"
    file_url: str = "https://api.telegram.org/file/bot"
    bot_username: str = ""
    mode: Literal["polling", "webhook"] = "polling"
    # Webhook mode: the public HTTPS URL Telegram posts to, and where the bot listens for
    # it (usually behind a reverse proxy). The local path is the URL's path unless
    # `webhook_path` says otherwise (a proxy that rewrites it).
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_path: str | None = None
    webhook_secret: SecretStr = SecretStr("")

    def webhook_local_path(self) -> str:
        """The path the bot's own webhook server answers on (no leading slash)."""
        path = (
            self.webhook_path if self.webhook_path is not None else urlsplit(self.webhook_url).path
        )
        return path.strip("/")


class DatabaseSettings(BaseModel):
    """Where tickets live."""

    url: str = "sqlite+aiosqlite:///repairbot.db"
    echo: bool = False
    # SQLite only: "full" keeps every acknowledged commit through a power loss of the
    # machine (one disk sync per commit); "normal" only through a crash of the bot.
    sqlite_synchronous: Literal["normal", "full"] = "full"


class ServiceSettings(BaseModel):
    """The office's own facts and the rules it runs by."""

    timezone: str = "Asia/Shanghai"
    languages: list[str] = Field(default_factory=lambda: list(SUPPORTED_LANGUAGES))
    default_language: str = "zh_Hans"
    emergency_phone: str = "110"
    complaint_phone: str = "12345"
    description_max: int = 1000
    # Longest rating comment or complaint, and longest cancel/defer/release reason.
    comment_max: int = Field(default=1000, ge=1, le=3000)
    reason_max: int = Field(default=500, ge=1, le=500)
    photos_max: int = 5
    urge_cooldown_minutes: int = 120
    reopen_window_days: int = 7
    auto_close_days: int = 7
    low_rating_threshold: int = 2
    offer_batch: int = 3
    invite_ttl_hours: int = 72
    # A booth ticket's claim link works this many days after filing.
    claim_ttl_days: int = Field(default=30, ge=1)
    # Reminder to the technician this long before a promised date (and one at the date).
    defer_reminder_hours: int = 24
    # Local time (HH:MM, campus zone or the supervisor's own) of the daily digest.
    digest_time: str = "08:00"
    # First days of the terms, e.g. ["2026-09-07", "2027-02-22"]: a sweep started with
    # "term" repeats on each one (at midnight, campus time).
    term_starts: list[date] = Field(default_factory=list)
    # Signs staff invite links; empty derives one from the bot token (then a new token
    # voids every outstanding invite).
    invite_secret: SecretStr = SecretStr("")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name") from exc
        return value

    @field_validator("digest_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        hour, _, minute = value.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ValueError(f"digest_time must be HH:MM, got {value!r}")
        return value

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: list[str]) -> list[str]:
        unknown = [lang for lang in value if lang not in SUPPORTED_LANGUAGES]
        if unknown or not value:
            raise ValueError(f"languages must be a non-empty subset of {SUPPORTED_LANGUAGES}")
        return value


class BoardSettings(BaseModel):
    """The office board: a read-only web view served by the bot process."""

    enabled: bool = True
    listen: str = "127.0.0.1"
    port: int = Field(default=8090, ge=0, le=65535)
    # The HTTPS address Telegram opens as a Mini App (behind a reverse proxy); empty: the
    # board is reached by sign-in links only, at http://listen:port.
    public_url: str = ""

    @field_validator("public_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError(f"board.public_url must start with https:// (got {value!r})")
        return value

    def base_url(self) -> str:
        """Where people open the board: public_url, else the local address."""
        return self.public_url or f"http://{self.listen}:{self.port}"

    def mini_app_url(self) -> str | None:
        """The Mini App address Telegram accepts (HTTPS only), or None."""
        return f"{self.public_url}/board/" if self.public_url.startswith("https://") else None


class PrivacySettings(BaseModel):
    """How long personal data is kept (README "Personal data"); the scheduler erases it
    once the period is over."""

    # A ticket's contact phone: erased this many days after it was closed or cancelled.
    contact_retention_days: int = Field(default=30, ge=1)
    # A ticket's photos (Telegram file ids): dropped this many days after it ended.
    photo_retention_days: int = Field(default=180, ge=1)
    # A requester with no activity (and no open ticket) this long is anonymised.
    person_retention_days: int = Field(default=730, ge=1)


class CategorySettings(BaseModel):
    """Targets for one category, in minutes."""

    accept_minutes: int
    complete_minutes: int


def _default_urgency() -> dict[str, CategorySettings]:
    return {
        key: CategorySettings(
            accept_minutes=int(t.accept.total_seconds() // 60),
            complete_minutes=int(t.complete.total_seconds() // 60),
        )
        for key, t in DEFAULT_URGENCY_TARGETS.items()
    }


def _default_categories() -> dict[str, CategorySettings]:
    return {
        key: CategorySettings(
            accept_minutes=int(t.accept.total_seconds() // 60),
            complete_minutes=int(t.complete.total_seconds() // 60),
        )
        for key, t in DEFAULT_CATEGORIES.items()
    }


class Settings(BaseSettings):
    """Every setting of the bot; see config.example.toml for comments on each."""

    model_config = SettingsConfigDict(
        env_prefix="REPAIRBOT_", env_nested_delimiter="__", extra="ignore"
    )

    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    board: BoardSettings = Field(default_factory=BoardSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    categories: dict[str, CategorySettings] = Field(default_factory=_default_categories)
    # Shorter targets for urgent and emergency tickets (the shorter of these and the
    # category's applies).
    urgency: dict[str, CategorySettings] = Field(default_factory=_default_urgency)
    # Sweep checklists: [checklists.<kind>] item = "category" (see config.example.toml).
    checklists: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_CHECKLISTS.items()}
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Env beats the TOML file (set by `load_settings`), which beats defaults."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def store(self) -> Store:
        """A store on `database.url` with these settings' engine options and policy; not
        migrated or checked (callers decide)."""
        db = self.database
        engine = create_engine(db.url, echo=db.echo, synchronous=db.sqlite_synchronous)
        return Store(engine, self.policy())

    def policy(self) -> Policy:
        """The domain's rules, built from these settings."""
        svc = self.service
        return Policy(
            timezone=svc.timezone,
            description_max=svc.description_max,
            comment_max=svc.comment_max,
            reason_max=svc.reason_max,
            photos_max=svc.photos_max,
            urge_cooldown=timedelta(minutes=svc.urge_cooldown_minutes),
            reopen_window=timedelta(days=svc.reopen_window_days),
            auto_close_after=timedelta(days=svc.auto_close_days),
            low_rating_threshold=svc.low_rating_threshold,
            offer_batch=svc.offer_batch,
            claim_ttl=timedelta(days=svc.claim_ttl_days),
            defer_reminder=timedelta(hours=svc.defer_reminder_hours),
            contact_retention=timedelta(days=self.privacy.contact_retention_days),
            photo_retention=timedelta(days=self.privacy.photo_retention_days),
            person_retention=timedelta(days=self.privacy.person_retention_days),
            urgency_targets={
                key: CategoryTarget(
                    timedelta(minutes=c.accept_minutes), timedelta(minutes=c.complete_minutes)
                )
                for key, c in self.urgency.items()
            },
            checklists={k: dict(v) for k, v in self.checklists.items()},
            term_starts=tuple(sorted(set(svc.term_starts))),
            categories={
                key: CategoryTarget(
                    timedelta(minutes=c.accept_minutes), timedelta(minutes=c.complete_minutes)
                )
                for key, c in self.categories.items()
            },
        )

    def invite_secret(self) -> bytes:
        """The key that signs invite links: the configured one, else derived from the token."""
        configured = self.service.invite_secret.get_secret_value()
        if configured:
            return configured.encode("utf-8")
        return derive_invite_secret(self.require_token())

    def secrets(self) -> list[str]:
        """Every value no output may show: the token, the webhook secret, the invite key,
        the database password (bot/logs.py hides them, and the token's secret half)."""
        values = [
            self.telegram.token.get_secret_value(),
            self.telegram.webhook_secret.get_secret_value(),
            self.service.invite_secret.get_secret_value(),
        ]
        with contextlib.suppress(Exception):  # an unparsable URL is refused elsewhere
            values.append(make_url(self.database.url).password or "")
        # Until the URL parses, its raw userinfo ("user:password@") is the best guess.
        userinfo = urlsplit(self.database.url).netloc.rpartition("@")[0]
        raw = userinfo.partition(":")[2]
        values += [raw, unquote(raw)]
        return [v for v in values if v]

    def require_token(self) -> str:
        """The bot token, or ConfigError saying how to set it (never echoing the value)."""
        token = self.telegram.token.get_secret_value()
        if looks_like_placeholder(token):
            raise ConfigError(
                "telegram.token is missing, still a placeholder, or not shaped like a bot "
                "token (<bot id>:<secret>). Get a token from @BotFather and set it in "
                "config.toml under [telegram] token, or in the environment as "
                "REPAIRBOT_TELEGRAM__TOKEN."
            )
        return token


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Load settings from `config_file` (if given), the environment and `overrides`."""
    if config_file is None:
        return Settings(**overrides)
    path = Path(config_file)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; copy config.example.toml to it")

    class FileSettings(Settings):
        model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": path})

    return FileSettings(**overrides)
