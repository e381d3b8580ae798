"""The admin as a reviewer uses it, in headless Chromium: the session list, a session's page and the
dashboard at a desktop's 1280 px and a phone's 390 px, checked with axe-core.

Needs Debian's chromium and node_modules/axe-core (see tests/browser_support.py); skipped without
them, except under CI=true. Screenshots go to $LIVENESS_SCREENSHOTS (docs/img/admin-*.png).
"""

import os
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from .browser_support import (  # noqa: F401  (browser_fixture, demo_fixture: the fixtures browser, demo)
    ROOT,
    VIEWPORTS,
    browser_fixture,
    demo_fixture,
    logged_in_page,
    run_axe,
    screenshot,
    stored,
)
pytestmark = pytest.mark.browser

SESSIONS = "/admin/django_liveness/livenesssession/"

# Run in the demo's database by `manage.py shell`, after `name` and `external_id` are set: the demo
# creates sessions only when someone runs its page, and the list needs one waiting for review (with a
# reference image) and one passed.
CREATE_SESSIONS = """
from django.core.files.base import ContentFile
from django_liveness import services
from django_liveness.images import sample_face_image
from django_liveness.testing import LivenessSessionFactory, ReferenceImageFactory, SubjectFactory

subject = SubjectFactory(external_id=external_id, display_name=name)
image = ReferenceImageFactory(subject=subject, face_rectangle={"left": 140, "top": 170, "width": 200, "height": 250})
waiting = LivenessSessionFactory(
    completed=True, subject=subject, kind="liveness_with_verify", reference_image=image,
    liveness_decision="uncertain", outcome="needs_review", review_status="pending",
    is_identical=True, match_confidence=0.92,
)
services.record_client_event(waiting, code="CameraPermissionDenied", message="Permission denied by the user.")
# The capture the provider kept, as the sync stores it (another shade, so the two pictures differ).
waiting.session_image_id = "demo-capture"
waiting.face_rectangle = {"left": 120, "top": 200, "width": 240, "height": 240}
waiting.session_image.save("capture.png", ContentFile(sample_face_image(480, 640, "PNG")), save=False)
waiting.save()
LivenessSessionFactory(completed=True, subject=SubjectFactory(external_id=f"{external_id}-passed", display_name="Pat Passed"))
print(waiting.pk)
"""


def manage_shell(demo, code):
    """Run ``code`` with the example project's `manage.py shell` in the demo's database; its output."""
    port = str(urlsplit(demo["base"]).port)
    env = {key: value for key, value in os.environ.items() if key not in ("VISION_ENDPOINT", "VISION_KEY")} | {
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DEMO_DB": str(demo["db"]),
        "DEMO_PRIVATE_MEDIA": str(demo["db"].parent / "private"),  # where the demo fixture keeps them
        "DEMO_PORT": port,
        "PORT": port,
    }
    manage = [sys.executable, str(ROOT / "example_project" / "manage.py")]
    return subprocess.run([*manage, "shell", "-c", code], env=env, check=True, capture_output=True, text=True).stdout


def create_waiting(demo, name, external_id):
    """A session of a new subject waiting for review, in the demo's database: its id."""
    return manage_shell(demo, f"name, external_id = {name!r}, {external_id!r}\n{CREATE_SESSIONS}").split()[-1]


@pytest.fixture(scope="module")
def waiting(demo):
    """The id of Una Certain's session waiting for review, which no test changes (a test that
    reviews makes a session of its own)."""
    return create_waiting(demo, "Una Certain", "crm-4711")


@pytest.fixture(params=list(VIEWPORTS))
def size(request):
    """"desktop" (1280 x 800) or "phone" (390 x 844)."""
    return request.param


@pytest.fixture
def reviewer_page(browser, demo, waiting, size):
    """The demo's staff reviewer, logged in, at that size."""
    page = logged_in_page(browser, demo, "reviewer", "reviewer-password", viewport=VIEWPORTS[size])
    yield page
    page.context.close()


def assert_within_width(page, selector):
    box = page.locator(selector).bounding_box()
    width = page.viewport_size["width"]
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, f"{selector} is outside {width} px: {box}"


