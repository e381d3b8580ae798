"""The example project and the hosted capture page in headless Chromium with a fake camera, on a
desktop (1280x800) and a phone (390x844): what the person sees and taps, what the app stores, and
what axe-core finds. Fixtures and helpers: tests/browser_support.py.

Screenshots go to $LIVENESS_SCREENSHOTS (``make screenshots`` writes the ones in docs/img/).
"""

import json
import re
import time
import uuid

import pytest

from django_liveness.capture.messages import capture_messages

from .browser_support import (
    PHONE,
    ROOT,
    VIEWPORTS,
    assert_no_horizontal_scroll,
    assert_tappable,
    browser_fixture,  # noqa: F401  (fixture)
    demo_fixture,  # noqa: F401  (fixture)
    logged_in_page,
    new_page,
    run_axe,
    screenshot,
    stored,
)

pytestmark = pytest.mark.browser

WIDGET = "#capture"
SESSION_URL = re.compile(r"/api/liveness/sessions/[0-9a-f-]+/$")
# Django's own admin breadcrumbs (contrib.admin's CSS, not django-liveness's) fail axe's
# link-in-text-block: white links beside light blue text, told apart by colour only.
DJANGO_ADMIN_OWN = [".breadcrumbs"]
# Raw values of the API that the person must never read.
RAW_VALUES = re.compile(r"\b(spoofface|realface|needs_review|liveness_with_verify|FaceNotFound|completed)\b")
# getUserMedia as a browser answers it when the person blocked the camera, or when there is none.
NO_CAMERA = """
navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException("no camera for this test", "%s"));
"""


def test_the_widget_shows_only_the_strings_of_capture_messages():
    """capture.js holds no English: every message it reads is a key of capture_messages(), and
    every key is read (the test-mode choices as outcome_<choice>)."""
    widget = (ROOT / "django_liveness" / "static" / "django_liveness" / "capture.js").read_text()
    messages = capture_messages()
    read = set(re.findall(r"\b(?:m|this\.messages)\.(\w+)", widget))
    assert read <= messages.keys()
    choices = set(re.findall(r"^ {4}(\w+): \{", widget, flags=re.MULTILINE))
    assert {key for key in messages if key not in widget and key.removeprefix("outcome_") not in choices} == set()
    assert all(isinstance(text, str) and text for text in messages.values())


@pytest.fixture(scope="module", params=list(VIEWPORTS))
def user_page(request, browser, demo):
    """The end user's page at one size, with consent given and a reference photo uploaded (through the page)."""
    page = logged_in_page(browser, demo, "demo", "demo-password", viewport=VIEWPORTS[request.param])
    page.size_name = request.param
    tap(page, "label.check")
    tap(page, "#consent-button")
    page.wait_for_selector("#consent-status:has-text('Consent recorded.')")
    page.set_input_files("#reference-file", str(demo["reference"]))
    tap(page, "#upload-button")
    page.wait_for_selector("#reference-status:has-text('Uploaded (480 × 640).')")
    yield page
    page.context.close()


def tap(page, selector):
    assert_tappable(page, selector).click()


def sessions(demo):
    return stored(demo, "SELECT id, status, outcome, liveness_decision FROM django_liveness_livenesssession ORDER BY created_at")


def client_events(demo, session_id):
    """The session's client events, once there is one (the page sends them in the background, after
    it has shown the person what happened)."""
    for _ in range(50):
        rows = stored(
            demo,
            "SELECT data FROM django_liveness_livenessevent WHERE kind = 'client_event' AND session_id = ? ORDER BY id",
            (session_id,),
        )
        if rows:
            break
        time.sleep(0.1)
    return [json.loads(data) for (data,) in rows]


