"""Settings: a TOML file overridden by `REPAIRBOT_<SECTION>__<KEY>` environment variables.

Precedence, highest first: init arguments, environment, the TOML file, the defaults here.
Nothing is guessed: an unknown section or key (in the file or the environment) stops
`load_settings` with the closest valid key, every model forbids extra keys, and a database
URL names a driver this app ships (plain `postgresql://` is read as asyncpg).
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import tomllib
import types
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple, Union, get_args, get_origin
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

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
# Bounds of the durations in settings (a larger one overflows a date, or is a typo).
MINUTES_A_YEAR = 366 * 24 * 60
DAYS_TEN_YEARS = 3660
INVITE_HOURS_MAX = 720  # an invite link lives at most 30 days
ENV_PREFIX = "REPAIRBOT_"
ENV_NESTED = "__"
# The database drivers this app ships, and the URL schemes read as one of them.
SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRES_DRIVER = "postgresql+asyncpg"
SAME_DRIVER = {
    "sqlite": SQLITE_DRIVER,
    "postgresql": POSTGRES_DRIVER,
    "postgresql+psycopg": POSTGRES_DRIVER,
}
URL_HELP = "sqlite+aiosqlite:///repairbot.db, or postgresql+asyncpg://user:password@host:5432/name"


class ConfigError(Exception):
    """A setting is missing, unknown, unreadable or still a placeholder; the message (one
    line) says which and how to fix it."""


def looks_like_placeholder(value: str) -> bool:
    """Whether a value is empty, still the example's placeholder, or not token-shaped."""
    value = value.strip()
    return (
        not value
        or PLACEHOLDER_MARKERS.search(value) is not None
        or TOKEN_SHAPE.fullmatch(value) is None
    )


def database_url(value: str) -> str:
    """`value` if it names a driver this app ships; plain `postgresql://` (and the psycopg
    driver's scheme) read as asyncpg, plain `sqlite://` as aiosqlite; anything else is
    refused with the URL to use (ValueError, the password never shown)."""
    value = value.strip()
    try:
        url = make_url(value)
        url.port  # noqa: B018 - parses the port too
    except (ArgumentError, ValueError):
        raise ValueError(f"not a database URL; use {URL_HELP}") from None
    driver = url.drivername
    if driver in (SQLITE_DRIVER, POSTGRES_DRIVER):
        return value
    if driver in SAME_DRIVER:
        return url.set(drivername=SAME_DRIVER[driver]).render_as_string(hide_password=False)
    backend = url.get_backend_name()
    if backend in ("postgres", "postgresql", "sqlite"):
        wanted = POSTGRES_DRIVER if backend != "sqlite" else SQLITE_DRIVER
        fixed = url.set(drivername=wanted).render_as_string(hide_password=True)
        raise ValueError(f"the driver {driver!r} is not supported; use {fixed}")
    raise ValueError(f"{driver!r} databases are not supported; use {URL_HELP}")


def _shape(annotation: Any) -> dict[str, Any] | tuple[Any] | None:
    """What a setting's type allows below it: named keys (a model), any key with values of
    one type (a dict), or nothing to check (a plain value)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {name: f.annotation for name, f in annotation.model_fields.items()}
    origin = get_origin(annotation)
    if origin is dict:
        return (get_args(annotation)[1],)
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            if (shape := _shape(arg)) is not None:
                return shape
    return None


def _leaf_paths(annotation: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every valid key below a model, as paths (a dict of settings counts as one key)."""
    shape = _shape(annotation)
    if not isinstance(shape, dict):
        return [prefix]
    return [p for name, sub in shape.items() for p in _leaf_paths(sub, (*prefix, name))]


class Unknown(NamedTuple):
    """A key no setting has, and the closest one that exists (None: nothing close)."""

    path: tuple[str, ...]
    suggestion: tuple[str, ...] | None