def assert_fits(page):
    """No sideways scrolling. Measured against the viewport asked for: a phone browser (is_mobile)
    zooms out to show a page that overflows, and then reports the wider width as its innerWidth."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width} px wide in a {page.viewport_size['width']} px viewport"


def assert_nothing_scrolls_sideways(page):
    """Neither the page nor a box in it: Django lets a wide table scroll inside the list's or an inline's box."""
    assert_fits(page)
    boxes = "[...document.querySelectorAll('.results, .inline-group, .liveness-table')]"
    wide = page.evaluate(f"{boxes}.filter(el => el.scrollWidth > el.clientWidth).map(el => el.id || el.className)")
    assert wide == [], f"these scroll sideways: {wide}"


def assert_no_serious_axe_violations(page):
    violations = run_axe(page)
    assert [v for v in violations if not from_django_admin(v)] == [], violations


# Links told apart from their text by colour only, in Django's own admin templates and CSS (not ours):
# the breadcrumbs and the search bar's "Show all".
DJANGO_ADMIN_LINKS = (".breadcrumbs > a", '.small > a[href="?"]')


def from_django_admin(violation):
    return violation["id"] == "link-in-text-block" and all(target[0].startswith(DJANGO_ADMIN_LINKS) for target in violation["targets"])


def test_the_session_list_fits_the_screen(reviewer_page, size, demo, waiting):
    page = reviewer_page
    page.goto(f"{demo['base']}{SESSIONS}")
    shown = ["subject_summary", "outcome_summary", "created_at"]
    if size == "desktop":
        shown.append("review_summary")  # a phone leaves it out: the badge says what counts
    else:
        assert not page.locator("#result_list th.column-review_summary").is_visible()
    for column in shown:
        assert_within_width(page, f"#result_list th.column-{column}")
        assert_within_width(page, f"#result_list tbody tr:first-child .field-{column}")
    assert_nothing_scrolls_sideways(page)
    row = page.locator("#result_list tbody tr", has_text="Una Certain")
    assert " ".join(row.locator(".field-outcome_summary").inner_text().split()) == "needs review provider: uncertain, same person (0.92)"
    assert_no_serious_axe_violations(page)
    screenshot(page, f"admin-sessions-{size}.png")


def test_the_session_page_fits_the_screen_and_logs_only_a_shown_image(reviewer_page, size, demo, waiting):
    page = reviewer_page
    detail = f"{demo['base']}{SESSIONS}{waiting}/change/"

    def image_views():
        return stored(demo, "SELECT count(*) FROM django_liveness_livenessevent WHERE kind = 'image_viewed'")[0][0]

    before = image_views()
    for _ in range(2):
        page.goto(detail)
    assert image_views() == before  # opening the page fetches no image
    assert page.inner_text("h1") == "Review liveness session"
    assert "Frontend reported CameraPermissionDenied: Permission denied by the user." in page.inner_text("#content")
    assert_nothing_scrolls_sideways(page)
    assert_no_serious_axe_violations(page)

    page.click(".field-reference_image_preview .liveness-image-reveal")
    image = page.locator("img[alt='reference image']")
    assert image.evaluate("img => img.decode().then(() => img.naturalWidth)") == 480
    assert image_views() == before + 1
    assert_within_width(page, "img[alt='reference image']")
    assert_nothing_scrolls_sideways(page)
    screenshot(page, f"admin-session-detail-{size}.png")


# The words of an element's text that the browser split over two lines ("succee/ded"): a run of letters
# and digits whose characters lie on more than one line (a break after a hyphen or a space is fine).
BROKEN_WORDS = """
root => {
  const broken = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const word of node.textContent.matchAll(/[\\p{L}\\p{N}]+/gu)) {
      const range = document.createRange();
      range.setStart(node, word.index);
      range.setEnd(node, word.index + word[0].length);
      const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.bottom)));
      if (lines.size > 1) broken.push(word[0]);
    }
  }
  return broken;
}
"""


def test_a_reviewer_reaches_the_review_form_first_and_reads_every_word(reviewer_page, size, demo, waiting):
    page = reviewer_page
    page.goto(f"{demo['base']}{SESSIONS}{waiting}/change/")
    height = page.viewport_size["height"]
    top = page.evaluate("document.getElementById('review').getBoundingClientRect().top + window.scrollY")
    assert top < 1.5 * height, f"the review form starts at {top} px, on a page {height} px high"
    assert page.locator("#content").evaluate(BROKEN_WORDS) == []
    assert page.inner_text(".field-face_box .readonly") == "Face at 120, 200 px (left, top), 240 × 240 px"
    # The timeline's cells: side by side on a desktop, one under the other on a phone (no squeezed columns).
    when, what = (page.locator(f".field-timeline td[data-label={label}]").first.bounding_box() for label in ("when", "what"))
    assert (when["x"] < what["x"] and when["y"] == what["y"]) if size == "desktop" else (when["x"] == what["x"] and when["y"] < what["y"])
    assert_nothing_scrolls_sideways(page)
    # With a keyboard: the review's decision, note and Save button follow one another, before the timeline.
    page.focus("#id_decision")
    for expected in ("id_note", "review-save"):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == expected


def test_the_subject_page_fits_the_screen(reviewer_page, demo):
    page = reviewer_page
    page.goto(f"{demo['base']}/admin/django_liveness/subject/?q=crm-4711")
    page.click("#result_list a:has-text('crm-4711')")
    page.wait_for_selector("#consents-group")
    assert page.inner_text(".field-not_erased .readonly") == "Not erased"
    assert_within_width(page, "#consents-group .field-text_sha256 .readonly")  # the digest wraps
    assert_nothing_scrolls_sideways(page)
    assert_no_serious_axe_violations(page)


def capture_views(demo):
    sql = "SELECT count(*) FROM django_liveness_livenessevent WHERE kind = 'session_image_viewed'"
    return stored(demo, sql)[0][0]


def test_the_review_page_shows_the_capture_beside_the_reference(reviewer_page, size, demo, waiting):
    page = reviewer_page

    before = capture_views(demo)
    page.goto(f"{demo['base']}{SESSIONS}{waiting}/change/")
    assert capture_views(demo) == before  # the page itself fetches no image
    page.click(".field-session_image_preview .liveness-image-reveal")
    page.click(".field-reference_image_preview .liveness-image-reveal")
    capture, reference = page.locator("img[alt='capture']"), page.locator("img[alt='reference image']")
    for image in (capture, reference):
        assert image.evaluate("img => img.decode().then(() => img.naturalWidth)") == 480
    assert capture_views(demo) == before + 1
    capture_box, reference_box = capture.bounding_box(), reference.bounding_box()
    if size == "desktop":  # side by side; one under the other on a phone
        assert capture_box["x"] + capture_box["width"] <= reference_box["x"] and capture_box["y"] == reference_box["y"]
    assert page.locator(".field-session_image_preview svg rect").count() == 1  # the capture's face box
    assert_nothing_scrolls_sideways(page)
    if size == "desktop":
        page.locator("fieldset.liveness-evidence").scroll_into_view_if_needed()
        screenshot(page, "admin-review-evidence.png", full_page=False)


def test_the_review_queue_shows_a_logged_thumbnail(reviewer_page, demo, waiting):
    page = reviewer_page

    before = capture_views(demo)
    page.goto(f"{demo['base']}{SESSIONS}?queue=yes")
    thumbnail = page.locator("#result_list tbody tr", has_text="Una Certain").locator("img.liveness-thumbnail")
    assert thumbnail.evaluate("img => img.decode().then(() => img.naturalWidth)") == 480
    assert capture_views(demo) == before + 1  # a thumbnail is a view of biometric data: logged
    assert_nothing_scrolls_sideways(page)


def test_a_review_returns_to_the_queue(browser, demo):
    waiting = create_waiting(demo, "Rita Rejected", "crm-0815")
    page = logged_in_page(browser, demo, "reviewer", "reviewer-password")
    page.goto(f"{demo['base']}{SESSIONS}?queue=yes")
    page.click("#result_list a:has-text('Rita Rejected')")
    page.wait_for_selector("#review")
    page.click("#review input[type=submit]")  # no decision chosen: the browser keeps the form
    assert page.evaluate("document.getElementById('id_decision').validity.valueMissing")
    page.select_option("#id_decision", "rejected")
    page.fill("#id_note", "A replayed video.")
    page.click("#review input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert page.url == f"{demo['base']}{SESSIONS}?queue=yes"
    assert page.inner_text(".messagelist") == f"Liveness session {waiting[:8]} of Rita Rejected rejected."
    assert stored(demo, "SELECT review_status FROM django_liveness_livenesssession WHERE id = ?", (waiting.replace("-", ""),)) == [("rejected",)]
    page.context.close()


# A month of sessions for the dashboard (older than the sessions the lists above look for, whichever runs first).
CREATE_MONTH = """
import random
from datetime import timedelta
from django.utils import timezone
from django_liveness.models import LivenessEvent, LivenessSession
from django_liveness.testing import SubjectFactory

