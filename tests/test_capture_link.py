"""The hosted capture link (capture_url), the page's own calls, the frontend's client-events/ and
rate limits that count only what succeeded; with LocMemBackend."""

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from django_liveness.capture.messages import capture_messages
from django_liveness.emulator.core import CLIENT_IP_MISMATCH
from django_liveness.models import LivenessEvent, LivenessSession
from django_liveness.testing import ReferenceImageFactory, SubjectFactory, UserFactory

from .api_support import API, client_for, grant, start

pytestmark = pytest.mark.django_db
HEADER = "X-Liveness-Capture"


@pytest.fixture
def created(owner, subject, locmem):
    ReferenceImageFactory(subject=subject)
    response = start(client_for(owner), subject, return_url="/account/?step=done")
    assert response.status_code == 201
    return response.json()


def open_link(url, client=None, **headers):
    return (client or Client()).get(urlsplit(url).path, headers=headers)


# What a browser sends with the page's own fetch(): Sec-Fetch-Site, and Origin on a POST.
SAME_ORIGIN = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}


def start_on(url, client=None, **headers):
    """The page's Start: its same-origin POST to the link, from ``client``'s browser (its cookies)."""
    return (client or Client()).post(urlsplit(url).path, headers={**SAME_ORIGIN, **headers})


def page_config(response):
    match = re.search(
        r'<script id="liveness-capture-config" type="application/json">(.*?)</script>', response.content.decode()
    )
    return json.loads(match.group(1))


def started_page(url):
    """A browser that opened the link and tapped Start: (client, the start's answer)."""
    browser = Client()
    assert open_link(url, browser).status_code == 200
    started = start_on(url, browser)
    assert started.status_code == 200, started.content
    return browser, started.json()


def test_create_answers_an_absolute_one_time_capture_url(created):
    url = urlsplit(created["capture_url"])
    assert (url.scheme, url.netloc) == ("http", "testserver")
    assert url.path.startswith(f"{API}/capture/") and created["auth_token"] not in created["capture_url"]
    assert LivenessSession.objects.get().return_url == "/account/?step=done"


def test_opening_the_link_shows_the_page_but_spends_nothing_and_hands_out_no_token(created):
    response = open_link(created["capture_url"])
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store" and response["Referrer-Policy"] == "no-referrer"
    config = page_config(response)
    assert config["session"] is None and config["resume"] is False and config["headers"] == {}
    assert config["urls"]["start"] == urlsplit(created["capture_url"]).path
    assert set(config["urls"]) == {"start", "session", "complete", "client_events"}
    assert config["face"]["test_mode"] is True and config["face"]["api_version"] == "v1.2"
    assert config["return_url"] == "/account/?step=done"
    assert config["messages"]  # the widget's words, in the page's language
    assert created["auth_token"] not in response.content.decode() and HEADER not in response.content.decode()
    assert "Set-Cookie" not in response.headers
    assert LivenessSession.objects.get().capture_link_opened_at is None
    assert not LivenessEvent.objects.filter(kind="capture_link_opened").exists()


def test_a_link_preview_spends_nothing_and_the_person_then_starts(created):
    """A chat app's preview fetches the link (HEAD, then GET) before the person taps it."""
    preview = Client(headers={"User-Agent": "WhatsApp/2.23.20 A"})
    head = preview.head(urlsplit(created["capture_url"]).path)
    assert head.status_code == 200 and head.content == b""
    assert open_link(created["capture_url"], preview).status_code == 200
    browser, started = started_page(created["capture_url"])
    assert started["session"] == {
        "id": created["id"],
        "kind": "liveness_with_verify",
        "auth_token": created["auth_token"],
        "status": "created",
    }
    assert set(started["headers"]) == {HEADER}
    opened = LivenessEvent.objects.get(kind="capture_link_opened")
    assert str(opened.session_id) == created["id"] and opened.actor is None


def test_the_start_binds_the_link_to_the_browser_with_a_scoped_httponly_cookie(created):
    path = urlsplit(created["capture_url"]).path
    browser, _started = started_page(created["capture_url"])
    cookie = browser.cookies["liveness_capture"]
    assert cookie["path"] == path and cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"]
    session = LivenessSession.objects.get()
    assert abs((cookie_expiry(cookie) - session.auth_token_expires_at).total_seconds()) < 2
    # Only a hash of the browser's secret is stored.
    assert session.capture_browser_hash == hashlib.sha256(cookie.value.encode()).hexdigest() != cookie.value
    assert cookie.value not in json.dumps([str(value) for value in session.__dict__.values()])


