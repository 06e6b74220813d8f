"""Which bot tokens `run` accepts: real-shaped ones always, placeholders never; and the
documented settings are the real ones."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from bot.settings import (
    CategorySettings,
    ConfigError,
    LoggingSettings,
    OpsSettings,
    ServiceSettings,
    Settings,
    TelegramSettings,
    load_settings,
    looks_like_placeholder,
    unknown_settings,
)
from sandbox.state import new_token


def test_every_random_token_the_stand_in_issues_is_accepted() -> None:
    # A substring test for "xxx" once rejected ~1 in 1,000 random secrets, failing CI at
    # random. 20,000 draws would almost surely hit that again.
    rejected = [t for t in (new_token() for _ in range(20_000)) if looks_like_placeholder(t)]
    assert rejected == []


# Shaped like BotFather's tokens but built here, so no string in the repository looks
# like a live credential to a secret scanner (or a reader).
FAKE_SECRET = "FAKE-test-secret-" + "0123456789" * 2


@pytest.mark.parametrize(
    "token",
    [
        f"123456789:AAHxxx{FAKE_SECRET}",  # "xxx" inside a secret is not a placeholder
        f"5555555555:{FAKE_SECRET}",
    ],
)
def test_real_looking_tokens_pass(token: str) -> None:
    assert not looks_like_placeholder(token)
    assert Settings(telegram={"token": SecretStr(token)}).require_token() == token


@pytest.mark.parametrize(
    "token",
    [
        "",
        "   ",
        "change-me",
        "123:change-me-0123456789abcdef",
        "123456:YOUR_TOKEN_abcdefghijklmnopqrstuvw",
        "123456:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "<token from BotFather>",
        "AAH0aB1cD2eF3gH4iJ5kL6mN7oP8qR9sT0u",  # secret without the bot id
        "123456:short",
        "123456:AAH0aB1cD2eF3gH4 iJ5kL6mN7oP8qR9sT0u",  # pasted with a space inside
    ],
)
def test_placeholders_and_malformed_tokens_are_refused_without_echoing(token: str) -> None:
    assert looks_like_placeholder(token)
    with pytest.raises(ConfigError) as refused:
        Settings(telegram={"token": SecretStr(token)}).require_token()
    message = str(refused.value)
    assert "REPAIRBOT_TELEGRAM__TOKEN" in message
    if token.strip():
        assert token not in message


def test_config_example_and_readme_name_every_service_setting() -> None:
    """config.example.toml and the README's table stay true to the code."""
    root = Path(__file__).parents[2]
    example = tomllib.loads((root / "config.example.toml").read_text(encoding="utf-8"))
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert set(ServiceSettings.model_fields) <= set(example["service"])
    assert [k for k in ServiceSettings.model_fields if k not in readme] == []
    loaded = Settings.model_validate(example).service
    assert (loaded.claim_ttl_days, loaded.comment_max, loaded.reason_max) == (30, 1000, 500)


def test_ops_and_logging_settings_are_documented_and_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = Path(__file__).parents[2]
    example = tomllib.loads((root / "config.example.toml").read_text(encoding="utf-8"))
    readme = (root / "README.md").read_text(encoding="utf-8")
    ops, logs = OpsSettings(), LoggingSettings()  # the code's defaults, no environment
    assert example["ops"] == ops.model_dump()
    assert example["logging"] == logs.model_dump()
    assert (ops.enabled, ops.listen, ops.port) == (True, "127.0.0.1", 9090)
    assert (logs.level, logs.format) == ("INFO", "text")
    for key in ("ops.enabled", "ops.listen", "ops.port", "logging.level", "logging.format"):
        assert f"`{key}`" in readme
    monkeypatch.setenv("REPAIRBOT_LOGGING__FORMAT", "JSON")
    monkeypatch.setenv("REPAIRBOT_LOGGING__LEVEL", "warning")
    monkeypatch.setenv("REPAIRBOT_OPS__PORT", "9191")
    loaded = Settings()
    assert (loaded.logging.format, loaded.logging.level, loaded.ops.port) == (
        "json",
        "WARNING",
        9191,
    )
    monkeypatch.setenv("REPAIRBOT_LOGGING__FORMAT", "xml")
    with pytest.raises(ValidationError, match=r"logging\.format"):
        Settings()