def prepare_subject(page, demo):
    """Consent and a reference photo for the logged-in user, through the API (as the page does):
    returns (subject id, the CSRF header)."""
    api = f"{demo['base']}/api/liveness"
    csrf = {"X-CSRFToken": next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken")}
    user_id = page.evaluate("JSON.parse(document.getElementById('demo-config').textContent).user_id")
    subject = page.request.post(f"{api}/subjects/", data={"user": user_id}, headers=csrf).json()["id"]
    consent = {"policy_version": "demo-2026-01", "text": "I agree.", "purpose": "identity verification (demo)"}
    page.request.post(f"{api}/subjects/{subject}/consent/", data=consent, headers=csrf)
    image = {"name": "me.jpg", "mimeType": "image/jpeg", "buffer": demo["reference"].read_bytes()}
    page.request.post(f"{api}/subjects/{subject}/reference-images/", multipart={"image": image}, headers=csrf)
    return subject, csrf


def start(page, demo):
    """A fresh page, Start tapped: returns the new session's id once the camera gives frames."""
    page.goto(f"{demo['base']}/")
    before = len(sessions(demo))
    tap(page, "#start-button")
    page.wait_for_selector(f"{WIDGET} .lc-capture:not([disabled])")
    rows = sessions(demo)
    assert len(rows) == before + 1
    return rows[-1][0]


def choose(page, outcome):
    tap(page, f"{WIDGET} .lc-outcomes label:has(input[value={outcome}])")


def capture_and_wait(page):
    tap(page, f"{WIDGET} .lc-capture")
    return wait_for_answer(page)


def wait_for_answer(page):
    """The widget's status once it no longer waits: (tone, text)."""
    page.wait_for_selector(f"{WIDGET}:not([aria-busy]) .lc-status:not(.lc-busy, .lc-idle)")
    status = page.locator(f"{WIDGET} .lc-status")
    text = status.inner_text()
    assert not RAW_VALUES.search(page.inner_text("main")), text
    assert "undefined" not in text  # every message the widget showed is in capture_messages()
    return status.get_attribute("class").split()[-1], text


def test_a_person_passes_liveness_with_verification(user_page, demo):
    page = user_page
    session_id = start(page, demo)
    # After Start the preview and Capture are on the screen (a phone pauses a video below the fold).
    for shown in (f"{WIDGET} video", f"{WIDGET} .lc-capture"):
        box, height = page.locator(shown).bounding_box(), page.viewport_size["height"]
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, (shown, box)
    assert page.evaluate(f"document.querySelector('{WIDGET} video').paused") is False
    assert page.get_attribute(WIDGET, "aria-busy") is None
    assert page.locator(f"{WIDGET} [aria-live=polite]").count() == 1
    screenshot(page, f"capture-{page.size_name}.png")
    assert run_axe(page) == []
    choose(page, "live")

    tone, text = capture_and_wait(page)

    assert tone == "lc-ok" and "You are verified" in text, text
    page.wait_for_selector("#verified-status.ok")
    assert page.inner_text("#verified-status").startswith("Identity verified (")
    screenshot(page, f"capture-passed-{page.size_name}.png")
    assert run_axe(page) == []
    assert sessions(demo)[-1] == (session_id, "completed", "passed", "realface")
    # the example project's liveness_verified receiver marked the user verified
    assert stored(demo, "SELECT count(*) FROM demo_profile WHERE identity_verified_at IS NOT NULL") == [(1,)]
    # the camera is released once the check is over
    assert page.evaluate(f"document.querySelector('{WIDGET} video').srcObject") is None
    page.reload()
    assert page.inner_text("#verified-status").startswith("Identity verified (")


def test_a_spoof_fails_and_takes_verified_back(user_page, demo):
    page = user_page
    session_id = start(page, demo)
    choose(page, "spoof")

    tone, text = capture_and_wait(page)

    assert tone == "lc-error", text
    assert "We could not confirm that a live person was in front of the camera" in text
    assert "Use your own face, in good light, not a photo or a screen." in text
    page.wait_for_selector("#verified-status:not(.ok)")  # no stale banner: re-read from the server
    assert page.inner_text("#verified-status") == "Identity not verified yet"
    assert_tappable(page, f"{WIDGET} .lc-restart")
    screenshot(page, f"capture-spoof-{page.size_name}.png")
    assert sessions(demo)[-1] == (session_id, "completed", "failed", "spoofface")


def test_a_different_person_is_told_to_check_the_reference_photo_not_the_light(user_page, demo):
    page = user_page
    session_id = start(page, demo)
    choose(page, "different")
    tone, text = capture_and_wait(page)
    assert tone == "lc-error" and "The face did not match your reference photo" in text, text
    assert "Check that your reference photo is a clear, recent photo of you." in text and "light" not in text
    assert sessions(demo)[-1] == (session_id, "completed", "failed", "realface")


def test_uncertain_goes_to_a_reviewer(user_page, demo):
    page = user_page
    start(page, demo)
    choose(page, "uncertain")
    tone, text = capture_and_wait(page)
    assert tone == "lc-warn" and "A reviewer will look at this" in text, text
    screenshot(page, f"capture-review-{page.size_name}.png")


def test_a_failed_attempt_is_retried_on_the_same_session(user_page, demo):
    page = user_page
    session_id = start(page, demo)
    choose(page, "no_face")

    tone, text = capture_and_wait(page)

    assert tone == "lc-warn" and "We could not see a face" in text, text
    assert "left." not in text  # v1.2 does not say how many captures a session allows: no count
    assert page.is_enabled(f"{WIDGET} .lc-capture")  # same session, same token: another picture
    assert sessions(demo)[-1][:2] == (session_id, "started")
    screenshot(page, f"capture-attempt-failed-{page.size_name}.png")
    assert [event["code"] for event in client_events(demo, session_id)] == ["CaptureRefused"]
    page.wait_for_timeout(1100)  # a person reads the message: the demo's COMPLETE_MIN_INTERVAL_SECONDS (1) passes
    choose(page, "live")
    tone, text = capture_and_wait(page)
    assert tone == "lc-ok" and "You are verified" in text, text
    assert sessions(demo)[-1] == (session_id, "completed", "passed", "realface")


def test_a_network_error_is_said_in_words_and_capture_stays_available(user_page, demo):
    page = user_page
    session_id = start(page, demo)
    page.route("**/emulator/face/**", lambda route: route.abort())
    try:
        tone, text = capture_and_wait(page)
    finally:
        page.unroute("**/emulator/face/**")

    assert tone == "lc-error", text
    assert "Could not reach the server. Check your connection and try again." in text
    assert "Failed to fetch" not in page.inner_text("main")
    page.wait_for_function("document.querySelector('#capture .lc-capture').disabled === false")
    assert [event["code"] for event in client_events(demo, session_id)] == ["NetworkError"]
    tone, text = capture_and_wait(page)
    assert tone == "lc-ok", text
    assert sessions(demo)[-1] == (session_id, "completed", "passed", "realface")


def test_a_server_error_is_said_in_words_and_can_be_retried(user_page, demo):
    page = user_page
    session_id = start(page, demo)
    html = "<!doctype html><title>Server Error (500)</title><h1>Server Error (500)</h1>"
    page.route("**/complete/", lambda route: route.fulfill(status=500, content_type="text/html", body=html))
    try:
        tone, text = capture_and_wait(page)
    finally:
        page.unroute("**/complete/")

    assert tone == "lc-error" and "Something went wrong on our side" in text, text
    assert "Unexpected token" not in page.inner_text("main")
    assert [event["code"] for event in client_events(demo, session_id)] == ["ServerError"]
    tap(page, f"{WIDGET} .lc-retry")
    tone, text = wait_for_answer(page)
    assert tone == "lc-ok", text
    assert sessions(demo)[-1] == (session_id, "completed", "passed", "realface")


def test_a_result_fetched_in_the_background_is_awaited_with_progress(user_page, demo):
    """COMPLETE_IN_BACKGROUND: complete/ answers 202 before a worker fetched the result; the page polls."""
    page = user_page
    session_id = start(page, demo)

    def not_fetched_yet(route):
        route.fulfill(status=202, json=route.fetch().json() | {"status": "started", "outcome": ""})

    polls = []
    page.on("request", lambda request: polls.append(request.method) if SESSION_URL.search(request.url) else None)
    page.route("**/complete/", not_fetched_yet)
    try:
        tap(page, f"{WIDGET} .lc-capture")
        page.wait_for_selector(f"{WIDGET}[aria-busy=true] .lc-busy:has-text('Getting your result')")
        tone, text = wait_for_answer(page)
    finally:
        page.unroute("**/complete/")
    assert tone == "lc-ok" and "You are verified" in text, text
    assert polls[:1] == ["GET"]
    assert sessions(demo)[-1] == (session_id, "completed", "passed", "realface")


def test_a_double_click_on_start_creates_one_session(user_page, demo):
    page = user_page
    page.goto(f"{demo['base']}/")
    before = len(sessions(demo))
    assert_tappable(page, "#start-button").dblclick()
    page.wait_for_selector(f"{WIDGET} .lc-capture:not([disabled])")
    assert len(sessions(demo)) == before + 1


@pytest.mark.parametrize(
    ("error", "code", "words"),
    [
        ("NotAllowedError", "CameraPermissionDenied", "The camera is blocked"),
        ("NotFoundError", "CameraNotFound", "No camera was found"),
    ],
)
def test_without_a_camera_capture_waits_for_a_picture(browser, demo, error, code, words):
    page = logged_in_page(browser, demo, "demo", "demo-password", viewport=PHONE)
    prepare_subject(page, demo)
    page.add_init_script(NO_CAMERA % error)
    page.goto(f"{demo['base']}/")
    tap(page, "#start-button")
    page.wait_for_selector(f"{WIDGET} .lc-status.lc-error")
    session_id = sessions(demo)[-1][0]

    assert words in page.inner_text(f"{WIDGET} .lc-status")
    assert page.is_disabled(f"{WIDGET} .lc-capture")  # no black frame
    if error == "NotAllowedError":
        screenshot(page, "capture-camera-denied-phone.png")
    assert client_events(demo, session_id)[0]["code"] == code
    page.set_input_files(f"{WIDGET} input[type=file]", str(demo["reference"]))
    assert page.is_enabled(f"{WIDGET} .lc-capture")
    choose(page, "live")
    assert capture_and_wait(page)[0] == "lc-ok"
    page.context.close()


# Stands in for Microsoft's gated azure-ai-vision-face-ui: the first start() fails as the SDK does
# (the person closed it), the second sends a frame to the (emulated) Face service with the token.
FAKE_FACE_UI = """
let starts = 0;
customElements.define("azure-ai-vision-face-ui", class extends HTMLElement {
  async start(token) {
    if (++starts === 1) throw { livenessError: "UserCanceled" };
    const canvas = Object.assign(document.createElement("canvas"), { width: 320, height: 240 });
    const form = new FormData();
    form.append("content", await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg")), "frame.jpg");
    const response = await fetch("/emulator/face/v1.2/detectLivenessWithVerify/singleModal",
      { method: "POST", headers: { Authorization: `Bearer ${token}` }, body: form });
    if (!response.ok) throw { livenessError: "ServiceError" };
  }
});
"""


def serve_as_real_azure(route):
    """The example page as it is with Azure: no test mode, Microsoft's web component instead."""
    page = route.fetch().text()
    page = page.replace('"test_mode": true', '"test_mode": false')
    page = page.replace('"web_component_script": null', '"web_component_script": "/fake-face-ui.js"')
    route.fulfill(body=page, content_type="text/html; charset=utf-8")


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_with_real_azure_the_web_component_captures(browser, demo, size):
    # A page of its own: its routes end with it (unroute_all() on the shared page left one behind
    # for the next test, in some orders).
    page = logged_in_page(browser, demo, "demo", "demo-password", viewport=VIEWPORTS[size])
    prepare_subject(page, demo)
    page.route(f"{demo['base']}/", serve_as_real_azure)
    page.route("**/fake-face-ui.js", lambda route: route.fulfill(body=FAKE_FACE_UI, content_type="text/javascript"))
    try:
        page.goto(f"{demo['base']}/")
        tap(page, "#start-button")
        tone, text = wait_for_answer(page)
        session_id = sessions(demo)[-1][0]
        assert tone == "lc-warn" and "That picture could not be checked" in text
        assert page.locator(f"{WIDGET} .lc-outcomes").count() == 0 and page.is_hidden(f"{WIDGET} .lc-capture")
        assert client_events(demo, session_id) == [{"code": "SdkError", "message": "UserCanceled"}]
        page.wait_for_timeout(1100)  # a person reads the message: the demo's COMPLETE_MIN_INTERVAL_SECONDS (1) passes
        tap(page, f"{WIDGET} .lc-retry")  # the same session, the component mounted again
        tone, text = wait_for_answer(page)
    finally:
        # A handler still fetching the page (a busy machine) would fail once unrouted, and its error
        # would surface in whatever the next test asks of the browser.
        page.unroute_all(behavior="ignoreErrors")
        page.context.close()
    assert tone == "lc-ok" and "You are verified" in text, text
    assert sessions(demo)[-1] == (session_id, "completed", "passed", "realface")


def test_login_and_logout_on_a_phone(browser, demo):
    page = new_page(browser, PHONE)
    page.goto(f"{demo['base']}/login/")
    assert page.locator("meta[name=viewport]").count() == 1
    assert_no_horizontal_scroll(page)
    assert run_axe(page) == []
    page.fill("#id_username", "demo")
    page.fill("#id_password", "demo-password")
    tap(page, "#login-button")
    page.wait_for_selector("#start-button")
    tap(page, "header button[type=submit]")
    page.wait_for_url(f"{demo['base']}/login/")
    assert "django-liveness demo" in page.inner_text("h1")
    page.context.close()


def test_the_hosted_capture_link(browser, demo):
    """The app hands the person a link; a fresh browser (no login) opens it and starts, once.
    More of the link's life (previews, reloads, framing): tests/test_browser_hosted.py."""
    app = logged_in_page(browser, demo, "demo", "demo-password")
    subject, csrf = prepare_subject(app, demo)
    answer = app.request.post(
        f"{demo['base']}/api/liveness/sessions/",
        data={"subject": subject, "verify": True, "return_url": "/?returned=1"},
        headers=csrf,
    )
    assert answer.status == 201, answer.text()
    capture_url = answer.json()["capture_url"]
    app.context.close()

    page = new_page(browser, PHONE)
    page.goto(capture_url)
    screenshot(page, "hosted-start-phone.png")  # opening it spent nothing: the person starts
    tap(page, "[data-liveness-capture] .lc-start")
    page.wait_for_selector("[data-liveness-capture] .lc-capture:not([disabled])")
    assert page.locator("meta[name=viewport]").count() == 1
    screenshot(page, "hosted-phone.png")
    assert run_axe(page) == []

    # The link is a one-time credential: opened again (forwarded, or by someone else), it says so.
    again = new_page(browser, PHONE)
    again.goto(capture_url)
    assert "This link has already been used" in again.inner_text("main")
    assert_no_horizontal_scroll(again)
    assert run_axe(again) == []
    screenshot(again, "hosted-used-phone.png")
    again.context.close()

    tap(page, "[data-liveness-capture] .lc-outcomes label:has(input[value=live])")
    tap(page, "[data-liveness-capture] .lc-capture")
    page.wait_for_selector("[data-liveness-capture]:not([aria-busy]) .lc-status.lc-ok")
    assert "You are verified" in page.inner_text("[data-liveness-capture] .lc-status")
    assert page.locator("[data-liveness-capture] .lc-restart").is_hidden()  # the app starts a new check, not this page
    screenshot(page, "hosted-passed-phone.png")
    tap(page, "[data-liveness-capture] .lc-continue")  # a link: no automatic redirect
    page.wait_for_url(re.compile(r"returned"))
    page.context.close()


@pytest.fixture(scope="module")
def staff_page(browser, demo):
    """The staff reviewer's browser (wide: the admin's columns)."""
    page = logged_in_page(browser, demo, "reviewer", "reviewer-password", viewport={"width": 1600, "height": 1000})
    yield page
    page.context.close()


def test_a_rejection_takes_verified_back_on_the_page(staff_page, browser, demo):
    """The demo user passes on the page; a reviewer rejects that session in the admin; the page
    then no longer says verified. The test makes every piece of it itself."""
    person = logged_in_page(browser, demo, "demo", "demo-password")
    prepare_subject(person, demo)
    session_id = str(uuid.UUID(start(person, demo)))
    choose(person, "live")
    assert capture_and_wait(person)[0] == "lc-ok"
    person.wait_for_selector("#verified-status.ok")

    page = staff_page
    page.goto(f"{demo['base']}/admin/django_liveness/livenesssession/")
    row = page.locator("#result_list tbody tr", has=page.locator(f"a[href*='{session_id}']"))
    assert "passed" in row.inner_text()
    assert run_axe(page, exclude=DJANGO_ADMIN_OWN) == []
    row.locator("th a").click()
    page.wait_for_selector("#review")
    assert "Review this decision" in page.inner_text("#review")
    page.locator(".field-reference_image_preview .liveness-image-reveal").click()  # shown (and logged) on request only
    loaded = "img => img.decode().then(() => img.naturalWidth)"
    assert page.locator("img[alt='reference image']").first.evaluate(loaded) == 480
    assert run_axe(page, exclude=DJANGO_ADMIN_OWN) == []
    # The review form really posts from a browser (a form nested in the change form would not).
    page.select_option("#id_decision", "rejected")
    page.fill("#id_note", "Not the person in the passport photo.")
    page.click("#review input[type=submit]")
    page.wait_for_selector(".messagelist")
    reviewed = stored(demo, "SELECT outcome, review_status, review_note FROM django_liveness_livenesssession WHERE id = ?", (session_id.replace("-", ""),))
    assert reviewed == [("passed", "rejected", "Not the person in the passport photo.")]

    person.reload()
    assert person.inner_text("#verified-status") == "Identity not verified yet"
    person.context.close()


def test_the_page_keeps_one_subject_per_account_for_staff_too(staff_page, demo):
    """Staff may create subjects for anyone; the page still asks for the one linked to their account."""
    page = staff_page
    for _ in range(2):
        page.goto(f"{demo['base']}/")
        page.check("#consent-box")
        page.click("#consent-button")
        page.wait_for_selector("#consent-status:has-text('Consent recorded.')")
    sql = "SELECT count(*) FROM django_liveness_subject s JOIN auth_user u ON u.id = s.user_id WHERE u.username = 'reviewer'"
    assert stored(demo, sql) == [(1,)]
