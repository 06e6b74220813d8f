"""Printable sheets of room QR codes (PDF with several pages, or PNG files), via matplotlib."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.fonts import cjk_family, label_fonts

A4_INCHES = (8.27, 11.69)
COLUMNS, ROWS = 4, 5


@dataclass(frozen=True, slots=True)
class QrLabel:
    """One sticker: the link in the code and two lines of text under it."""

    link: str
    code: str
    caption: str


def has_cjk_font() -> bool:
    """Whether a font with Chinese glyphs is installed (found even if matplotlib's font
    cache predates it: bot/fonts.py)."""
    return cjk_family() is not None


def _matrix(link: str) -> list[list[int]]:
    import segno  # only the QR commands need it, not the bot's start

    qr = segno.make(link, error="m", micro=False)
    return [list(row) for row in qr.matrix_iter(scale=1, border=2)]


def _page(labels: Sequence[QrLabel], title: str) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=A4_INCHES)
    fig.text(0.5, 0.975, title, ha="center", va="top", fontsize=12)
    cell_w, cell_h = 0.9 / COLUMNS, 0.92 / ROWS
    for index, label in enumerate(labels):
        col, row = index % COLUMNS, index // COLUMNS
        left = 0.05 + col * cell_w
        bottom = 0.95 - (row + 1) * cell_h
        ax = fig.add_axes(
            (left + 0.1 * cell_w, bottom + 0.24 * cell_h, 0.8 * cell_w, 0.74 * cell_h)
        )
        ax.imshow(_matrix(label.link), cmap="gray_r", interpolation="nearest")
        ax.set_axis_off()
        fig.text(left + cell_w / 2, bottom + 0.16 * cell_h, label.code, ha="center", fontsize=11)
        fig.text(left + cell_w / 2, bottom + 0.05 * cell_h, label.caption, ha="center", fontsize=8)
    return fig


def write_sheet(labels: Sequence[QrLabel], out: Path, title: str) -> list[Path]:
    """Write the stickers to `out` (.pdf: one file; .png: one file per page); return files."""
    import matplotlib

    matplotlib.rcParams["font.family"] = label_fonts()
    per_page = COLUMNS * ROWS
    pages = [labels[i : i + per_page] for i in range(0, len(labels), per_page)] or [[]]
    suffix = out.suffix.lower()
    if suffix not in (".pdf", ".png"):
        raise ValueError("the output file must end in .pdf or .png")
    # Missing-font chatter is expected on servers without CJK fonts; the CLI warns once.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*Glyph .* missing from.*")
        warnings.filterwarnings("ignore", message=r".*findfont.*")
        if suffix == ".pdf":
            from matplotlib.backends.backend_pdf import PdfPages

            with PdfPages(out) as pdf:
                for number, page in enumerate(pages, 1):
                    pdf.savefig(_page(page, f"{title}  ({number}/{len(pages)})"))
            return [out]
        written = []
        for number, page in enumerate(pages, 1):
            path = out if number == 1 else out.with_name(f"{out.stem}-{number}{out.suffix}")
            _page(page, f"{title}  ({number}/{len(pages)})").savefig(path, dpi=150)
            written.append(path)
        return written
