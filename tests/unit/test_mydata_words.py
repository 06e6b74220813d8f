"""My data states the retention periods of the `[privacy]` settings in words, in each
language."""

from __future__ import annotations

from datetime import timedelta

from bot.flows.mydata import in_words, overview_text
from bot.i18n import Texts
from store.policy import Policy


def test_periods_in_words() -> None:
    en = Texts("en")
    assert [in_words(en, d) for d in (1, 14, 30, 90, 180, 365, 730, 400)] == [
        "1 day",
        "14 days",
        "30 days",
        "3 months",
        "6 months",
        "1 year",
        "2 years",
        "400 days",
    ]
    assert in_words(Texts("zh_Hans"), 180) == "6 个月"
    assert in_words(Texts("zh_Hant"), 730) == "2 年"


def test_the_overview_takes_the_configured_periods() -> None:
    policy = Policy(
        contact_retention=timedelta(days=14),
        photo_retention=timedelta(days=90),
        person_retention=timedelta(days=365),
    )
    text = overview_text(Texts("en"), policy)
    assert "14 days after the ticket is closed" in text
    assert "photos: 3 months after" in text and "1 year after your last message" in text
    for language in ("zh_Hans", "zh_Hant"):
        text = overview_text(Texts(language), policy)
        assert "14 天" in text and "3 个月" in text.replace("個", "个") and "1 年" in text