def _first_leaf(value: object) -> tuple[str, ...]:
    """The first key inside an unknown table, to name a whole line ("databse.url")."""
    if isinstance(value, dict) and value:
        key, inner = next(iter(value.items()))
        return (str(key), *_first_leaf(inner))
    return ()


def unknown_settings(data: object, model: Any = None, path: tuple[str, ...] = ()) -> list[Unknown]:
    """Every key in `data` (nested dicts, as in the TOML file) that `model` (by default
    Settings) has no setting for, with the closest valid one. Generic over the models, so
    a new section or key is covered without a change here."""
    model = Settings if model is None else model
    return _unknown(model, data, path, model)


def _unknown(annotation: Any, data: object, path: tuple[str, ...], root: Any) -> list[Unknown]:
    shape = _shape(annotation)
    if not isinstance(data, dict) or shape is None:
        return []
    found: list[Unknown] = []
    for raw_key, value in data.items():
        key = str(raw_key)
        if isinstance(shape, tuple):
            found += _unknown(shape[0], value, (*path, key), root)
        elif key in shape:
            found += _unknown(shape[key], value, (*path, key), root)
        else:
            rest = _first_leaf(value)
            found.append(Unknown((*path, key, *rest), _suggest(root, path, key, rest, shape)))
    return found


def _suggest(
    root: Any, parent: tuple[str, ...], key: str, rest: tuple[str, ...], siblings: dict[str, Any]
) -> tuple[str, ...] | None:
    """The valid key an operator most likely meant: a sibling spelt alike, else any
    setting whose full name or own name is alike ("timezone" at the top: service.timezone)."""
    if not key:
        return None
    close = difflib.get_close_matches(key, list(siblings), n=1, cutoff=0.6)
    if close:
        candidate = (*parent, close[0], *rest)
        leaves = _leaf_paths(root)
        if any(candidate[: len(leaf)] == leaf for leaf in leaves) or not rest:
            return candidate
        return (*parent, close[0])
    # Never the table the key is in ("categories" for categories.water.x).
    leaves = [p for p in _leaf_paths(root) if p != parent[: len(p)]]
    dotted = {".".join(p): p for p in leaves}
    wanted = ".".join((*parent, key, *rest))
    close = difflib.get_close_matches(wanted, list(dotted), n=1, cutoff=0.6)
    if close:
        return dotted[close[0]]
    last = (rest or (key,))[-1]
    by_name = {p[-1]: p for p in reversed(leaves)}
    close = difflib.get_close_matches(last, list(by_name), n=1, cutoff=0.75)
    return by_name[close[0]] if close else None


def _valid_here(unknown: Unknown) -> str:
    """The keys valid beside an unknown one, for a line with nothing close to suggest."""
    annotation: Any = Settings
    for depth, part in enumerate(unknown.path):
        shape = _shape(annotation)
        if isinstance(shape, tuple):
            annotation = shape[0]
        elif isinstance(shape, dict) and part in shape:
            annotation = shape[part]
        else:
            keys = ", ".join(shape or ())
            where = ".".join(unknown.path[:depth])
            return f"valid under {where}: {keys}" if where else f"the sections are {keys}"
    return "no such setting"


def describe_unknown(found: list[Unknown], where: str, env: bool = False) -> str:
    """One line naming the first unknown key (and how many more), and the closest valid."""

    def name(path: tuple[str, ...]) -> str:
        if env:
            return ENV_PREFIX + ENV_NESTED.join(path).upper()
        return ".".join(path)

    first = found[0]
    line = f"unknown setting {name(first.path)}{where}"
    if first.suggestion is not None:
        line += f" — did you mean {name(first.suggestion)}?"
    else:
        line += f" ({_valid_here(first)}; see config.example.toml)"
    if len(found) > 1:
        line += f" ({len(found) - 1} more unknown)"
    return line