def cookie_expiry(cookie):
    return datetime.strptime(cookie["expires"], "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)


def test_under_https_the_cookie_is_secure(created):
    browser = Client()
    started = browser.post(urlsplit(created["capture_url"]).path, secure=True, headers={"Sec-Fetch-Site": "same-origin"})
    assert started.status_code == 200
    assert browser.cookies["liveness_capture"]["secure"]


def test_a_reload_in_the_browser_that_started_goes_on_and_any_other_browser_gets_410(created):
    browser, first = started_page(created["capture_url"])
    reloaded = open_link(created["capture_url"], browser)
    assert reloaded.status_code == 200 and page_config(reloaded)["resume"] is True
    assert created["auth_token"] not in reloaded.content.decode()
    again = start_on(created["capture_url"], browser)
    assert again.status_code == 200 and again.json()["session"] == first["session"]
    assert LivenessEvent.objects.filter(kind="capture_link_opened").count() == 1

    guessing = Client(cookies={"liveness_capture": "guess"})
    for other in (open_link(created["capture_url"]), open_link(created["capture_url"], guessing)):
        assert other.status_code == 410 and "already been used" in other.content.decode()
        assert created["auth_token"] not in other.content.decode()
    refused = start_on(created["capture_url"])
    assert refused.status_code == 410 and refused.json()["code"] == "link_used"
    assert created["auth_token"] not in refused.content.decode() and "Set-Cookie" not in refused.headers


def test_the_browser_that_started_may_come_back_after_the_link_stopped_opening(created):
    browser, _started = started_page(created["capture_url"])
    with time_machine.travel(timezone.now() + timedelta(seconds=590)):
        assert open_link(created["capture_url"], browser).status_code == 200
        assert start_on(created["capture_url"], browser).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=601)):
        assert open_link(created["capture_url"], browser).status_code == 410  # the auth token expired


