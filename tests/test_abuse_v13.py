"""Face API v1.3-preview.1 against abuse, end to end over HTTP: REST API -> services -> the GA client
-> the emulator (every answer validated against the v1.3 spec by the emulator_server fixture).
The subject's user correlation id, client-IP binding (LIVENESS["BIND_CLIENT_IP"],
CLIENT_IP_RESOLVER) and the review of sessions the service's abuse monitoring flagged."""

from datetime import timedelta

import jsonschema
import pytest
from django.urls import reverse

from django_liveness import services, signals
from django_liveness.emulator.client import FrontendCallFailed
from django_liveness.emulator.core import LIVENESS, LIVENESS_WITH_VERIFY
from django_liveness.models import LivenessAttempt, LivenessEvent, LivenessSession, WebhookDelivery
from django_liveness.testing import ReferenceImageFactory, UserFactory, capture_signal
from django_liveness.webhooks import create_endpoint
from django_liveness.webhook_protocol.events import SCHEMAS

from .api_support import API, client_for, grant, start

V13 = "v1.3-preview.1"
pytestmark = [pytest.mark.django_db, pytest.mark.parametrize("api_version", [V13])]


def emulated(emulator_server, session):
    """The emulator's own record of ``session`` (its create parameters, its attempts)."""
    kind = LIVENESS_WITH_VERIFY if session.is_verify else LIVENESS
    return emulator_server.state.emulator.get_session(kind, session.provider_session_id)


def started(client, subject, verify=False, **extra):
    response = start(client, subject, verify=verify, **extra)
    assert response.status_code == 201, response.content
    return LivenessSession.objects.get(pk=response.json()["id"])


def complete(client, session, capture):
    with capture:
        return client.post(f"{API}/sessions/{session.pk}/complete/").json()


@pytest.fixture
def bind(settings, azure_backend):
    """BIND_CLIENT_IP on, over the test's v1.3 AzureFaceBackend."""
    settings.LIVENESS = {**settings.LIVENESS, "BIND_CLIENT_IP": True}


# --- user correlation -----------------------------------------------------------------------------


def test_liveness_sessions_send_the_subject_s_own_random_user_correlation_id(azure_backend, emulator_server, owner, subject):
    first = started(client_for(owner), subject)
    subject.refresh_from_db()
    sent = emulated(emulator_server, first).params
    assert sent.user_correlation_id == subject.user_correlation_id and not sent.user_correlation_id_set_in_client
    assert len(subject.user_correlation_id) == 36  # a UUID, made once ...
    assert subject.user_correlation_id not in (subject.external_id, str(subject.pk), subject.device_correlation_id)
    second = started(client_for(owner), subject)
    assert emulated(emulator_server, second).params.user_correlation_id == subject.user_correlation_id  # ... and kept
    shown = [client_for(owner).get(f"{API}/subjects/{subject.pk}/"), client_for(owner).get(f"{API}/sessions/{second.pk}/")]
    assert all(response.status_code == 200 for response in shown)
    assert not [response for response in shown if subject.user_correlation_id in response.content.decode()]  # not public

    ReferenceImageFactory(subject=subject)
    verify = started(client_for(owner), subject, verify=True)  # the multipart create has no such field
    assert emulated(emulator_server, verify).params.user_correlation_id is None


def test_the_frontend_may_set_the_user_correlation_id_when_the_app_says_so(azure_backend, emulator_server, app_user, subject, owner):
    session = started(client_for(app_user), subject, user_correlation_id_set_in_client=True)
    sent = emulated(emulator_server, session).params
    assert (sent.user_correlation_id, sent.user_correlation_id_set_in_client) == (None, True)
    subject.refresh_from_db()
    assert subject.user_correlation_id == ""  # nothing made that nobody sends

    refused = start(client_for(owner), subject, verify=False, user_correlation_id_set_in_client=True)
    assert (refused.status_code, refused.json()["code"]) == (403, "session_option_not_allowed")


