"""Every translated catalog matches the English one: same keys, same placeholders, usable texts."""

from __future__ import annotations

import string
import tomllib
from typing import Any

import pytest

from bot.i18n import (
    FALLBACK,
    LANGUAGES,
    LOCALES_DIR,
    Texts,
    catalog,
    fill,
    language_from_telegram,
)

TRANSLATIONS = tuple(lang for lang in LANGUAGES if lang != FALLBACK)
_FORMATTER = string.Formatter()


def _placeholders(text: str) -> set[str]:
    """The field names a `str.format` template uses (`{a.b}` / `{a[0]}` count as `a`)."""
    names: set[str] = set()
    for _literal, field, _spec, _conversion in _FORMATTER.parse(text):
        if field is not None:
            names.add(field.split("|", 1)[0].split(".", 1)[0].split("[", 1)[0])
    return names


def _dummy(spec: str) -> Any:
    """A value that satisfies the format spec of a placeholder."""
    if spec and spec[-1] in "bcdoxXn":
        return 7
    if spec and spec[-1] in "eEfFgG%":
        return 7.5
    return "X"


def _dummy_params(text: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for _literal, field, spec, _conversion in _FORMATTER.parse(text):
        if field:
            params[field.split(".", 1)[0].split("[", 1)[0]] = _dummy(spec or "")
    return params


def _string_leaves(prefix: str, table: dict[str, Any]) -> list[str]:
    """Dotted names of leaves that are not plain strings."""
    bad: list[str] = []
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            bad.extend(_string_leaves(name, value))
        elif not isinstance(value, str):
            bad.append(name)
    return bad


def test_translations_cover_all_languages() -> None:
    assert set(TRANSLATIONS) == {"zh_Hans", "zh_Hant"}


@pytest.mark.parametrize("language", TRANSLATIONS)
def test_same_keys_as_english(language: str) -> None:
    english = set(catalog(FALLBACK))
    translated = set(catalog(language))
    missing = sorted(english - translated)
    extra = sorted(translated - english)
    assert not missing and not extra, (
        f"{language}.toml: missing keys {missing or 'none'}; extra keys {extra or 'none'}"
    )


@pytest.mark.parametrize("language", TRANSLATIONS)
def test_same_placeholders_as_english(language: str) -> None:
    english = catalog(FALLBACK)
    translated = catalog(language)
    mismatched = {
        key: (sorted(_placeholders(english[key])), sorted(_placeholders(text)))
        for key, text in translated.items()
        if key in english and _placeholders(text) != _placeholders(english[key])
    }
    assert not mismatched, f"{language}.toml placeholders differ (en, {language}): {mismatched}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_values_are_non_empty_strings(language: str) -> None:
    with (LOCALES_DIR / f"{language}.toml").open("rb") as fh:
        raw = tomllib.load(fh)
    assert not _string_leaves("", raw), f"{language}.toml non-string values"
    empty = sorted(key for key, text in catalog(language).items() if not text.strip())
    assert not empty, f"{language}.toml empty values: {empty}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_values_format_with_dummy_params(language: str) -> None:
    english = catalog(FALLBACK)
    failures: dict[str, str] = {}
    for key, text in catalog(language).items():
        params = _dummy_params(english.get(key, text))
        try:
            fill(text, params)
        except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
            failures[key] = f"{type(exc).__name__}: {exc}"
    assert not failures, f"{language}.toml texts that don't format: {failures}"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh-hans", "zh_Hans"),
        ("zh-cn", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("zh-Hans-CN", "zh_Hans"),
        ("zh-hant", "zh_Hant"),
        ("zh-tw", "zh_Hant"),
        ("zh-hk", "zh_Hant"),
        ("zh_TW", "zh_Hant"),
        ("en", "en"),
        ("en-us", "en"),
        ("en-GB", "en"),
    ],
)
def test_language_from_telegram(code: str, expected: str) -> None:
    assert language_from_telegram(code) == expected


@pytest.mark.parametrize("code", [None, "", "ru", "fr-fr"])
def test_language_from_telegram_default(code: str | None) -> None:
    assert language_from_telegram(code) == "zh_Hans"
    assert language_from_telegram(code, default="en") == "en"


def test_english_plurals_follow_the_count_and_chinese_needs_none() -> None:
    en, hans = Texts("en"), Texts("zh_Hans")
    one = en("sweep.started", building="E1", total=1)
    many = en("sweep.started", building="E1", total=12)
    assert one.endswith("E1: 1 room.") and many.endswith("E1: 12 rooms.")
    assert en("notice.dispatching", number="N", offered=1).endswith("1 on-duty technician.")
    assert en("notice.dispatching", number="N", offered=0).endswith("0 on-duty technicians.")
    assert "|" not in hans("sweep.started", building="E1", total=1)
    # No catalog leaves a plural choice unmade or a "(s)" behind.
    for language in LANGUAGES:
        for key, text in catalog(language).items():
            assert "(s)" not in text, (language, key)
