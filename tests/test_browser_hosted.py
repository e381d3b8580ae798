"""The hosted capture link's life in headless Chromium with a fake camera, as a person lives it on a
phone (390x844) and a desktop (1280x800): a chat app's preview before them, a blocked camera, the
reload the page advises, a discarded tab, another browser, a framing page; the page's strict CSP
holds throughout. Fixtures and helpers: tests/browser_support.py; the first opening and the result
screens: tests/test_browser.py::test_the_hosted_capture_link."""

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .browser_support import (
    DESKTOP,
    PHONE,
    VIEWPORTS,
    assert_no_horizontal_scroll,
    assert_tappable,
    browser_fixture,  # noqa: F401  (fixture)
    demo_fixture,  # noqa: F401  (fixture)
    logged_in_page,
    new_page,
    run_axe,
    stored,
)
from .test_browser import prepare_subject

pytestmark = pytest.mark.browser

WIDGET = "[data-liveness-capture]"
# The person blocked the camera (in this test, until localStorage says otherwise): getUserMedia as the
# browser then answers it.
CAMERA_SETTING = """
const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (constraints) => localStorage.getItem("camera") === "blocked"
  ? Promise.reject(new DOMException("blocked for this test", "NotAllowedError"))
  : getUserMedia(constraints);
"""
# A camera that gives only black frames (covered, or taken by another app).
BLACK_CAMERA = """
navigator.mediaDevices.getUserMedia = async () => {
  const canvas = Object.assign(document.createElement("canvas"), { width: 640, height: 480 });
  const context = canvas.getContext("2d");
  setInterval(() => { context.fillStyle = "#000"; context.fillRect(0, 0, 640, 480); }, 50);
  return canvas.captureStream(10);
};
"""


def capture_url(browser, demo):
    """A new session's capture_url, as the app that starts it gets it (then the app's browser is gone)."""
    app = logged_in_page(browser, demo, "demo", "demo-password")
    subject, csrf = prepare_subject(app, demo)
    answer = app.request.post(
        f"{demo['base']}/api/liveness/sessions/", data={"subject": subject, "verify": True}, headers=csrf
    )
    assert answer.status == 201, answer.text()
    created = answer.json()
    app.context.close()
    LINKS[created["capture_url"]] = created["id"].replace("-", "")  # as SQLite stores a UUID
    return created["capture_url"]


LINKS = {}  # capture_url -> its session's id


def link_spent(demo, url):
    rows = stored(demo, "SELECT capture_link_opened_at FROM django_liveness_livenesssession WHERE id = ?", (LINKS[url],))
    return rows[0][0] is not None


class Console:
    """What the page said on its console: CSP violations are errors there."""

    def __init__(self, page):
        self.errors = []
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def csp_violations(self):
        return [text for text in self.errors if "Content Security Policy" in text or "Refused to" in text]


def tap(page, selector):
    assert_tappable(page, selector).click()


def wait_until_capture_is_possible(page):
    page.wait_for_selector(f"{WIDGET} .lc-capture:not([disabled])")


def in_view(page, selector):
    box = page.locator(selector).bounding_box()
    viewport = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_a_preview_spends_nothing_and_a_blocked_camera_is_fixed_by_the_reload_the_page_advises(browser, demo, size):
    url = capture_url(browser, demo)

    # A chat app's link preview fetches the link first: HEAD, then GET.
    preview = browser.new_context(user_agent="WhatsApp/2.23.20.0 A")
    assert preview.request.head(url).status == 200
    shown = preview.request.get(url)
    assert shown.status == 200 and "auth_token" not in shown.text()
    preview.close()
    assert not link_spent(demo, url)

    page = new_page(browser, VIEWPORTS[size])
    console = Console(page)
    page.add_init_script(CAMERA_SETTING)
    page.goto(url)
    page.evaluate("localStorage.setItem('camera', 'blocked')")
    assert page.is_hidden(f"{WIDGET} .lc-capture")  # nothing happens before the person starts
    assert run_axe(page) == []
    tap(page, f"{WIDGET} .lc-start")
    page.wait_for_selector(f"{WIDGET} .lc-status.lc-error")
    advice = page.inner_text(f"{WIDGET} .lc-status")
    assert "Allow camera access in your browser’s settings and reload the page" in advice, advice
    assert page.is_disabled(f"{WIDGET} .lc-capture")
    assert link_spent(demo, url)

    # The person follows the advice: allows the camera, reloads. The page goes on, without a tap.
    page.evaluate("localStorage.removeItem('camera')")
    page.reload()
    wait_until_capture_is_possible(page)
    assert page.is_hidden(f"{WIDGET} .lc-start")
    assert in_view(page, f"{WIDGET} video")

    # The phone's Settings app discarded the tab: the link, opened again in the same browser, goes on.
    assert console.csp_violations() == [] and console.errors == []
    context = page.context
    page.close()
    page = context.new_page()
    console = Console(page)
    page.goto(url)
    wait_until_capture_is_possible(page)

    # Any other browser: the link is used.
    other = new_page(browser, VIEWPORTS[size])
    other.goto(url)
    assert "This link has already been used" in other.inner_text("main")
    assert other.locator(f"{WIDGET}").count() == 0
    assert run_axe(other) == []
    other.context.close()

    tap(page, f"{WIDGET} .lc-outcomes label:has(input[value=live])")
    tap(page, f"{WIDGET} .lc-capture")
    page.wait_for_selector(f"{WIDGET}:not([aria-busy]) .lc-status.lc-ok")
    assert "You are verified" in page.inner_text(f"{WIDGET} .lc-status")
    assert_no_horizontal_scroll(page)
    assert run_axe(page) == []
    assert console.csp_violations() == [] and console.errors == []
    page.reload()  # the session ended: the link with it, even here
    assert "This check has ended or expired" in page.inner_text("main")
    context.close()


