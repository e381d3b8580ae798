"""The example project in headless Chromium with a fake camera: what the user sees, what is stored.

Needs Debian's chromium (CI installs it); skipped without it, except under CI=true.
Screenshots go to $LIVENESS_SCREENSHOTS (``make screenshots`` writes the ones in docs/img/).
"""

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import pytest

from django_liveness.images import sample_face_image

pytestmark = pytest.mark.browser

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


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (CI must install it)")
        pytest.skip("chromium is not installed")
    folder = tmp_path_factory.mktemp("demo")
    port = free_port()
    env = {
        key: value for key, value in os.environ.items() if key not in ("VISION_ENDPOINT", "VISION_KEY")
    } | {
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DEMO_DB": str(folder / "db.sqlite3"),
        "DEMO_PRIVATE_MEDIA": str(folder / "private"),
        "DEMO_PORT": str(port),
    }
    manage = [sys.executable, str(ROOT / "example_project" / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, capture_output=True)
    subprocess.run([*manage, "demo_setup"], env=env, check=True, capture_output=True)
    # The server's log goes to a file: a pipe nobody reads would fill up and stall the server.
    log = open(folder / "server.log", "wb")
    server = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urlopen(f"{base}/login/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    reference = folder / "me.jpg"
    reference.write_bytes(sample_face_image())
    yield {"base": base, "db": folder / "db.sqlite3", "reference": reference, "log": folder / "server.log"}
    server.terminate()
    server.wait(timeout=10)
    log.close()


@pytest.fixture(scope="module")
def browser(demo):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def logged_in_page(browser, demo, username, password, width=1100):
    page = browser.new_context(viewport={"width": width, "height": 1300}).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{demo['base']}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-button")
    return page


@pytest.fixture(scope="module")
def page(browser, demo):
    """The end user's browser."""
    page = logged_in_page(browser, demo, "demo", "demo-password")
    page.wait_for_selector("#start-button")
    return page


@pytest.fixture(scope="module")
def staff_page(browser, demo):
    """The staff reviewer's browser."""
    page = logged_in_page(browser, demo, "reviewer", "reviewer-password", width=1600)  # the admin's columns
    page.wait_for_selector("#start-button")
    return page


def screenshot(page, name):
    folder = os.environ.get("LIVENESS_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def stored(demo, sql):
    with sqlite3.connect(demo["db"]) as db:
        return db.execute(sql).fetchall()


def run_check(page, outcome):
    page.check(f"input[name=outcome][value={outcome}]")
    page.click("#start-button")
    page.wait_for_selector("#capture-button:not([disabled])")
    page.wait_for_function("document.getElementById('camera').videoWidth > 0")  # the fake camera runs
    page.click("#capture-button")
    page.wait_for_selector("#result dd")
    return page.inner_text("#result")


def test_a_person_passes_liveness_with_verification(page, demo):
    assert page.inner_text("#verified-status") == "Identity not verified yet"
    page.check("#consent-box")
    page.click("#consent-button")
    page.wait_for_selector("#consent-status:has-text('Consent recorded.')")
    page.set_input_files("#reference-file", str(demo["reference"]))
    page.click("#upload-button")
    page.wait_for_selector("#reference-status:has-text('Uploaded (480 x 640).')")

    result = run_check(page, "live")

    assert "completed" in result and "passed" in result and "realface" in result
    assert "true (confidence 0.92)" in result
    assert page.inner_text("#verified-status") == "Identity verified (just now)"
    screenshot(page, "demo-passed.png")
    assert stored(demo, "SELECT status, outcome, liveness_decision, is_identical FROM django_liveness_livenesssession") == [
        ("completed", "passed", "realface", 1)
    ]
    # the example project's liveness_verified receiver marked the user verified
    assert stored(demo, "SELECT count(*) FROM demo_profile WHERE identity_verified_at IS NOT NULL") == [(1,)]
    page.reload()
    assert page.inner_text("#verified-status").startswith("Identity verified (")


def test_a_spoof_fails(page, demo):
    result = run_check(page, "spoof")
    assert "failed" in result and "spoofface" in result
    assert page.get_attribute("#result dd:nth-of-type(2)", "class") == "outcome-failed"
    screenshot(page, "demo-spoof.png")
    rows = stored(demo, "SELECT outcome, liveness_decision FROM django_liveness_livenesssession ORDER BY created_at")
    assert rows[-1] == ("failed", "spoofface")


def test_staff_review_screens(staff_page, demo):
    page = staff_page
    page.goto(f"{demo['base']}/admin/django_liveness/livenesssession/")
    assert "passed" in page.inner_text("#result_list") and "failed" in page.inner_text("#result_list")
    screenshot(page, "admin-sessions.png")
    page.click("#result_list tbody tr:last-child th a")
    page.wait_for_selector("#review")
    assert "Review this decision" in page.inner_text("#review")
    assert page.locator("img[alt='reference image']").first.evaluate("img => img.naturalWidth") == 480
    screenshot(page, "admin-session-detail.png")
    # The review form really posts from a browser (a form nested in the change form would not).
    page.select_option("#id_decision", "approved")
    page.fill("#id_note", "Matches the passport photo.")
    page.click("#review input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert stored(demo, "SELECT outcome, review_status, review_note FROM django_liveness_livenesssession WHERE review_status != ''") == [
        ("passed", "approved", "Matches the passport photo.")
    ]


def test_the_page_keeps_one_subject_per_account_for_staff_too(staff_page, demo):
    """Staff may create subjects for anyone; the page still asks for the one linked to their account."""
    for _ in range(2):
        page = staff_page
        page.goto(f"{demo['base']}/")
        page.check("#consent-box")
        page.click("#consent-button")
        page.wait_for_selector("#consent-status:has-text('Consent recorded.')")
    owners = stored(demo, "SELECT u.username, count(*) FROM django_liveness_subject s JOIN auth_user u ON u.id = s.user_id GROUP BY u.username")
    assert sorted(owners) == [("demo", 1), ("reviewer", 1)]
