"""Pure helpers: HTML entity parsing, UTF-16 lengths, trimming and image sniffing."""

from __future__ import annotations

import html

from hypothesis import given
from hypothesis import strategies as st

from sandbox.formatting import command_entities, parse_html, strip_text, utf16_len
from sandbox.images import image_size, tiny_jpeg, tiny_png


@given(st.text())
def test_escaped_text_parses_back_to_itself(text: str) -> None:
    assert parse_html(html.escape(text)) == (text, [])


@given(st.text(min_size=1).filter(lambda s: s.strip() == s), st.text(" \n\t"))
def test_bold_entity_covers_the_text(text: str, pad: str) -> None:
    plain, entities = parse_html(f"{pad}<b>{html.escape(text)}</b>")
    stripped, kept = strip_text(plain, entities)
    assert stripped == text
    assert [(e.type, e.offset, e.length) for e in kept] == [("bold", 0, utf16_len(text))]


def test_utf16_offsets_count_surrogate_pairs() -> None:
    plain, entities = parse_html("😀 <i>x</i>")
    assert plain == "😀 x" and (entities[0].offset, entities[0].length) == (3, 1)


def test_command_entities_anywhere_at_word_start() -> None:
    found = command_entities("/start ref and /help@bot but not a/b")
    assert [(e.offset, e.length) for e in found] == [(0, 6), (15, 9)]


def test_image_sizes() -> None:
    assert image_size(tiny_png(7, 9)) == (7, 9)
    assert image_size(tiny_jpeg()) == (2, 2)
    assert image_size(tiny_jpeg("tagged")) == (2, 2) and tiny_jpeg("a") != tiny_jpeg("b")
    assert image_size(b"GIF89a\x03\x00\x04\x00") == (3, 4)
    assert image_size(b"plain text") is None
