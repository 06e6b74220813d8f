"""Finding a font with Chinese glyphs for the QR sheets and the digest chart.

matplotlib caches the fonts it saw the first time it ran; a CJK font installed later
(`apt-get install fonts-noto-cjk`) is missing from that cache until someone deletes it.
So we look for one on disk ourselves (fontconfig when present, else the usual folders),
check it really has Chinese glyphs, and hand it to matplotlib for this process.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

# Families known to carry Chinese, tried first from matplotlib's own cache.
KNOWN_CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK TC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "Microsoft YaHei",
    "Microsoft JhengHei",
    "PingFang SC",
    "Heiti TC",
    "Arial Unicode MS",
)
FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
)
FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
# Characters every label font must draw: "repair" in Simplified and Traditional Chinese.
PROBE = "维修維修"
MAX_FILES = 3000  # a walk of a huge font folder stops here rather than stall start-up


def covers(path: Path, text: str = PROBE) -> bool:
    """Whether the font file has a glyph for every character of `text`."""
    from fontTools.ttLib import TTFont  # matplotlib's own dependency

    try:
        font = TTFont(str(path), fontNumber=0, lazy=True)
        try:
            cmap = font.getBestCmap() or {}
        finally:
            font.close()
    except Exception:  # a broken or unsupported file is just not a candidate
        return False
    return all(ord(ch) in cmap for ch in text)


def _fontconfig_files() -> list[Path]:
    """Files fontconfig knows to cover Chinese (empty without fc-list)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        out = subprocess.run(  # noqa: S603 - fixed arguments, resolved path
            [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [Path(line.split(":")[0].strip()) for line in out.splitlines() if line.strip()]


def _walk(dirs: Iterable[str | Path]) -> Iterator[Path]:
    """Font files under `dirs`, likely CJK names first, at most MAX_FILES in all."""
    found: list[Path] = []
    for folder in dirs:
        root = Path(folder).expanduser()
        if root.is_dir():
            found.extend(
                p for p in root.rglob("*") if p.suffix.lower() in FONT_SUFFIXES and p.is_file()
            )
        if len(found) >= MAX_FILES:
            break
    hints = ("cjk", "han", "wqy", "zenhei", "microhei", "fallback", "sc", "tc", "hei", "song")
    found.sort(key=lambda p: not any(h in p.name.lower() for h in hints))
    yield from found[:MAX_FILES]


def find_cjk_family(dirs: Iterable[str | Path] = FONT_DIRS) -> str | None:
    """The name of a font family with Chinese glyphs, registered with matplotlib for this
    process; None when the machine has none."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    cached = {entry.name for entry in manager.ttflist}
    for family in KNOWN_CJK_FAMILIES:
        if family in cached:
            return family
    for path in [*_fontconfig_files(), *_walk(dirs)]:
        if covers(path):
            manager.addfont(str(path))
            name: str = font_manager.FontProperties(fname=str(path)).get_name()
            log.info("using %s (%s) for Chinese labels", name, path)
            return name
    return None


@functools.cache
def cjk_family() -> str | None:
    """`find_cjk_family()` once per process."""
    return find_cjk_family()


def label_fonts() -> list[str]:
    """The font list for labels: the CJK family found, then DejaVu for everything else."""
    family = cjk_family()
    return [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