def test_erasure_forgets_the_user_correlation_id_and_the_client_addresses(azure_backend, frontend, bind, owner, subject):
    session = started(client_for(owner), subject)
    frontend(session.auth_token, verify=False)
    client_for(owner).post(f"{API}/sessions/{session.pk}/complete/")
    subject.refresh_from_db()
    session.refresh_from_db()
    assert subject.user_correlation_id and session.expected_client_ip == "127.0.0.1"
    assert LivenessAttempt.objects.get(session=session).client_ips == ["127.0.0.1"]

    services.erase_subject(subject)
    subject.refresh_from_db()
    session.refresh_from_db()
    assert (subject.user_correlation_id, session.expected_client_ip) == ("", "")
    assert LivenessAttempt.objects.get(session=session).client_ips == []


def test_retention_clears_the_client_addresses_with_the_face_data(azure_backend, frontend, bind, owner, subject, settings):
    session = started(client_for(owner), subject)
    frontend(session.auth_token, verify=False)
    client_for(owner).post(f"{API}/sessions/{session.pk}/complete/")
    # Past RESULT_PAYLOAD_DAYS (30), well within SESSION_DAYS: the row stays, its face data goes.
    LivenessSession.objects.filter(pk=session.pk).update(created_at=session.created_at - timedelta(days=40))

    assert services.apply_retention()["payloads_redacted"] == 1
    session.refresh_from_db()
    assert session.expected_client_ip == "" and session.redacted_at is not None
    assert LivenessAttempt.objects.get(session=session).client_ips == []


# --- client-IP binding ----------------------------------------------------------------------------


def test_a_bound_session_captures_from_its_address_and_fails_from_another(azure_backend, emulator_server, frontend, bind, owner, subject):
    here = started(client_for(owner), subject)
    assert emulated(emulator_server, here).params.expected_client_ip == "127.0.0.1"  # the API client's REMOTE_ADDR
    frontend(here.auth_token, verify=False)
    assert client_for(owner).post(f"{API}/sessions/{here.pk}/complete/").json()["outcome"] == "passed"

    elsewhere = started(client_for(owner), subject)
    with pytest.raises(FrontendCallFailed) as refused:
        frontend(elsewhere.auth_token, verify=False, client_ip="203.0.113.9")
    assert refused.value.status == 400 and "ClientIpAddressMismatch" in refused.value.body
    body = client_for(owner).post(f"{API}/sessions/{elsewhere.pk}/complete/").json()
    assert (body["status"], body["error"]["code"]) == ("failed", "ClientIpAddressMismatch")
    assert LivenessAttempt.objects.get(session=elsewhere).client_ips == ["203.0.113.9"]  # shown to reviewers


def test_verify_sessions_and_sessions_started_without_an_address_are_not_bound(azure_backend, emulator_server, bind, owner, subject):
    from django_liveness import services

    ReferenceImageFactory(subject=subject)
    verify = started(client_for(owner), subject, verify=True)
    assert emulated(emulator_server, verify).params.expected_client_ip is None and verify.expected_client_ip == ""
    direct = services.start_session(subject, verify=False)  # client_ip=None: the host chose not to bind
    assert emulated(emulator_server, direct).params.expected_client_ip is None


def resolve_from_header(request):
    return request.headers.get("X-Real-Client", "")


def test_the_resolver_reads_the_address_behind_a_proxy(azure_backend, emulator_server, bind, owner, subject, settings):
    settings.LIVENESS = {**settings.LIVENESS, "CLIENT_IP_RESOLVER": f"{__name__}.resolve_from_header"}
    behind = client_for(owner).post(
        f"{API}/sessions/", {"subject": str(subject.pk)}, format="json", headers={"X-Real-Client": "2001:db8::7"}
    )
    session = LivenessSession.objects.get(pk=behind.json()["id"])
    assert emulated(emulator_server, session).params.expected_client_ip == "2001:db8::7"

    calls = LivenessSession.objects.count()
    unreadable = client_for(owner).post(
        f"{API}/sessions/", {"subject": str(subject.pk)}, format="json", headers={"X-Real-Client": "unknown"}
    )
    assert (unreadable.status_code, unreadable.json()["code"]) == (400, "client_ip_unknown")  # fails closed
    assert LivenessSession.objects.count() == calls  # nothing stored, no provider call


