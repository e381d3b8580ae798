"""The client platform a session keeps: browser and OS family only, from the User-Agent of the
request that created it, and of the person's browser when a hosted capture link is opened."""

from urllib.parse import urlsplit

import pytest
from django.test import Client

from django_liveness.common.client_platform import client_platform
from django_liveness.models import LivenessSession

from .api_support import API, client_for

pytestmark = pytest.mark.django_db

IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)


def start_from(owner, subject, user_agent=None):
    headers = {"User-Agent": user_agent} if user_agent else {}
    response = client_for(owner).post(
        f"{API}/sessions/", {"subject": str(subject.pk), "verify": False}, format="json", headers=headers
    )
    assert response.status_code == 201
    return response.json()


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (IPHONE_SAFARI, ("Mobile Safari", "iOS")),
        (ANDROID_CHROME, ("Chrome Mobile", "Android")),
        ("python-requests/2.32.3", ("Python Requests", "Other")),
        ("something nobody knows", ("Other", "Other")),
        ("", ("", "")),
    ],
)
def test_only_the_browser_and_os_family_are_read(user_agent, expected):
    assert client_platform(user_agent) == expected


def test_a_session_keeps_the_family_of_the_browser_that_started_it_and_nothing_finer(owner, subject, locmem):
    start_from(owner, subject, ANDROID_CHROME)
    session = LivenessSession.objects.get()
    assert (session.client_browser, session.client_os) == ("Chrome Mobile", "Android")
    stored = {field.attname: getattr(session, field.attname) for field in LivenessSession._meta.concrete_fields}
    # The version and the device model (random ids and tokens may hold "124" by chance: look for the UA's own words).
    assert not any(isinstance(value, str) and ("124.0" in value or "Pixel" in value) for value in stored.values())


def test_a_request_without_user_agent_leaves_the_platform_unknown(owner, subject, locmem):
    start_from(owner, subject)
    session = LivenessSession.objects.get()
    assert (session.client_browser, session.client_os) == ("", "")


def test_starting_on_the_hosted_page_records_the_persons_own_platform(owner, subject, locmem):
    created = start_from(owner, subject, "python-requests/2.32.3")
    path = urlsplit(created["capture_url"]).path
    # A link preview's fetch is not the person: it changes nothing.
    assert Client().get(path, headers={"User-Agent": "TelegramBot (like TwitterBot)"}).status_code == 200
    session = LivenessSession.objects.get()
    assert (session.client_browser, session.client_os) == ("Python Requests", "Other")  # the creator's
    headers = {"User-Agent": IPHONE_SAFARI, "Sec-Fetch-Site": "same-origin"}
    assert Client().post(path, headers=headers).status_code == 200
    session = LivenessSession.objects.get()
    assert (session.client_browser, session.client_os) == ("Mobile Safari", "iOS")
