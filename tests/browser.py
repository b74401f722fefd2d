"""A real browser for the tests: Debian's Chromium (``/usr/bin/chromium``) driven by Playwright for Python.

Nothing is downloaded (never ``playwright install``). Without Playwright or the
browser, the tests that need them skip with the reason, unless
``MNIST_CLASSIC_REQUIRE_BROWSER=1`` (as ``.ci/run`` sets it), which makes that a failure.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("MNIST_CLASSIC_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("MNIST_CLASSIC_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (MNIST_CLASSIC_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser, or skip (fail when required) naming what is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable('Playwright for Python is not installed: pip install -e ".[browser]"')
    if not CHROMIUM.is_file():
        _unavailable(f"no Chromium at {CHROMIUM}: apt-get install chromium (Debian), or set MNIST_CLASSIC_CHROMIUM")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class OpenedPage:
    """A page opened from disk, with every problem the browser reported: console errors, page errors, requests."""

    def __init__(self, browser: Any, path: Path, *, width: int = 1280, height: int = 900) -> None:
        self.url = path.resolve().as_uri()
        self.context = browser.new_context(viewport={"width": width, "height": height}, offline=True)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed request: {r.url} {r.failure}"))
        self.page.on("request", lambda r: r.url != self.url and self.problems.append(f"request: {r.url}"))
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-ready=yes]", timeout=60_000)

    def timing(self) -> dict[str, float]:
        """Milliseconds from navigation start: the load event's end, and the page drawn (``explore-ready``)."""
        return self.page.evaluate(
            """() => ({load: performance.getEntriesByType("navigation")[0].loadEventEnd,
                       ready: performance.getEntriesByName("explore-ready")[0].startTime})"""
        )

    def close(self) -> None:
        self.context.close()


def biggest_error_cell(page: Any, table: str) -> tuple[int, int]:
    """(true, predicted) of the off-diagonal cell with the most images in a confusion matrix of the page."""
    return tuple(
        page.evaluate(
            """(id) => [...document.querySelectorAll("#" + id + " td.n")]
                .filter((td) => td.dataset.t !== td.dataset.p)
                .map((td) => [Number(td.textContent), Number(td.dataset.t), Number(td.dataset.p)])
                .sort((x, y) => y[0] - x[0] || x[1] - y[1] || x[2] - y[2])[0].slice(1)""",
            table,
        )
    )


def screenshots(browser: Any, page_path: Path, folder: Path) -> list[Path]:
    """The pictures of the explorer in the docs: the two cases and their matrices, and a confusion cell opened."""
    folder.mkdir(parents=True, exist_ok=True)
    opened = OpenedPage(browser, page_path, width=1200, height=1000)
    page = opened.page
    shots = [folder / "explore-pair.png", folder / "explore-cell.png", folder / "explore-hardest.png"]
    page.screenshot(path=str(shots[0]))
    t, p = biggest_error_cell(page, "confusion-a")
    page.locator(f'#confusion-a td[data-t="{t}"][data-p="{p}"]').click()
    page.evaluate("document.getElementById('confusion-a').scrollIntoView()")
    page.screenshot(path=str(shots[1]))
    page.evaluate("document.getElementById('class-table').scrollIntoView()")
    page.screenshot(path=str(shots[2]))
    assert not opened.problems, opened.problems
    opened.close()
    return shots