# --- unknown keys, broken files, database URLs ------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No REPAIRBOT_ settings in the environment (the test switches may stay)."""
    for name in list(os.environ):
        if name.upper().startswith("REPAIRBOT_") and "__" in name:
            monkeypatch.delenv(name)
    return monkeypatch


def _refusal(tmp_path: Path, toml: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_settings(path)
    return str(refused.value).replace(str(path), "config.toml")


@pytest.mark.parametrize(
    ("toml", "line"),
    [
        (
            '[databse]\nurl = "postgresql+asyncpg://db/x"\n',
            "unknown setting databse.url in config.toml — did you mean database.url?",
        ),
        (
            '[service]\ntimezon = "Asia/Taipei"\n',
            "unknown setting service.timezon in config.toml — did you mean service.timezone?",
        ),
        (
            'timezone = "Asia/Taipei"\n',
            "unknown setting timezone in config.toml — did you mean service.timezone?",
        ),
        (
            "[board]\nprot = 8091\n",
            "unknown setting board.prot in config.toml — did you mean board.port?",
        ),
        (
            "[categories.water]\nacept_minutes = 5\ncomplete_minutes = 60\n",
            "unknown setting categories.water.acept_minutes in config.toml — did you mean "
            "categories.water.accept_minutes?",
        ),
        (
            "[telegram]\nwebhok_url = 1\n[board]\nlisten_on = 2\n",
            "unknown setting telegram.webhok_url in config.toml — did you mean "
            "telegram.webhook_url? (1 more unknown)",
        ),
        (
            "[zzz]\nq = 1\n",
            "unknown setting zzz.q in config.toml (the sections are "
            + ", ".join(Settings.model_fields)
            + "; see config.example.toml)",
        ),
    ],
)
def test_an_unknown_key_in_the_file_is_one_line_with_the_closest_valid_key(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, toml: str, line: str
) -> None:
    assert _refusal(tmp_path, toml) == line


@pytest.mark.parametrize(
    ("name", "line"),
    [
        (
            "REPAIRBOT_DATABSE__URL",
            "unknown setting REPAIRBOT_DATABSE__URL in the environment — did you mean "
            "REPAIRBOT_DATABASE__URL?",
        ),
        (
            "REPAIRBOT_DATABASE_URL",  # one underscore: pydantic-settings would ignore it
            "unknown setting REPAIRBOT_DATABASE_URL in the environment — did you mean "
            "REPAIRBOT_DATABASE__URL?",
        ),
        (
            "repairbot_service__timezon",
            "unknown setting REPAIRBOT_SERVICE__TIMEZON in the environment — did you mean "
            "REPAIRBOT_SERVICE__TIMEZONE?",
        ),
        (
            "REPAIRBOT_CATEGORIES__WATER__X",
            "unknown setting REPAIRBOT_CATEGORIES__WATER__X in the environment (valid under "
            "categories.water: accept_minutes, complete_minutes; see config.example.toml)",
        ),
    ],
)
def test_an_unknown_repairbot_variable_is_one_line_with_the_closest_valid_one(
    clean_env: pytest.MonkeyPatch, name: str, line: str
) -> None:
    clean_env.setenv(name, "1")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert str(refused.value) == line


def test_variables_that_are_not_settings_are_left_alone(clean_env: pytest.MonkeyPatch) -> None:
    for name in ("REPAIRBOT_TEST_PG", "REPAIRBOT_RACE_ROUNDS", "DATABASE__URL", "TELEGRAM_TOKEN"):
        clean_env.setenv(name, "whatever")
    clean_env.setenv("REPAIRBOT_CATEGORIES__WATER__ACCEPT_MINUTES", "7")  # any category name
    clean_env.setenv("REPAIRBOT_CATEGORIES__WATER__COMPLETE_MINUTES", "70")
    assert load_settings().categories["water"].accept_minutes == 7


def _models(annotation: object) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        for field in annotation.model_fields.values():
            yield from _models(field.annotation)
    for arg in get_args(annotation):
        yield from _models(arg)


def test_every_settings_model_forbids_unknown_keys() -> None:
    """Generic: a section another change adds is covered without touching the check."""
    models = set(_models(Settings))
    assert {TelegramSettings, ServiceSettings, CategorySettings} <= models
    assert [m.__name__ for m in models if m.model_config.get("extra") != "forbid"] == []
    for model in models - {Settings}:
        paths = [
            (name, "surely_not_a_setting")
            for name, f in Settings.model_fields.items()
            if f.annotation is model
        ]
        for section, key in paths:
            assert unknown_settings({section: {key: 1}})[0].path == (section, key)


def test_broken_toml_is_one_line_with_file_line_and_column(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    assert _refusal(tmp_path, "[telegram\n") == (
        "config.toml is not valid TOML: line 1, column 10: Expected ']' at the end of a "
        "table declaration"
    )
    assert _refusal(tmp_path, '[board]\nport = 8090\nlisten = "x\n').startswith(
        "config.toml is not valid TOML: line 3, column "
    )
    (tmp_path / "config.toml").write_bytes(b"[board]\nlisten = '\xff'\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(tmp_path / "config.toml")


def test_config_example_loads_cleanly(clean_env: pytest.MonkeyPatch) -> None:
    example = Path(__file__).parents[2] / "config.example.toml"
    assert unknown_settings(tomllib.loads(example.read_text(encoding="utf-8"))) == []
    settings = load_settings(example)
    assert settings.database.url == "sqlite+aiosqlite:///repairbot.db"
    assert settings.board.port == 8090


@pytest.mark.parametrize(
    ("url", "taken_as"),
    [
        (
            "postgresql://bot:pw@db.example.edu/repairbot",
            "postgresql+asyncpg://bot:pw@db.example.edu/repairbot",
        ),
        ("postgresql+psycopg://bot:p%40w@db:5433/rb", "postgresql+asyncpg://bot:p%40w@db:5433/rb"),
        ("postgresql+asyncpg://db/rb", "postgresql+asyncpg://db/rb"),
        ("sqlite:///office.db", "sqlite+aiosqlite:///office.db"),
        ("sqlite+aiosqlite:///office.db", "sqlite+aiosqlite:///office.db"),
    ],
)
def test_postgresql_urls_are_taken_as_asyncpg(url: str, taken_as: str) -> None:
    assert Settings(database={"url": url}).database.url == taken_as


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgres://bot:hunter22@db/rb", "use postgresql+asyncpg://bot:***@db/rb"),
        ("postgresql+psycopg2://bot:hunter22@db/rb", "use postgresql+asyncpg://bot:***@db/rb"),
        ("mysql://bot:hunter22@db/rb", "'mysql' databases are not supported"),
        ("repairbot.db", "not a database URL"),
        ("postgresql+asyncpg://bot:hunter22@db:port/rb", "not a database URL"),
    ],
)
def test_other_database_urls_are_refused_with_the_url_to_use(url: str, says: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(database={"url": url})
    message = refused.value.errors()[0]["msg"]
    assert says in message and "hunter22" not in message


@pytest.mark.parametrize("value", [0, 101])
def test_webhook_max_connections_is_telegrams_range(value: int) -> None:
    assert Settings().telegram.webhook_max_connections == 40
    assert (
        Settings(telegram={"webhook_max_connections": 100}).telegram.webhook_max_connections == 100
    )
    with pytest.raises(ValueError, match="webhook_max_connections"):
        Settings(telegram={"webhook_max_connections": value})