def test_the_start_is_the_pages_own_request_only(created):
    """Another site's form or script, or a client without Origin, cannot spend the link."""
    refusals = [
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://testserver"},
        {"Sec-Fetch-Site": "none"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {},
    ]
    for headers in refusals:
        response = Client().post(urlsplit(created["capture_url"]).path, headers=headers)
        assert response.status_code == 403 and response.json()["code"] == "cross_site_request", headers
        assert created["auth_token"] not in response.content.decode()
    assert LivenessSession.objects.get().capture_link_opened_at is None
    # A browser that sends Origin but not Sec-Fetch-Site (plain http off localhost) may start.
    assert Client().post(urlsplit(created["capture_url"]).path, headers={"Origin": "http://testserver"}).status_code == 200


def test_the_page_and_its_refusals_cannot_be_framed_and_run_under_a_strict_csp(created):
    browser, _started = started_page(created["capture_url"])
    link = created["capture_url"]
    for response in (open_link(link, browser), open_link(link), open_link(link[:-3] + "x/")):
        assert response["X-Frame-Options"] == "DENY"
        policy = csp(response)
        assert policy["frame-ancestors"] == ["'none'"] and policy["default-src"] == ["'none'"]
        assert policy["script-src"] == ["'self'"] and policy["connect-src"] == ["'self'"]
        assert policy["base-uri"] == ["'none'"] and policy["form-action"] == ["'none'"]
        assert not any("unsafe" in source or source in ("*", "data:") for source in policy["script-src"] + policy["style-src"])
        assert "camera=(self)" in response["Permissions-Policy"]
    page = open_link(created["capture_url"], browser).content.decode()
    scripts = re.findall(r"<script\b([^>]*)>", page)
    assert scripts and all('type="application/json"' in tag or "src=" in tag for tag in scripts)  # no inline script
    assert re.search(r"<[^>]*\son[a-z]+\s*=", page) is None  # no event handler attribute


def csp(response):
    return {name: sources for name, *sources in (part.split() for part in response["Content-Security-Policy"].split(";"))}


def test_the_csp_names_the_face_endpoint_the_component_and_what_the_host_adds(created, settings, monkeypatch):
    from django_liveness.backends import get_backend

    monkeypatch.setattr(type(get_backend()), "endpoint", "https://face.example.com/", raising=False)
    settings.LIVENESS = {
        **settings.LIVENESS,
        "CAPTURE": {
            "WEB_COMPONENT_SCRIPT": "https://cdn.example.net/face/index.js",
            "CSP_SOURCES": {"connect-src": ["https://telemetry.example.org"], "script-src": ["'unsafe-eval'"]},
        },
    }
    policy = csp(open_link(created["capture_url"]))
    assert policy["script-src"] == ["'self'", "https://cdn.example.net", "'wasm-unsafe-eval'", "'unsafe-eval'"]
    assert policy["connect-src"] == [
        "'self'",
        "https://face.example.com",
        "https://cdn.example.net",
        "https://telemetry.example.org",
    ]
    assert policy["worker-src"] == ["'self'", "blob:", "https://cdn.example.net"]
    assert policy["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize(
    "sources",
    [
        ["https://ok.example"],
        {"frame-ancestors": ["https://evil.example"]},
        {"script-src": ["x; frame-ancestors *"]},
        {"connect-src": "https://a.example"},
    ],
)
def test_csp_sources_that_would_loosen_the_policy_are_a_configuration_error(settings, sources):
    from django_liveness.conf import liveness_settings
    from django_liveness.exceptions import LivenessConfigurationError

    settings.LIVENESS = {**settings.LIVENESS, "CAPTURE": {"CSP_SOURCES": sources}}
    with pytest.raises(LivenessConfigurationError, match="CSP_SOURCES"):
        liveness_settings.CAPTURE  # noqa: B018  (reading it validates)


def test_an_altered_link_and_an_unknown_method_get_a_clear_answer(created):
    token = created["capture_url"].rsplit("/", 2)[-2]
    forged = open_link(created["capture_url"].replace(token, token[:-1] + ("A" if token[-1] != "A" else "B")))
    assert forged.status_code == 404 and "not valid" in forged.content.decode()
    assert start_on(created["capture_url"].replace(token, token[:-1] + "x")).json()["code"] == "link_not_valid"
    assert Client().put(urlsplit(created["capture_url"]).path).status_code == 405
    assert LivenessSession.objects.get().capture_link_opened_at is None


def test_an_expired_link_or_an_ended_session_is_refused_and_not_used_up(owner, subject, locmem):
    link = start(client_for(owner), subject, verify=False).json()["capture_url"]
    with time_machine.travel(timezone.now() + timedelta(seconds=601)):
        expired = open_link(link)
        assert start_on(link).json()["code"] == "link_expired"
    assert expired.status_code == 410 and "expired" in expired.content.decode()
    session = LivenessSession.objects.get()
    client_for(owner).delete(f"{API}/sessions/{session.pk}/")
    ended = open_link(link)
    assert ended.status_code == 410 and "ended" in ended.content.decode()
    assert start_on(link).status_code == 410
    assert LivenessSession.objects.get().capture_link_opened_at is None


def test_the_session_ending_ends_the_link_for_the_browser_that_started_too(owner, created):
    browser, _started = started_page(created["capture_url"])
    client_for(owner).delete(f"{API}/sessions/{created['id']}/")
    assert open_link(created["capture_url"], browser).status_code == 410
    assert start_on(created["capture_url"], browser).json()["code"] == "session_ended"


def test_a_replay_answers_the_same_link_as_the_first_answer(owner, subject, locmem):
    def create():
        body = {"subject": str(subject.pk), "verify": False}
        return client_for(owner).post(f"{API}/sessions/", body, format="json", headers={"Idempotency-Key": "k"}).json()

    first = create()
    with time_machine.travel(timezone.now() + timedelta(seconds=300)):
        replayed = create()
        assert replayed["id"] == first["id"] and replayed["capture_url"] == first["capture_url"]
        assert open_link(replayed["capture_url"]).status_code == 200
        assert start_on(replayed["capture_url"]).status_code == 200


@pytest.mark.parametrize("language, capture", [("fr", "Capturer et vérifier"), ("de", "Aufnehmen und prüfen")])
def test_the_page_follows_the_browsers_language(owner, subject, locmem, language, capture):
    link = start(client_for(owner), subject, verify=False).json()["capture_url"]
    response = open_link(link, **{"Accept-Language": f"{language},en;q=0.5"})
    assert f'<html lang="{language}"' in response.content.decode()
    assert page_config(response)["messages"]["capture"] == capture
    start_on(link)
    refused = start_on(link, **{"Accept-Language": language})
    used = {"fr": "Ce lien a déjà été utilisé.", "de": "Dieser Link wurde bereits verwendet."}[language]
    assert refused.status_code == 410 and refused.json()["detail"].startswith(used)


def test_an_unknown_language_gets_english(created):
    response = open_link(created["capture_url"], **{"Accept-Language": "tlh"})
    assert page_config(response)["messages"]["capture"] == "Capture and check"


def test_the_pages_calls_read_complete_and_report_with_the_page_token(created, locmem):
    _browser, started = started_page(created["capture_url"])
    config = page_config(open_link(created["capture_url"], _browser)) | started
    anonymous = Client(headers=config["headers"])
    assert anonymous.get(config["urls"]["session"]).json()["status"] == "created"
    locmem.complete(LivenessSession.objects.get(), decision="realface", same_person=True)
    completed = anonymous.post(config["urls"]["complete"])
    assert completed.status_code == 200
    assert (completed.json()["status"], completed.json()["outcome"]) == ("completed", "passed")
    reported = anonymous.post(
        config["urls"]["client_events"],
        {"code": "CameraPermissionDenied", "message": "NotAllowedError"},
        content_type="application/json",
    )
    assert reported.status_code == 201
    event = LivenessEvent.objects.get(kind="client_event")
    assert event.data == {"code": "CameraPermissionDenied", "message": "NotAllowedError"} and event.actor is None


def test_the_pages_calls_refuse_a_missing_or_altered_page_token(created):
    browser, started = started_page(created["capture_url"])
    config = page_config(open_link(created["capture_url"], browser)) | started
    for headers in ({}, {HEADER: config["headers"][HEADER] + "x"}, {HEADER: created["capture_url"].rsplit("/", 2)[-2]}):
        response = Client(headers=headers).post(config["urls"]["complete"])
        assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "return_url",
    ["https://evil.example/phish", "javascript:alert(1)", "//evil.example/", "https://testserver.evil.example/"],
)
def test_a_return_url_off_the_allow_list_is_refused_and_nothing_stored(owner, subject, locmem, return_url):
    response = start(client_for(owner), subject, verify=False, return_url=return_url)
    assert response.status_code == 400
    assert response.json()["code"] == "return_url_not_allowed" and "return_url" in response.json()["fields"]
    assert not LivenessSession.objects.exists() and locmem.calls == []


