"""A real Chromium for the browser tests: Playwright drives Debian's `chromium`
(`.ci/run` installs it). Without either, a test is skipped with the reason, unless
REPAIRBOT_REQUIRE_BROWSER=1 makes that a failure. A failing test leaves a screenshot in
test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    # Imported for types only: without Playwright the fixture skips instead of failing.
    from playwright.async_api import Page

CHROMIUM = os.environ.get("REPAIRBOT_CHROMIUM") or shutil.which("chromium") or ""
HOWTO = (
    "needs Playwright (pip install -e '.[dev]') and Debian's chromium "
    "(apt-get install chromium); set REPAIRBOT_REQUIRE_BROWSER=1 to fail instead of skipping"
)
# As the machine's probe starts it: no sandbox as root, no calls home on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("REPAIRBOT_ARTIFACTS", "test-artifacts"))


def _unavailable() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed"
    if not CHROMIUM or not Path(CHROMIUM).exists():
        return "chromium is not installed"
    return None


@pytest_asyncio.fixture
async def page(request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A phone-sized Chromium page; a screenshot is kept when the test fails."""
    missing = _unavailable()
    if missing:
        if os.environ.get("REPAIRBOT_REQUIRE_BROWSER", "") not in ("", "0"):
            pytest.fail(f"{missing}: {HOWTO}")
        pytest.skip(f"{missing}: {HOWTO}")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 390, "height": 700})
        tab = await context.new_page()
        try:
            yield tab
        finally:
            report = getattr(request.node, "rep_call", None)
            if report is None or report.failed:
                ARTIFACTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, on failure
                await tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
            await browser.close()
