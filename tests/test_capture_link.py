"""The hosted capture link (capture_url), the page's own calls, the frontend's client-events/ and
rate limits that count only what succeeded; with LocMemBackend."""

import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

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


def page_config(response):
    match = re.search(
        r'<script id="liveness-capture-config" type="application/json">(.*?)</script>', response.content.decode()
    )
    return json.loads(match.group(1))


def test_create_answers_an_absolute_one_time_capture_url(created):
    url = urlsplit(created["capture_url"])
    assert (url.scheme, url.netloc) == ("http", "testserver")
    assert url.path.startswith(f"{API}/capture/") and created["auth_token"] not in created["capture_url"]
    assert LivenessSession.objects.get().return_url == "/account/?step=done"


def test_opening_the_link_without_login_runs_the_capture_for_that_session(created):
    response = open_link(created["capture_url"])
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store" and response["Referrer-Policy"] == "no-referrer"
    config = page_config(response)
    assert config["session"] == {
        "id": created["id"],
        "kind": "liveness_with_verify",
        "auth_token": created["auth_token"],
        "status": "created",
    }
    assert config["face"]["test_mode"] is True and config["face"]["api_version"] == "v1.2"
    assert config["return_url"] == "/account/?step=done"
    assert set(config["urls"]) == {"session", "complete", "client_events"} and set(config["headers"]) == {HEADER}
    assert config["messages"]  # the widget's words, in the page's language
    opened = LivenessEvent.objects.get(kind="capture_link_opened")
    assert str(opened.session_id) == created["id"] and opened.actor is None


def test_a_second_opening_an_altered_link_and_an_expired_one_get_a_clear_page(created):
    assert open_link(created["capture_url"]).status_code == 200
    again = open_link(created["capture_url"])
    assert again.status_code == 410 and "already been used" in again.content.decode()
    assert created["auth_token"] not in again.content.decode()
    token = created["capture_url"].rsplit("/", 2)[-2]
    forged = open_link(created["capture_url"].replace(token, token[:-1] + ("A" if token[-1] != "A" else "B")))
    assert forged.status_code == 404 and "not valid" in forged.content.decode()


def test_an_expired_link_or_an_ended_session_is_refused_and_not_used_up(owner, subject, locmem):
    link = start(client_for(owner), subject, verify=False).json()["capture_url"]
    with time_machine.travel(timezone.now() + timedelta(seconds=601)):
        expired = open_link(link)
    assert expired.status_code == 410 and "expired" in expired.content.decode()
    session = LivenessSession.objects.get()
    client_for(owner).delete(f"{API}/sessions/{session.pk}/")
    ended = open_link(link)
    assert ended.status_code == 410 and "ended" in ended.content.decode()
    assert LivenessSession.objects.get().capture_link_opened_at is None


def test_a_replay_answers_the_same_link_as_the_first_answer(owner, subject, locmem):
    def create():
        body = {"subject": str(subject.pk), "verify": False}
        return client_for(owner).post(f"{API}/sessions/", body, format="json", headers={"Idempotency-Key": "k"}).json()

    first = create()
    with time_machine.travel(timezone.now() + timedelta(seconds=300)):
        replayed = create()
        assert replayed["id"] == first["id"] and replayed["capture_url"] == first["capture_url"]
        assert open_link(replayed["capture_url"]).status_code == 200


@pytest.mark.parametrize("language, capture", [("fr", "Capturer et vérifier"), ("de", "Aufnehmen und prüfen")])
def test_the_page_follows_the_browsers_language(owner, subject, locmem, language, capture):
    link = start(client_for(owner), subject, verify=False).json()["capture_url"]
    response = open_link(link, **{"Accept-Language": f"{language},en;q=0.5"})
    assert f'<html lang="{language}"' in response.content.decode()
    assert page_config(response)["messages"]["capture"] == capture


def test_an_unknown_language_gets_english(created):
    response = open_link(created["capture_url"], **{"Accept-Language": "tlh"})
    assert page_config(response)["messages"]["capture"] == "Capture and check"


def test_the_pages_calls_read_complete_and_report_with_the_page_token(created, locmem):
    config = page_config(open_link(created["capture_url"]))
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
    config = page_config(open_link(created["capture_url"]))
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
    from django_liveness import privacy

    privacy.grant_consent(subject, policy_version="1", text="I agree.", purpose="test")
    assert [start(client, subject, verify=False).status_code for _ in range(3)] == [201, 201, 429]
