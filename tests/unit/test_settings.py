"""Which bot tokens `run` accepts: real-shaped ones always, placeholders never; and the
documented settings are the real ones."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.settings import ConfigError, ServiceSettings, Settings, looks_like_placeholder
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


@pytest.mark.parametrize("value", [0, 101])
def test_webhook_max_connections_is_telegrams_range(value: int) -> None:
    assert Settings().telegram.webhook_max_connections == 40
    assert (
        Settings(telegram={"webhook_max_connections": 100}).telegram.webhook_max_connections == 100
    )
    with pytest.raises(ValueError, match="webhook_max_connections"):
        Settings(telegram={"webhook_max_connections": value})
