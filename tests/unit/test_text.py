"""store/text.py: the one normal form of typed text (no I/O)."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from store.text import normalise, normalise_key


@given(st.characters(codec=None, exclude_categories=()))
def test_exactly_control_characters_but_newline_and_tab_are_removed(char: str) -> None:
    unwanted = unicodedata.category(char) in ("Cc", "Cs") and char not in "\n\t"
    kept = normalise(f"a{char}b")
    assert kept == ("ab" if unwanted else unicodedata.normalize("NFC", f"a{char}b"))


@given(st.text())
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert once is None or ("\x00" not in once and once == once.strip())


def test_keys_are_never_none() -> None:
    assert normalise_key(" \x00 ") == "" and normalise_key(" E1-1\x0001 ") == "E1-101"
    assert normalise("Cafe\u0301", limit=3) == "Caf" and normalise("é" * 5, limit=2) == "éé"