def test_two_browsers_with_the_page_open_only_the_first_start_wins(browser, demo):
    url = capture_url(browser, demo)
    first, second = new_page(browser, PHONE), new_page(browser, PHONE)
    first.goto(url)
    second.goto(url)  # both show the page: opening spends nothing
    tap(first, f"{WIDGET} .lc-start")
    wait_until_capture_is_possible(first)
    tap(second, f"{WIDGET} .lc-start")
    second.wait_for_selector(f"{WIDGET} .lc-status.lc-error")
    assert "This link has already been used" in second.inner_text(f"{WIDGET} .lc-status")
    assert second.is_hidden(f"{WIDGET} .lc-start") and second.is_hidden(f"{WIDGET} video")
    first.context.close()
    second.context.close()


@contextmanager
def framing_site(*urls):
    """Another site (another loopback port: another origin) whose page frames ``urls``, granting the camera."""
    frames = "".join(f'<iframe src="{url}" allow="camera" width="400" height="300"></iframe>' for url in urls)
    body = f"<!doctype html><html lang=en><title>Framer</title>{frames}".encode()

    class FramingPage(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), FramingPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_framing_page_cannot_show_the_hosted_page(browser, demo):
    url = capture_url(browser, demo)
    framed_file = f"{demo['base']}/static/django_liveness/capture.css"  # no framing rule: it shows
    page = new_page(browser, DESKTOP)
    console = Console(page)
    with framing_site(framed_file, url) as framer:
        page.goto(framer)
        page.wait_for_function("document.querySelectorAll('iframe').length === 2")
        page.wait_for_timeout(1000)
        frames = {frame.url: frame for frame in page.frames[1:]}
        assert framed_file in frames and ".lc-card" in frames[framed_file].content()  # framing works here
        assert url not in frames and page.frame_locator("iframe >> nth=1").locator(WIDGET).count() == 0
        assert any("frame-ancestors 'none'" in text for text in console.csp_violations()), console.errors
    assert not link_spent(demo, url)
    page.context.close()


def test_on_a_phone_capture_waits_for_a_preview_that_shows_a_picture(browser, demo):
    url = capture_url(browser, demo)
    page = new_page(browser, PHONE)
    page.goto(url)
    tap(page, f"{WIDGET} .lc-start")
    wait_until_capture_is_possible(page)
    # After Start the preview is on the screen, playing: a phone pauses a video below the fold.
    assert in_view(page, f"{WIDGET} video"), page.locator(f"{WIDGET} video").bounding_box()
    assert in_view(page, f"{WIDGET} .lc-capture"), page.locator(f"{WIDGET} .lc-capture").bounding_box()
    assert page.evaluate(f"document.querySelector('{WIDGET} video').paused") is False
    # Paused (off screen, or by the system): no capture of a stale or black frame, until it plays again.
    page.evaluate(f"document.querySelector('{WIDGET} video').pause()")
    page.wait_for_selector(f"{WIDGET} .lc-capture[disabled]")
    page.evaluate(f"document.querySelector('{WIDGET} video').play()")
    wait_until_capture_is_possible(page)
    page.context.close()


def test_a_camera_that_shows_only_black_never_enables_capture(browser, demo):
    url = capture_url(browser, demo)
    page = new_page(browser, PHONE)
    page.add_init_script(BLACK_CAMERA)
    page.goto(url)
    tap(page, f"{WIDGET} .lc-start")
    page.wait_for_selector(f"{WIDGET} .lc-status:has-text('The camera shows no picture yet')")
    page.wait_for_timeout(1200)  # a few checks of the preview
    assert page.is_disabled(f"{WIDGET} .lc-capture")
    page.set_input_files(f"{WIDGET} input[type=file]", str(demo["reference"]))
    assert page.is_enabled(f"{WIDGET} .lc-capture")  # a chosen picture is the way on
    assert "Picture chosen" in page.inner_text(f"{WIDGET} .lc-status")
    page.context.close()