def test_a_return_url_on_an_allowed_host_is_kept(owner, subject, locmem, settings):
    settings.LIVENESS = {**settings.LIVENESS, "CAPTURE": {"RETURN_URL_HOSTS": ["app.example.com"]}}
    response = start(client_for(owner), subject, verify=False, return_url="http://app.example.com/kyc/done")
    assert response.status_code == 201
    assert LivenessSession.objects.get().return_url == "http://app.example.com/kyc/done"


def report(user, session_id, **body):
    return client_for(user).post(f"{API}/sessions/{session_id}/client-events/", body, format="json")


def test_the_starter_reports_what_the_browser_saw(owner, created):
    response = report(owner, created["id"], code="SdkError", message="FaceTrackingTimeout")
    assert response.status_code == 201 and response.json() == {"code": "SdkError", "message": "FaceTrackingTimeout"}
    event = LivenessEvent.objects.get(kind="client_event")
    assert (event.actor, event.data["code"], str(event.session_id)) == (owner, "SdkError", created["id"])


def test_client_events_of_someone_elses_session_are_404_even_for_staff(created, app_user):
    staff = grant(UserFactory(is_staff=True), "view_livenesssession", "view_subject", "change_livenesssession")
    for user in (UserFactory(), app_user, staff):
        assert report(user, created["id"], code="Other").status_code == 404
    assert not LivenessEvent.objects.filter(kind="client_event").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"code": "Whatever"},
        {"message": "no code"},
        {"code": "Other", "message": "x" * 501},
        {"code": "Other", "message": 5},
    ],
)
def test_a_bad_client_event_is_a_400_and_stores_nothing(owner, created, body):
    response = report(owner, created["id"], **body)
    assert response.status_code == 400 and response.json()["fields"]
    assert not LivenessEvent.objects.filter(kind="client_event").exists()


def test_client_events_are_throttled_per_session(owner, created, settings):
    settings.LIVENESS = {**settings.LIVENESS, "THROTTLE_RATES": {"client_event_session": "2/hour"}}
    assert [report(owner, created["id"], code="Other").status_code for _ in range(3)] == [201, 201, 429]
    assert LivenessEvent.objects.filter(kind="client_event").count() == 2


def test_refused_starts_use_up_no_quota(owner, locmem, settings):
    settings.LIVENESS = {**settings.LIVENESS, "THROTTLE_RATES": {"session_create_subject": "2/hour"}}
    subject = SubjectFactory(user=owner, consent=False)
    client = client_for(owner)
    assert [start(client, subject, verify=False).status_code for _ in range(3)] == [400, 400, 400]  # no consent
    from django_liveness import services

    services.grant_consent(subject, policy_version="1", text="I agree.", purpose="test")
    assert [start(client, subject, verify=False).status_code for _ in range(3)] == [201, 201, 429]


def test_every_attempt_error_the_page_names_has_its_own_words_including_a_capture_from_another_network():
    """The page's ATTEMPT_MESSAGES (capture.js) map provider codes to message keys: each key exists,
    and the emulator's refusal of a capture from an unexpected address gets the network advice."""
    script = (Path(__file__).parent.parent / "django_liveness/static/django_liveness/capture.js").read_text()
    table = re.search(r"const ATTEMPT_MESSAGES = \{(.*?)\};", script, re.S).group(1)
    mapping = dict(re.findall(r"(\w+): \"(\w+)\"", table))
    assert set(mapping.values()) <= set(capture_messages())
    assert mapping[CLIENT_IP_MISMATCH] == "attempt_wrong_network"
    assert "device and network that started it" in capture_messages()["attempt_wrong_network"]
