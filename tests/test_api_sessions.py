"""REST API: liveness sessions (start, read, complete, cancel, audit) with LocMemBackend."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from django_liveness import services
from django_liveness.exceptions import ProviderUnavailable, Throttled
from django_liveness.models import LivenessEvent, LivenessSession, ReferenceImage
from django_liveness.testing import ReferenceImageFactory, UserFactory

from .api_support import API, client_for, grant, start, upload
from .conftest import past_the_fetch_window

pytestmark = pytest.mark.django_db


def test_create_session_returns_the_token_with_no_store(owner, subject, locmem):
    ReferenceImageFactory(subject=subject)
    response = start(client_for(owner), subject)
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"id", "subject", "kind", "status", "auth_token", "capture_url", "auth_token_expires_at", "created_at"}
    session = LivenessSession.objects.get()
    assert (body["auth_token"], body["kind"], body["status"]) == (session.auth_token, "liveness_with_verify", "created")
    assert session.started_by == owner


def test_session_for_another_users_subject_is_404_and_no_provider_call(subject, locmem):
    ReferenceImageFactory(subject=subject)
    assert start(client_for(UserFactory()), subject).status_code == 404
    assert locmem.calls == []
    assert not LivenessSession.objects.exists()


def test_staff_who_may_only_view_cannot_start_sessions(subject, locmem):
    viewer = grant(UserFactory(is_staff=True), "view_subject")
    assert start(client_for(viewer), subject, verify=False).status_code == 403
    assert locmem.calls == []


def test_token_is_shown_to_its_starter_only_while_valid(owner, subject, app_user, locmem):
    ReferenceImageFactory(subject=subject)
    created = start(client_for(owner), subject).json()
    session_id, token = created["id"], created["auth_token"]
    mine = client_for(owner).get(f"{API}/sessions/{session_id}/")
    assert mine.json()["auth_token"] == token and mine["Cache-Control"] == "no-store"
    assert "auth_token" not in client_for(app_user).get(f"{API}/sessions/{session_id}/").json()
    assert token not in str(client_for(owner).get(f"{API}/sessions/").json())
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert "auth_token" not in client_for(owner).get(f"{API}/sessions/{session_id}/").json()


def test_full_lifecycle_reads_passed(owner, subject, locmem):
    client = client_for(owner)
    assert upload(client, subject).status_code == 201
    session_id = start(client, subject).json()["id"]
    locmem.complete(LivenessSession.objects.get(pk=session_id), decision="realface", same_person=True)
    completed = client.post(f"{API}/sessions/{session_id}/complete/", {"outcome": "failed", "status": "expired"}, format="json")
    assert completed.status_code == 200
    body = completed.json()
    assert (body["status"], body["outcome"], body["liveness_decision"]) == ("completed", "passed", "realface")
    assert body["verification"] == {"is_identical": True, "match_confidence": 0.92}
    assert "auth_token" not in body
    assert client.post(f"{API}/sessions/{session_id}/complete/").json() == body  # repeating is harmless
    assert [c[0] for c in locmem.calls].count("get_result") == 1


def test_complete_with_provider_outage_is_503_with_retry_after(owner, subject, locmem):
    session_id = start(client_for(owner), subject, verify=False).json()["id"]
    locmem.fail_next(Throttled("Rate limit is exceeded.", status=429, retry_after=7))
    response = client_for(owner).post(f"{API}/sessions/{session_id}/complete/")
    assert response.status_code == 503 and response["Retry-After"] == "7"
    assert response.json()["code"] == "provider_throttled"
    locmem.fail_next(ProviderUnavailable("down", status=503))
    with past_the_fetch_window():
        response = client_for(owner).post(f"{API}/sessions/{session_id}/complete/")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert LivenessSession.objects.get().status == "created"


def test_create_with_provider_outage_is_503_and_the_attempt_is_recorded(owner, subject, locmem):
    locmem.fail_next(ProviderUnavailable("down", status=503))
    response = start(client_for(owner), subject, verify=False)
    assert response.status_code == 503 and response.json()["code"] == "provider_unavailable"
    assert LivenessSession.objects.get().status == "failed"


def test_delete_cancels_and_deletes_at_the_provider(owner, subject, locmem):
    session_id = start(client_for(owner), subject, verify=False).json()["id"]
    assert client_for(owner).delete(f"{API}/sessions/{session_id}/").status_code == 204
    assert LivenessSession.objects.get().status == "canceled"
    assert locmem.calls[-1][0] == "delete_session"


def test_completed_session_cannot_be_deleted(owner, subject, locmem):
    session_id = start(client_for(owner), subject, verify=False).json()["id"]
    locmem.complete(LivenessSession.objects.get())
    client_for(owner).post(f"{API}/sessions/{session_id}/complete/")
    response = client_for(owner).delete(f"{API}/sessions/{session_id}/")
    assert response.status_code == 409 and response.json()["code"] == "invalid_state"


def test_other_users_sessions_are_404_everywhere(subject, locmem):
    session = services.start_session(subject, verify=False)
    stranger = client_for(UserFactory())
    for method, path in [
        ("get", f"{API}/sessions/{session.pk}/"),
        ("post", f"{API}/sessions/{session.pk}/complete/"),
        ("delete", f"{API}/sessions/{session.pk}/"),
        ("get", f"{API}/sessions/{session.pk}/audit/"),
    ]:
        assert getattr(stranger, method)(path).status_code == 404, path
    assert [c[0] for c in locmem.calls] == ["create_session"]
    assert stranger.get(f"{API}/sessions/").json()["count"] == 0


def test_audit_entries_need_staff_or_the_audit_permission(owner, subject, app_user, locmem):
    session = services.start_session(subject, verify=False)
    locmem.complete(session)
    services.refresh_session(session)
    assert client_for(owner).get(f"{API}/sessions/{session.pk}/audit/").status_code == 403
    assert client_for(app_user).get(f"{API}/sessions/{session.pk}/audit/").status_code == 403
    auditor = grant(app_user, "view_provider_audit")
    entries = client_for(auditor).get(f"{API}/sessions/{session.pk}/audit/").json()
    assert entries[0]["session_id"] == session.provider_session_id
    # GA keeps no audit entries: the stored attempts stand in for them.
    assert entries[0]["response"]["liveness_decision"] == "realface"


def test_session_list_filters(owner, subject, locmem):
    first = services.start_session(subject, verify=False)
    services.cancel_session(services.start_session(subject, verify=False))
    client = client_for(owner)
    assert [s["id"] for s in client.get(f"{API}/sessions/?status=created").json()["results"]] == [str(first.pk)]
    assert client.get(f"{API}/sessions/?kind=liveness_with_verify").json()["count"] == 0
    assert client.get(f"{API}/sessions/?subject={subject.pk}").json()["count"] == 2
    bad = client.get(f"{API}/sessions/?status=done")
    assert bad.status_code == 400 and "status" in bad.json()["fields"]
    assert client.get(f"{API}/sessions/?subject=nope").status_code == 400


def test_session_list_query_count_does_not_grow(owner, subject, locmem, django_assert_max_num_queries):
    for _ in range(3):
        services.start_session(subject, verify=False)
    client = client_for(owner)
    with django_assert_max_num_queries(5) as few:
        client.get(f"{API}/sessions/")
    for _ in range(20):
        services.start_session(subject, verify=False)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(f"{API}/sessions/")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"verify": True}, "subject"),
        ({"subject": "not-a-uuid"}, "subject"),
        ({"subject": "9f0e5e3c-0000-0000-0000-000000000000", "verify": "maybe"}, "verify"),
        ({"subject": "9f0e5e3c-0000-0000-0000-000000000000", "operation_mode": "Loud"}, "operation_mode"),
        ({"subject": "9f0e5e3c-0000-0000-0000-000000000000", "device_correlation_id": "x" * 65}, "device_correlation_id"),
    ],
)
def test_bad_session_input_is_400_naming_the_field(owner, body, field):
    response = client_for(owner).post(f"{API}/sessions/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not LivenessSession.objects.exists()


def test_events_never_hold_the_token(owner, subject, locmem):
    token = start(client_for(owner), subject, verify=False).json()["auth_token"]
    assert all(token not in str(event.data) + event.message for event in LivenessEvent.objects.all())


def test_app_acts_on_other_peoples_sessions(app_user, subject, locmem):
    client = client_for(app_user)
    created = start(client, subject, verify=False)
    assert created.status_code == 201
    session = LivenessSession.objects.get()
    assert session.started_by == app_user
    assert [s["id"] for s in client.get(f"{API}/sessions/").json()["results"]] == [str(session.pk)]
    locmem.complete(session)
    completed = client.post(f"{API}/sessions/{session.pk}/complete/")
    assert completed.status_code == 200 and completed.json()["outcome"] == "passed"
    second = start(client, subject, verify=False).json()["id"]
    assert client.delete(f"{API}/sessions/{second}/").status_code == 204
    assert LivenessSession.objects.get(pk=second).status == "canceled"


def test_app_without_the_action_permission_gets_403_and_nothing_changes(subject, locmem):
    viewer = grant(UserFactory(), "view_subject", "view_livenesssession", "view_referenceimage")
    session = services.start_session(subject, verify=False)
    image = ReferenceImageFactory(subject=subject)
    client = client_for(viewer)
    assert client.get(f"{API}/sessions/{session.pk}/").status_code == 200
    assert client.post(f"{API}/sessions/{session.pk}/complete/").status_code == 403
    assert client.delete(f"{API}/sessions/{session.pk}/").status_code == 403
    assert upload(client, subject).status_code == 403
    assert client.delete(f"{API}/subjects/{subject.pk}/reference-images/{image.pk}/").status_code == 403
    assert client.patch(f"{API}/subjects/{subject.pk}/", {"display_name": "x"}, format="json").status_code == 403
    assert client.delete(f"{API}/subjects/{subject.pk}/").status_code == 403
    assert [c[0] for c in locmem.calls] == ["create_session"]
    assert LivenessSession.objects.get().status == "created" and ReferenceImage.objects.count() == 1


def test_staff_with_view_permission_reads_audit(subject, locmem):
    session = services.start_session(subject, verify=False)
    locmem.complete(session)
    services.refresh_session(session)
    staff = grant(UserFactory(is_staff=True), "view_livenesssession")
    response = client_for(staff).get(f"{API}/sessions/{session.pk}/audit/")
    assert response.status_code == 200 and response.json()[0]["session_id"] == session.provider_session_id
    assert client_for(UserFactory(is_staff=True)).get(f"{API}/sessions/{session.pk}/audit/").status_code == 404


def test_create_ignores_status_outcome_and_decision_in_the_body(owner, subject, locmem):
    response = start(
        client_for(owner),
        subject,
        verify=False,
        status="completed",
        outcome="passed",
        liveness_decision="realface",
        review_status="approved",
    )
    assert response.status_code == 201 and response.json()["status"] == "created"
    session = LivenessSession.objects.get()
    assert (session.status, session.outcome, session.liveness_decision, session.kind) == ("created", "", "", "liveness")
    assert session.review_status != "approved"


def test_verify_session_without_reference_image_is_400_that_says_so(owner, subject, locmem):
    response = start(client_for(owner), subject)
    assert response.status_code == 400
    assert response.json()["code"] == "no_reference_image"
    assert "reference image" in response.json()["detail"]
    assert locmem.calls == []


def test_create_with_provider_throttling_is_503_with_its_retry_after(owner, subject, locmem):
    locmem.fail_next(Throttled("Rate limit is exceeded.", status=429, retry_after=9))
    response = start(client_for(owner), subject, verify=False)
    assert response.status_code == 503 and response["Retry-After"] == "9"
    assert response.json()["code"] == "provider_throttled" and "auth_token" not in response.json()


def test_list_counts_stop_at_the_cap_and_say_so(app_user, subject, locmem, monkeypatch):
    from django_liveness.api.views import Pagination

    monkeypatch.setattr(Pagination, "COUNT_CAP", 3)
    for _ in range(5):
        services.start_session(subject, verify=False)
    client = client_for(app_user)
    first = client.get(f"{API}/sessions/?limit=2").json()
    assert (first["count"], first["count_capped"], len(first["results"])) == (3, True, 2) and first["next"]
    last = client.get(f"{API}/sessions/?limit=2&offset=4").json()
    assert (last["count"], last["count_capped"], len(last["results"])) == (5, False, 1) and last["next"] is None
    small = client.get(f"{API}/sessions/?limit=10").json()
    assert (small["count"], small["count_capped"]) == (5, False)


def reviewed_session(subject, locmem, *, decision, review):
    session = services.start_session(subject, verify=False)
    locmem.complete(session, decision=decision)
    session = services.refresh_session(session)
    reviewer = UserFactory(is_staff=True)
    return services.review_session(session, reviewer=reviewer, decision=review, note="Checked by hand.")


def test_outcome_is_the_one_that_counts_and_provider_outcome_the_providers(owner, subject, locmem):
    """As in webhooks, the admin and the dashboard: an approved uncertain session has passed."""
    approved = reviewed_session(subject, locmem, decision="uncertain", review="approved")
    rejected = reviewed_session(subject, locmem, decision="realface", review="rejected")
    pending = services.refresh_session(services.start_session(subject, verify=False))
    client = client_for(owner)
    for session, outcome, provider_outcome in [(approved, "passed", "needs_review"), (rejected, "failed", "passed")]:
        body = client.get(f"{API}/sessions/{session.pk}/").json()
        assert (body["outcome"], body["provider_outcome"], body["review_status"]) == (
            outcome,
            provider_outcome,
            session.review_status,
        )
    listed = {row["id"]: (row["outcome"], row["provider_outcome"]) for row in client.get(f"{API}/sessions/").json()["results"]}
    assert listed == {
        str(approved.pk): ("passed", "needs_review"),
        str(rejected.pk): ("failed", "passed"),
        str(pending.pk): ("", ""),
    }


def test_the_outcome_filter_follows_the_review(owner, subject, locmem):
    approved = reviewed_session(subject, locmem, decision="uncertain", review="approved")
    rejected = reviewed_session(subject, locmem, decision="realface", review="rejected")
    session = services.start_session(subject, verify=False)
    locmem.complete(session, decision="uncertain")
    waiting = services.refresh_session(session)
    client = client_for(owner)

    def ids(query):
        response = client.get(f"{API}/sessions/?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids("outcome=passed") == {str(approved.pk)}
    assert ids("outcome=failed") == {str(rejected.pk)}
    assert ids("outcome=needs_review") == {str(waiting.pk)}
    assert ids("provider_outcome=needs_review") == {str(approved.pk), str(waiting.pk)}
    assert ids("provider_outcome=passed") == {str(rejected.pk)}
    assert client.get(f"{API}/sessions/?provider_outcome=maybe").json()["code"] == "invalid_choice"