def env_settings(environ: dict[str, str] | None = None) -> dict[str, object]:
    """The `REPAIRBOT_…` variables that are settings, as nested keys (names lower-cased,
    as pydantic-settings reads them). A variable is a setting if it nests with `__` or
    starts with a section's name; others with the prefix (test switches such as
    REPAIRBOT_TEST_PG) are not ours to judge. A section joined by one underscore
    (REPAIRBOT_DATABASE_URL) is kept under its own name, so it is reported as unknown."""
    environ = dict(os.environ) if environ is None else environ
    sections = list(Settings.model_fields)
    found: dict[str, object] = {}
    for name in environ:
        if not name.upper().startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        if ENV_NESTED in rest:
            path = rest.split(ENV_NESTED)
        elif rest in sections or any(rest.startswith(f"{section}_") for section in sections):
            path = [rest]
        else:
            continue
        node = found
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node.setdefault(path[-1], "")
    return found


def check_env(environ: dict[str, str] | None = None) -> None:
    """ConfigError naming the first `REPAIRBOT_…` variable that is no setting."""
    found = unknown_settings(env_settings(environ))
    if not found:
        return
    first = found[0]
    for section in Settings.model_fields:
        # REPAIRBOT_DATABASE_URL: a section and its key joined by one underscore.
        if len(first.path) == 1 and first.path[0].startswith(f"{section}_"):
            key = first.path[0][len(section) + 1 :]
            inside = unknown_settings({section: {key: ""}})
            found[0] = Unknown(first.path, inside[0].suggestion if inside else (section, key))
            break
    raise ConfigError(describe_unknown(found, " in the environment", env=True))


def _toml_error(path: Path, exc: tomllib.TOMLDecodeError) -> ConfigError:
    """One line with the file, line and column of a TOML syntax error."""
    message = str(exc)
    where = re.search(r"\(at line (\d+), column (\d+)\)$", message)
    if where:
        what = message[: where.start()].strip()
        return ConfigError(f"{path} is not valid TOML: line {where[1]}, column {where[2]}: {what}")
    what = message.replace("(at end of document)", "").strip()
    return ConfigError(f"{path} is not valid TOML: at the end of the file: {what}")


def read_toml(path: Path) -> dict[str, Any]:
    """The settings file's tables, or ConfigError with one line on why not."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(path, exc) from None


class Listener(NamedTuple):
    """A port `run` listens on, and the setting that holds it."""

    setting: str
    host: str
    port: int


class Section(BaseModel):
    """A settings section: a key it does not know is a mistake, never ignored."""

    model_config = ConfigDict(extra="forbid")


class TelegramSettings(Section):
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
    webhook_port: int = Field(default=8443, ge=0, le=65535)
    webhook_path: str | None = None
    webhook_secret: SecretStr = SecretStr("")
    # How many webhook requests Telegram may have open at once (setWebhook; 1-100). Each
    # is answered only after its update was handled, so this bounds the chats in progress.
    webhook_max_connections: int = Field(default=40, ge=1, le=100)

    def webhook_local_path(self) -> str:
        """The path the bot's own webhook server answers on (no leading slash)."""
        path = (
            self.webhook_path if self.webhook_path is not None else urlsplit(self.webhook_url).path
        )
        return path.strip("/")


class DatabaseSettings(Section):
    """Where tickets live."""

    url: str = "sqlite+aiosqlite:///repairbot.db"
    echo: bool = False
    # SQLite only: "full" keeps every acknowledged commit through a power loss of the
    # machine (one disk sync per commit); "normal" only through a crash of the bot.
    sqlite_synchronous: Literal["normal", "full"] = "full"

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        return database_url(value)