def test_the_emulator_accepts_a_capture_inside_the_expected_cidr_block(azure_backend, frontend):
    created = azure_backend.create_session(
        operation_mode="Passive", device_correlation_id="d", auth_token_ttl_seconds=600, expected_client_ip="127.0.0.0/8"
    )
    frontend(created.auth_token, verify=False, client_ip="127.0.0.42")
    with pytest.raises(FrontendCallFailed):
        frontend(created.auth_token, verify=False, client_ip="10.0.0.1")  # the session's one attempt is spent anyway
    result = azure_backend.get_result(created.session_id, verify=False)
    assert result.liveness_decision == "realface" and result.payload["expectedClientIpAddress"] == "127.0.0.0/8"


# --- abuse review ---------------------------------------------------------------------------------


def flagged_verify_session(client, subject, frontend, *, with_sessions):
    ReferenceImageFactory(subject=subject)
    session = started(client, subject, verify=True)
    flagged = [getattr(other, "provider_session_id", other) for other in with_sessions]
    frontend(session.auth_token, verify=True, abuse_flagged_with=flagged)
    return session


def test_a_flagged_attempt_never_verifies_and_waits_for_review(
    azure_backend, frontend, owner, subject, settings, django_capture_on_commit_callbacks
):
    settings.LIVENESS = {**settings.LIVENESS, "WEBHOOKS": {"ALLOWED_PRIVATE_HOSTS": ["127.0.0.1"]}}
    create_endpoint("https://127.0.0.1:9/hook", events=["liveness.verified", "session.completed"])
    earlier = started(client_for(owner), subject)
    session = flagged_verify_session(client_for(owner), subject, frontend, with_sessions=[earlier])

    with capture_signal(signals.liveness_verified) as verified, capture_signal(signals.session_completed) as completed:
        body = complete(client_for(owner), session, django_capture_on_commit_callbacks(execute=True))

    # A live face, the same person, 0.92: it would have passed. It waits for a reviewer instead.
    assert (body["liveness_decision"], body["verification"]["is_identical"]) == ("realface", True)
    assert (body["outcome"], body["review_status"], body["abuse_detected"]) == ("needs_review", "pending", True)
    assert verified == [] and [call["outcome"] for call in completed] == ["needs_review"]
    assert not WebhookDelivery.objects.filter(event_type="liveness.verified").exists()
    payload = WebhookDelivery.objects.get(event_type="session.completed").payload
    assert payload["data"]["session"]["abuse_detected"] is True
    jsonschema.validate(payload, SCHEMAS["session.completed"])

    session.refresh_from_db()
    assert session.verified_at is None and list(session.flagged_with.all()) == [earlier]
    assert list(earlier.flagged_with.all()) == [session]  # linked both ways
    (attempt,) = session.attempts.all()
    assert attempt.abuse_detected is True and attempt.client_ips == ["127.0.0.1"]
    assert attempt.other_flagged_sessions == [
        {"session_id": earlier.provider_session_id, "attempt_id": 1, "session_image_id": ""}
    ]
    event = LivenessEvent.objects.get(kind="abuse_detected")
    assert event.session == session and event.data["linked_sessions"] == [str(earlier.pk)]


