"""What the browser tests share: the example project on a free port, headless Chromium, logged-in
pages, axe-core and the checks that what a test taps is really on the screen.

A test module imports the fixtures (named ``demo`` and ``browser``; imported under their function
names so that a test's ``demo`` argument does not shadow an import) and the helpers::

    from .browser_support import browser_fixture, demo_fixture  # noqa: F401  (fixtures)
    from .browser_support import PHONE, assert_tappable, logged_in_page, run_axe

Needs Debian's chromium (CI installs it; skipped without it, except under CI=true) and, for
``run_axe``, ``node_modules/axe-core`` (``make node_modules/.installed``; without it a test runs its
other checks and is then reported as skipped, except under CI=true).
Screenshots go to $LIVENESS_SCREENSHOTS (``make screenshots`` writes the ones in docs/img/).
"""

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from django_liveness.images import sample_face_image

from .example_server import example_server

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
# WCAG 2.5.5 (AAA) and Apple's and Google's guidelines: 44 CSS pixels for anything a finger taps.
MIN_TOUCH_TARGET = 44


def missing_tool(message):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI must install it)")
    pytest.skip(message)


# Checks the running test could not make for a missing tool (outside CI): the test goes on, and
# once everything else in it passed it is reported as skipped with these reasons (tests/conftest.py).
# So a fresh clone without `npm ci` runs the rest of every browser test, and no test leaves half done.
skipped_checks = []


def skip_check(message):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI must install it)")
    skipped_checks.append(message)


@pytest.fixture(scope="module", name="demo")
def demo_fixture(tmp_path_factory):
    """The example project (emulator mode, fresh SQLite database) on a free port, one per test module:
    {"base", "port", "db", "log", "env", "reference" (a face picture to upload)}."""
    yield from serve_demo(tmp_path_factory)


def serve_demo(tmp_path_factory, **extra_env):
    """Yield what ``demo`` yields, the example project run with ``extra_env`` (DEMO_API_VERSION ...):
    a module's own ``demo`` fixture for another configuration."""
    if not os.path.exists(CHROMIUM):
        missing_tool("chromium is not installed")
    folder = tmp_path_factory.mktemp("demo")
    reference = folder / "me.jpg"
    reference.write_bytes(sample_face_image())
    with example_server(folder, **extra_env) as server:
        yield server | {"reference": reference}


@pytest.fixture(scope="module", name="browser")
def browser_fixture(demo):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_page(browser, viewport=DESKTOP, **context_options):
    """A page in a context of its own (cookies, permissions), with a phone's touch at phone sizes."""
    touch = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, has_touch=touch, is_mobile=touch, **context_options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def logged_in_page(browser, demo, username, password, viewport=DESKTOP, **context_options):
    """A new browser context logged in to the example project; the page is left on the page after login."""
    page = new_page(browser, viewport, **context_options)
    page.goto(f"{demo['base']}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-button")
    page.wait_for_load_state()
    return page


def screenshot(page, name, full_page=True):
    folder = os.environ.get("LIVENESS_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=full_page)


def stored(demo, sql, params=()):
    with sqlite3.connect(demo["db"]) as db:
        return db.execute(sql, params).fetchall()


def run_axe(page, impacts=("serious", "critical"), exclude=()):
    """axe-core's violations of these impacts on the page as it is now, outside the ``exclude``
    selectors: [{"id", "impact", "help", "targets"}]."""
    if not AXE.exists():
        skip_check("axe-core is not installed (make node_modules/.installed): no accessibility check")
        return []
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())  # not a <script> tag: the hosted page's CSP refuses inline scripts
    context = {"include": [["html"]], "exclude": [[selector] for selector in exclude]}
    results = page.evaluate("context => axe.run(context, {resultTypes: ['violations']})", context)
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "targets": [node["target"] for node in violation["nodes"]],
        }
        for violation in results["violations"]
        if violation["impact"] in impacts
    ]


def assert_no_horizontal_scroll(page):
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px viewport"


def assert_tappable(page, selector):
    """Fail unless the element is visible, inside the viewport's width and (on a phone) at least 44 px
    tall and wide, and the page does not scroll sideways. Returns the locator, to tap it."""
    locator = page.locator(selector)
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    assert box is not None, f"{selector} is not displayed"
    width = page.viewport_size["width"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{selector} is outside the {width} px viewport: {box}"
    if width < 600:
        assert min(box["width"], box["height"]) >= MIN_TOUCH_TARGET - 0.5, f"{selector} is too small to tap: {box}"
    assert_no_horizontal_scroll(page)
    return locator