subject = SubjectFactory(display_name="Many Sessions")
pick = random.Random(16)
platforms = [("Chrome", "Windows")] * 5 + [("Mobile Safari", "iOS")] * 4 + [("Chrome Mobile", "Android")] * 3 + [
    ("Firefox", "Linux"), ("Samsung Internet", "Android"), ("Edge", "Windows"), ("", "")]
now = timezone.now()
rows = []
for n in range(300):
    created = now - timedelta(days=int(pick.triangular(0, 30, 0)), minutes=pick.randrange(600))
    status = pick.choices(["completed", "expired", "canceled", "started", "failed"], [80, 8, 4, 6, 2])[0]
    browser, os = pick.choice(platforms)
    verify = pick.random() < 0.4
    decision, outcome, same, completed = "", "", None, None
    if status == "completed":
        completed = created + timedelta(seconds=pick.lognormvariate(3, 0.5))
        spoof = {"Samsung Internet": 0.2, "Edge": 0.1}.get(browser, 0.04)
        decision = pick.choices(["realface", "spoofface", "uncertain"], [1 - spoof - 0.05, spoof, 0.05])[0]
        same = (pick.random() > 0.07) if verify and decision == "realface" else None
        outcomes = {"realface": "failed" if same is False else "passed", "spoofface": "failed"}
        outcome = outcomes.get(decision, "needs_review")
    rows.append(LivenessSession(
        subject=subject, kind="liveness_with_verify" if verify else "liveness", operation_mode="Passive",
        status=status, liveness_decision=decision, outcome=outcome, is_identical=same,
        review_status="pending" if outcome == "needs_review" and pick.random() < 0.6 else "",
        created_at=created, completed_at=completed,
        client_browser=browser, client_os=os,
    ))
