"""A CJK font installed after matplotlib built its font cache is still found and used."""

from __future__ import annotations

from pathlib import Path

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen

from bot import fonts


def _font(path: Path, family: str, chars: str) -> Path:
    """A minimal TrueType font drawing a box for each of `chars`."""
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "box"])
    builder.setupCharacterMap({ord(ch): "box" for ch in chars})
    pen = TTGlyphPen(None)
    pen.moveTo((0, 0))
    pen.lineTo((0, 500))
    pen.lineTo((500, 500))
    pen.lineTo((500, 0))
    pen.closePath()
    box = pen.glyph()
    builder.setupGlyf({".notdef": box, "box": box})
    builder.setupHorizontalMetrics({".notdef": (500, 0), "box": (500, 0)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": family, "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.save(str(path))
    return path


@pytest.fixture
def bare_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a server whose matplotlib cache has no CJK family and without fontconfig."""
    monkeypatch.setattr(fonts, "KNOWN_CJK_FAMILIES", ())
    monkeypatch.setattr(fonts, "_fontconfig_files", list)


@pytest.mark.usefixtures("bare_machine")
def test_a_font_installed_after_the_cache_was_built_is_found_and_registered(
    tmp_path: Path,
) -> None:
    from matplotlib import font_manager

    folder = tmp_path / "truetype" / "later"
    folder.mkdir(parents=True)
    _font(folder / "Latin.ttf", "Latin Only Test", "repair")
    installed = _font(folder / "RepairHei.ttf", "Repair Hei Test", "维修維修")

    family = fonts.find_cjk_family([tmp_path])

    assert family == "Repair Hei Test"
    found = font_manager.findfont(
        font_manager.FontProperties(family=family), fallback_to_default=False
    )
    assert Path(found) == installed


@pytest.mark.usefixtures("bare_machine")
def test_no_chinese_font_means_none_and_labels_fall_back_to_dejavu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _font(tmp_path / "Latin.ttf", "Latin Only Test 2", "repair")
    assert fonts.find_cjk_family([tmp_path]) is None
    monkeypatch.setattr(fonts, "cjk_family", lambda: None)
    assert fonts.label_fonts() == ["DejaVu Sans"]


def test_only_fonts_with_every_probe_glyph_count(tmp_path: Path) -> None:
    simplified_only = _font(tmp_path / "s.ttf", "Simplified Only Test", "维修")
    assert fonts.covers(simplified_only, "维修")
    assert not fonts.covers(simplified_only)  # 維 (Traditional) is missing
    assert not fonts.covers(tmp_path / "missing.ttf")