class ServiceSettings(Section):
    """The office's own facts and the rules it runs by."""

    timezone: str = "Asia/Shanghai"
    languages: list[str] = Field(default_factory=lambda: list(SUPPORTED_LANGUAGES))
    default_language: str = "zh_Hans"
    emergency_phone: str = "110"
    complaint_phone: str = "12345"
    # A Telegram message holds 4096 characters; a report is one message.
    description_max: int = Field(default=1000, ge=1, le=4000)
    # Longest rating comment or complaint, and longest cancel/defer/release reason.
    comment_max: int = Field(default=1000, ge=1, le=3000)
    reason_max: int = Field(default=500, ge=1, le=500)
    photos_max: int = Field(default=5, ge=0, le=50)
    urge_cooldown_minutes: int = Field(default=120, ge=0, le=MINUTES_A_YEAR)
    reopen_window_days: int = Field(default=7, ge=1, le=DAYS_TEN_YEARS)
    auto_close_days: int = Field(default=7, ge=1, le=DAYS_TEN_YEARS)
    low_rating_threshold: int = Field(default=2, ge=0, le=5)
    offer_batch: int = Field(default=3, ge=1, le=100)
    invite_ttl_hours: int = Field(default=72, ge=1, le=INVITE_HOURS_MAX)
    # A booth ticket's claim link works this many days after filing.
    claim_ttl_days: int = Field(default=30, ge=1, le=DAYS_TEN_YEARS)
    # Reminder to the technician this long before a promised date (and one at the date).
    defer_reminder_hours: int = Field(default=24, ge=0, le=INVITE_HOURS_MAX)
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
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
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


class BoardSettings(Section):
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


class OpsSettings(Section):
    """The ops listener of every instance: /healthz, /readyz, /metrics (bot/ops.py)."""

    enabled: bool = True
    listen: str = "127.0.0.1"
    port: int = Field(default=9090, ge=0, le=65535)


class LoggingSettings(Section):
    """What the bot logs and how: text lines, or one JSON object per line."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class PrivacySettings(Section):
    """How long personal data is kept (README "Personal data"); the scheduler erases it
    once the period is over."""

    # A ticket's contact phone: erased this many days after it was closed or cancelled.
    contact_retention_days: int = Field(default=30, ge=1, le=DAYS_TEN_YEARS)
    # A ticket's photos (Telegram file ids): dropped this many days after it ended.
    photo_retention_days: int = Field(default=180, ge=1, le=DAYS_TEN_YEARS)
    # A requester with no activity (and no open ticket) this long is anonymised.
    person_retention_days: int = Field(default=730, ge=1, le=DAYS_TEN_YEARS)


class CategorySettings(Section):
    """Targets for one category, in minutes."""

    accept_minutes: int = Field(ge=1, le=MINUTES_A_YEAR)
    complete_minutes: int = Field(ge=1, le=MINUTES_A_YEAR)


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
        env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_NESTED, extra="forbid"
    )

    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    board: BoardSettings = Field(default_factory=BoardSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
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

    def listeners(self) -> list[Listener]:
        """Every port `run` opens, named by its setting (port 0: any free one)."""
        tg, board, ops = self.telegram, self.board, self.ops
        found: list[Listener] = []
        if board.enabled:
            found.append(Listener("board.port", board.listen, board.port))
        if ops.enabled:
            found.append(Listener("ops.port", ops.listen, ops.port))
        if tg.mode == "webhook":
            found.append(Listener("telegram.webhook_port", tg.webhook_listen, tg.webhook_port))
        return found

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
    """Load settings from `config_file` (if given), the environment and `overrides`.

    Refuses (ConfigError, one line) a file that is missing, unreadable or not TOML, and
    any key in the file or the environment that is no setting."""
    check_env()
    settings_class = Settings
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found; copy config.example.toml to it")
        found = unknown_settings(read_toml(path))
        if found:
            raise ConfigError(describe_unknown(found, f" in {path}"))

        class FileSettings(Settings):
            model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": path})

        settings_class = FileSettings
    try:
        return settings_class(**overrides)
    except SettingsError as exc:  # e.g. REPAIRBOT_DATABASE set to something not JSON
        raise ConfigError(
            f"{exc}: a whole section in one variable must be a JSON object; prefer "
            f"{ENV_PREFIX}<SECTION>{ENV_NESTED}<KEY>"
        ) from None