made = LivenessSession.objects.bulk_create(rows)
LivenessEvent.objects.bulk_create([LivenessEvent(kind="remote_error", session=s) for s in made if pick.random() < 0.03])
"""


def breadcrumbs_look(page):
    return page.eval_on_selector(
        ".breadcrumbs",
        "bar => ({background: getComputedStyle(bar).backgroundColor, link: getComputedStyle(bar.querySelector('a')).color})",
    )


@pytest.fixture(scope="module")
def a_month(demo, waiting):
    manage_shell(demo, CREATE_MONTH)


def test_the_dashboard_fits_the_screen_and_reads_without_colour(reviewer_page, size, demo, a_month):
    page = reviewer_page
    page.goto(f"{demo['base']}{SESSIONS}")
    admins_own = breadcrumbs_look(page)
    page.click("text=Dashboard")
    assert page.inner_text("h1") == "Liveness dashboard"
    # The admin's own breadcrumbs bar, whatever markup the running Django styles (a list from Django 6).
    assert breadcrumbs_look(page) == admins_own and admins_own["background"] != "rgba(0, 0, 0, 0)"
    assert page.locator(".liveness-figure").count() == 11
    assert page.locator("svg.liveness-chart[role=img]").count() == 2
    for selector in ("svg.liveness-day-chart", "svg.liveness-rate-chart", ".liveness-table-box:has(#liveness-platforms-table)"):
        assert_within_width(page, selector)
    assert_nothing_scrolls_sideways(page)  # the page: a data table may scroll in its box, which takes the focus
    assert_no_serious_axe_violations(page)
    screenshot(page, f"admin-dashboard-{size}.png")

    # With a keyboard: the period, then the kind, then Show; the numbers of the day chart open with Enter.
    page.focus("#id_days")
    page.select_option("#id_days", "7")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard/?days=7&kind=")
    assert page.locator("#id_days").input_value() == "7"
    page.focus(".liveness-chart-data summary")
    page.keyboard.press("Enter")
    assert page.locator("#liveness-days-table tbody tr").count() == 7
    assert_nothing_scrolls_sideways(page)
    assert_no_serious_axe_violations(page)
