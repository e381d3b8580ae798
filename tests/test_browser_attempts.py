"""Retakes inside one session (Face API v1.3-preview.1, LIVENESS["CLIENT_ATTEMPTS"] = 2) on the hosted
capture page in headless Chromium: a failed attempt says how many are left, in the status line that
screen readers follow, and the same session and token take the next picture; once none is left, the
page shows the session's result by itself. Fixtures and helpers: tests/browser_support.py."""

import pytest

from .browser_support import (
    DESKTOP,
    PHONE,
    assert_no_horizontal_scroll,
    assert_tappable,
    browser_fixture,  # noqa: F401  (fixture)
    logged_in_page,
    new_page,
    run_axe,
    serve_demo,
    stored,
)
from .test_browser import prepare_subject, serve_as_real_azure, sessions

pytestmark = pytest.mark.browser

WIDGET = "[data-liveness-capture]"
V13 = "v1.3-preview.1"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The example project under Face API v1.3-preview.1, two captures per session."""
    yield from serve_demo(tmp_path_factory, DEMO_API_VERSION=V13, DEMO_CLIENT_ATTEMPTS="2")


def open_hosted_page(browser, demo, viewport):
    """A new session's hosted page, opened in a fresh browser and started: (page, session id)."""
    app = logged_in_page(browser, demo, "demo", "demo-password")
    subject, csrf = prepare_subject(app, demo)
    answer = app.request.post(f"{demo['base']}/api/liveness/sessions/", data={"subject": subject, "verify": True}, headers=csrf)
    assert answer.status == 201, answer.text()
    created = answer.json()
    app.context.close()
    page = new_page(browser, viewport)
    page.goto(created["capture_url"])
    assert_tappable(page, f"{WIDGET} .lc-start").click()
    page.wait_for_selector(f"{WIDGET} .lc-capture:not([disabled])")
    return page, created["id"].replace("-", "")  # as SQLite stores a UUID


def capture(page, outcome):
    """Choose the simulated outcome, capture, and return the status line once the widget waits no more."""
    assert_tappable(page, f"{WIDGET} .lc-outcomes label:has(input[value={outcome}])").click()
    assert_tappable(page, f"{WIDGET} .lc-capture").click()
    page.wait_for_selector(f"{WIDGET}:not([aria-busy]) .lc-status:not(.lc-busy, .lc-idle)")
    status = page.locator(f"{WIDGET} .lc-status")
    return status.get_attribute("class").split()[-1], status.inner_text()


def session_row(demo, session_id):
    row = stored(demo, "SELECT status, outcome, provider_session_id FROM django_liveness_livenesssession WHERE id = ?", (session_id,))
    return row[0]


def test_a_failed_attempt_says_one_is_left_and_the_same_session_passes(browser, demo):
    page, session_id = open_hosted_page(browser, demo, PHONE)
    provider_session = session_row(demo, session_id)[2]

    tone, text = capture(page, "no_face")

    assert tone == "lc-warn" and "That picture could not be checked." in text, text
    assert "We could not see a face." in text and text.endswith("1 attempt left."), text
    status = page.locator(f"{WIDGET} .lc-status")
    assert (status.get_attribute("role"), status.get_attribute("aria-live")) == ("status", "polite")
    assert page.is_enabled(f"{WIDGET} .lc-capture")  # the same session, the same token: another picture
    assert session_row(demo, session_id)[:2] == ("started", "")
    assert_no_horizontal_scroll(page)
    assert run_axe(page) == []

    page.wait_for_timeout(1100)  # a person reads the message: the demo's COMPLETE_MIN_INTERVAL_SECONDS (1) passes
    sessions_before = stored(demo, "SELECT COUNT(*) FROM django_liveness_livenesssession")
    tone, text = capture(page, "live")

    assert tone == "lc-ok" and "You are verified" in text, text
    assert session_row(demo, session_id) == ("completed", "passed", provider_session)  # no new session
    attempts = stored(
        demo, "SELECT attempt_id, status FROM django_liveness_livenessattempt WHERE session_id = ? ORDER BY attempt_id", (session_id,)
    )
    assert attempts == [(1, "failed"), (2, "succeeded")]
    assert stored(demo, "SELECT COUNT(*) FROM django_liveness_livenesssession") == sessions_before
    page.context.close()


def test_when_no_attempt_is_left_the_page_shows_the_result_by_itself(browser, demo):
    page, session_id = open_hosted_page(browser, demo, DESKTOP)
    tone, text = capture(page, "no_face")
    assert text.endswith("1 attempt left."), text

    page.wait_for_timeout(1100)
    tone, text = capture(page, "no_face")  # the last one the session allows

    assert tone == "lc-error" and "This check could not be finished" in text, text
    assert "attempt left" not in text and "attempts left" not in text
    assert page.is_hidden(f"{WIDGET} .lc-capture")  # the session takes no more pictures
    assert session_row(demo, session_id)[:2] == ("failed", "")
    page.context.close()


# Microsoft's component as the page sees it: its first capture reaches the service and fails there.
FAKE_FACE_UI = """
let starts = 0;
customElements.define("azure-ai-vision-face-ui", class extends HTMLElement {
  async start(token) {
    const canvas = Object.assign(document.createElement("canvas"), { width: 320, height: 240 });
    const form = new FormData();
    form.append("content", await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg")), "frame.jpg");
    if (++starts === 1) form.append("error_code", "FaceNotFound");
    const response = await fetch("/emulator/face/v1.3-preview.1/detectLivenessWithVerify/singleModal",
      { method: "POST", headers: { Authorization: `Bearer ${token}` }, body: form });
    if (!response.ok) throw { livenessError: "FaceNotFound" };
  }
});
"""


def test_with_the_web_component_try_again_mounts_it_on_the_same_session(browser, demo):
    page = logged_in_page(browser, demo, "demo", "demo-password", viewport=PHONE)
    prepare_subject(page, demo)
    page.route(f"{demo['base']}/", serve_as_real_azure)
    page.route("**/fake-face-ui.js", lambda route: route.fulfill(body=FAKE_FACE_UI, content_type="text/javascript"))
    try:
        page.goto(f"{demo['base']}/")
        assert_tappable(page, "#start-button").click()
        page.wait_for_selector("#capture:not([aria-busy]) .lc-status.lc-warn")
        text = page.inner_text("#capture .lc-status")
        assert "That picture could not be checked." in text and text.endswith("1 attempt left."), text
        session_id, status, _outcome, _decision = sessions(demo)[-1]
        assert status == "started"
        page.wait_for_timeout(1100)  # the demo's COMPLETE_MIN_INTERVAL_SECONDS (1) passes
        assert_tappable(page, "#capture .lc-retry").click()  # the component again, with the same token
        page.wait_for_selector("#capture:not([aria-busy]) .lc-status.lc-ok")
    finally:
        page.unroute_all(behavior="ignoreErrors")
        page.context.close()
    assert sessions(demo)[-1] == (session_id, "completed", "passed", "realface")