def test_a_reviewer_s_approval_verifies_a_flagged_session(azure_backend, frontend, owner, subject, django_capture_on_commit_callbacks):
    from django_liveness import services

    session = flagged_verify_session(client_for(owner), subject, frontend, with_sessions=[])
    complete(client_for(owner), session, django_capture_on_commit_callbacks(execute=True))
    session.refresh_from_db()
    with capture_signal(signals.liveness_verified) as verified, django_capture_on_commit_callbacks(execute=True):
        services.review_session(session, reviewer=UserFactory(), decision="approved", note="Same person, known device.")
    assert [call["session"].pk for call in verified] == [session.pk]


def test_an_unflagged_v13_session_passes_as_before(azure_backend, frontend, owner, subject):
    ReferenceImageFactory(subject=subject)
    session = started(client_for(owner), subject, verify=True)
    frontend(session.auth_token, verify=True)
    body = client_for(owner).post(f"{API}/sessions/{session.pk}/complete/").json()
    assert (body["outcome"], body["review_status"], body["abuse_detected"]) == ("passed", "", False)
    assert session.attempts.get().abuse_detected is False  # monitored, not flagged


def test_the_admin_filters_flagged_sessions_and_links_the_others(azure_backend, frontend, owner, subject, admin_client):
    earlier = started(client_for(owner), subject)
    # One flagged session this app does not know (another app on the same Face resource): named by its id.
    stranger = "0f0f0f0f-0000-4000-8000-000000000001"
    session = flagged_verify_session(client_for(owner), subject, frontend, with_sessions=[earlier, stranger])
    client_for(owner).post(f"{API}/sessions/{session.pk}/complete/")

    listed = admin_client.get(reverse("admin:django_liveness_livenesssession_changelist"), {"abuse": "yes"})
    assert listed.status_code == 200
    assert [row.pk for row in listed.context["cl"].result_list] == [session.pk]

    page = admin_client.get(reverse("admin:django_liveness_livenesssession_change", args=[session.pk]))
    html = page.content.decode()
    assert "abuse monitoring flagged this session" in html
    assert reverse("admin:django_liveness_livenesssession_change", args=[earlier.pk]) in html
    assert "127.0.0.1" in html  # the attempt's client address, for the reviewer
    assert "flagged, with 2 other sessions" in html and stranger in html

    other_page = admin_client.get(reverse("admin:django_liveness_livenesssession_change", args=[earlier.pk]))
    assert "abuse monitoring flagged this session" not in other_page.content.decode()  # linked, not flagged itself


@pytest.mark.urls("tests.metrics_urls")
def test_flagged_sessions_are_counted_once(azure_backend, frontend, owner, subject, settings, client, django_capture_on_commit_callbacks):
    from .test_metrics import TOKEN, changes, scrape

    settings.LIVENESS = {**settings.LIVENESS, "METRICS": {"TOKEN": TOKEN}}
    before = scrape(client)
    flagged = flagged_verify_session(client_for(owner), subject, frontend, with_sessions=[])
    complete(client_for(owner), flagged, django_capture_on_commit_callbacks(execute=True))
    complete(client_for(owner), flagged, django_capture_on_commit_callbacks(execute=True))  # final: nothing new
    clean = started(client_for(owner), subject)
    frontend(clean.auth_token, verify=False)
    complete(client_for(owner), clean, django_capture_on_commit_callbacks(execute=True))

    assert changes(before, scrape(client), "liveness_abuse_flagged_sessions") == {
        ("liveness_abuse_flagged_sessions_total", (("kind", "liveness_with_verify"),)): 1
    }


def test_the_emulator_refuses_a_test_mode_address_that_is_not_one(azure_backend, frontend):
    created = azure_backend.create_session(operation_mode="Passive", device_correlation_id="d", auth_token_ttl_seconds=600)
    with pytest.raises(FrontendCallFailed) as refused:
        frontend(created.auth_token, verify=False, client_ip="somewhere")
    assert refused.value.status == 400 and "client_ip must be an IP address." in refused.value.body
    frontend(created.auth_token, verify=False)  # nothing was spent: the session's one attempt is still there
    assert azure_backend.get_result(created.session_id, verify=False).liveness_decision == "realface"
