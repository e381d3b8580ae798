"""The REST API over HTTP (DRF test client) with LocMemBackend."""

import io
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from django_liveness import services
from django_liveness.exceptions import ProviderUnavailable, Throttled
from django_liveness.images import sample_face_image
from django_liveness.models import LivenessEvent, LivenessSession, ReferenceImage, Subject
from django_liveness.testing import ConsentFactory, ReferenceImageFactory, SubjectFactory, UserFactory

pytestmark = pytest.mark.django_db

API = "/api/liveness"


def client_for(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def grant(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="django_liveness", codename__in=codenames))
    return type(user).objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def subject(owner):
    return SubjectFactory(user=owner)


@pytest.fixture
def app_user():
    """An integration (service account) with the model permissions."""
    return grant(
        UserFactory(),
        "view_subject",
        "add_subject",
        "change_subject",
        "add_livenesssession",
        "view_livenesssession",
        "change_livenesssession",
        "delete_livenesssession",
        "add_referenceimage",
        "view_referenceimage",
    )


def upload(client, subject, data=None, name="face.jpg", **headers):
    image = SimpleUploadedFile(name, data if data is not None else sample_face_image(), content_type="image/jpeg")
    return client.post(f"{API}/subjects/{subject.pk}/reference-images/", {"image": image}, headers=headers)


def start(client, subject, verify=True, **extra):
    return client.post(f"{API}/sessions/", {"subject": str(subject.pk), "verify": verify, **extra}, format="json")


# --- subjects -----------------------------------------------------------------------------


def test_ordinary_user_gets_their_own_subject_whatever_user_they_send(owner):
    other = UserFactory()
    client = client_for(owner)
    first = client.post(f"{API}/subjects/", {"display_name": "Ada", "user": other.pk, "external_id": "x"}, format="json")
    assert first.status_code == 201
    assert first.json()["user"] == owner.pk and first.json()["display_name"] == "Ada"
    assert first.json()["external_id"] != "x"
    again = client.post(f"{API}/subjects/", {}, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert Subject.objects.count() == 1


def test_app_creates_subjects_for_anyone_by_external_id(app_user):
    client = client_for(app_user)
    created = client.post(f"{API}/subjects/", {"external_id": "crm-7", "display_name": "Bo"}, format="json")
    assert created.status_code == 201 and created.json()["external_id"] == "crm-7"
    repeated = client.post(f"{API}/subjects/", {"external_id": "crm-7"}, format="json")
    assert repeated.status_code == 200 and repeated.json()["id"] == created.json()["id"]


def test_subject_list_shows_only_what_the_user_may_see(owner, subject, app_user):
    SubjectFactory()
    assert [s["id"] for s in client_for(owner).get(f"{API}/subjects/").json()["results"]] == [str(subject.pk)]
    assert client_for(app_user).get(f"{API}/subjects/").json()["count"] == 2


def test_other_users_subject_is_404(subject):
    stranger = client_for(UserFactory())
    assert stranger.get(f"{API}/subjects/{subject.pk}/").status_code == 404
    assert stranger.patch(f"{API}/subjects/{subject.pk}/", {"display_name": "x"}, format="json").status_code == 404
    assert stranger.delete(f"{API}/subjects/{subject.pk}/").status_code == 404


def test_owner_may_rename_but_not_reassign_or_verify_their_subject(owner, subject):
    response = client_for(owner).patch(
        f"{API}/subjects/{subject.pk}/",
        {"display_name": "New", "user": UserFactory().pk, "verified_at": "2020-01-01T00:00:00Z", "external_id": "hijack"},
        format="json",
    )
    assert response.status_code == 200
    subject.refresh_from_db()
    assert (subject.display_name, subject.user, subject.verified_at) == ("New", owner, None)
    assert subject.external_id != "hijack"


def test_deleting_a_subject_removes_its_images_from_storage(owner, subject):
    image = ReferenceImageFactory(subject=subject)
    name, storage = image.file.name, image.file.storage
    with_commit = client_for(owner)
    assert with_commit.delete(f"{API}/subjects/{subject.pk}/").status_code == 204
    assert not Subject.objects.exists()


# --- reference images ---------------------------------------------------------------------


def test_upload_stores_the_image_and_never_returns_a_url(owner, subject):
    response = upload(client_for(owner), subject)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "content_type", "size", "width", "height", "sha256", "is_active", "quality_for_recognition", "created_at"}
    assert (body["content_type"], body["width"], body["height"], body["is_active"]) == ("image/jpeg", 480, 640, True)
    listed = client_for(owner).get(f"{API}/subjects/{subject.pk}/reference-images/").json()
    assert [item["id"] for item in listed["results"]] == [body["id"]]
    assert "url" not in str(listed) and "/media/" not in str(listed)


@pytest.mark.parametrize(
    "data, code",
    [
        (b"%PDF-1.4", "unsupported_format"),
        (b"\xff\xd8" + bytes(6 * 1024 * 1024), "too_large"),
        (sample_face_image()[:2000], "corrupt"),
    ],
)
def test_bad_images_are_400_with_the_reason_and_nothing_stored(owner, subject, data, code):
    response = upload(client_for(owner), subject, data)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["fields"]["image"]
    assert not ReferenceImage.objects.exists()


def test_upload_needs_exactly_one_file(owner, subject):
    client = client_for(owner)
    missing = client.post(f"{API}/subjects/{subject.pk}/reference-images/", {}, format="multipart")
    assert missing.status_code == 400 and "image" in missing.json()["fields"]
    files = {
        "image": SimpleUploadedFile("a.jpg", sample_face_image()),
        "other": SimpleUploadedFile("b.jpg", sample_face_image()),
    }
    extra = client.post(f"{API}/subjects/{subject.pk}/reference-images/", files, format="multipart")
    assert extra.status_code == 400 and extra.json()["code"] == "too_many_files"
    as_json = client.post(f"{API}/subjects/{subject.pk}/reference-images/", {"image": "x"}, format="json")
    assert as_json.status_code == 415


def test_upload_without_consent_is_refused(owner):
    subject = SubjectFactory(user=owner, consent=False)
    response = upload(client_for(owner), subject)
    assert response.status_code == 400 and response.json()["code"] == "consent_required"


def test_others_may_not_see_or_upload_images(subject):
    ReferenceImageFactory(subject=subject)
    stranger = client_for(UserFactory())
    assert upload(stranger, subject).status_code == 404
    assert stranger.get(f"{API}/subjects/{subject.pk}/reference-images/").status_code == 404
    assert ReferenceImage.objects.count() == 1


def test_owner_deletes_an_image(owner, subject):
    image = ReferenceImageFactory(subject=subject)
    assert client_for(owner).delete(f"{API}/subjects/{subject.pk}/reference-images/{image.pk}/").status_code == 204
    assert not ReferenceImage.objects.exists()


# --- sessions -----------------------------------------------------------------------------


def test_create_session_returns_the_token_with_no_store(owner, subject, locmem):
    ReferenceImageFactory(subject=subject)
    response = start(client_for(owner), subject)
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"id", "subject", "kind", "status", "auth_token", "auth_token_expires_at", "created_at"}
    session = LivenessSession.objects.get()
    assert (body["auth_token"], body["kind"], body["status"]) == (session.auth_token, "liveness_with_verify", "created")
    assert session.started_by == owner


def test_verify_session_without_reference_image_is_400_that_says_so(owner, subject, locmem):
    response = start(client_for(owner), subject)
    assert response.status_code == 400
    assert response.json()["code"] == "no_reference_image"
    assert "reference image" in response.json()["detail"]
    assert locmem.calls == []


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
    assert entries[0]["response"]["body"]["livenessDecision"] == "realface"


def test_anonymous_requests_are_refused(subject):
    anonymous = client_for()
    for path in [f"{API}/subjects/", f"{API}/sessions/", f"{API}/subjects/{subject.pk}/reference-images/"]:
        response = anonymous.get(path)
        assert response.status_code in (401, 403)
        assert response.json()["code"] == "not_authenticated"


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


def test_unknown_subject_and_malformed_ids_are_404(owner):
    client = client_for(owner)
    unknown = client.post(f"{API}/sessions/", {"subject": "9f0e5e3c-0000-0000-0000-000000000000"}, format="json")
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert client.get(f"{API}/subjects/12345/").status_code == 404
    assert client.get(f"{API}/subjects/12345/reference-images/").json()["code"] == "not_found"


def test_malformed_json_is_400(owner):
    response = client_for(owner).post(f"{API}/sessions/", "{nope", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"


# --- idempotency and throttling -----------------------------------------------------------


def test_same_idempotency_key_and_body_replays_without_a_second_provider_session(owner, subject, locmem):
    client = client_for(owner)
    headers = {"Idempotency-Key": "abc-1"}
    body = {"subject": str(subject.pk), "verify": False}
    first = client.post(f"{API}/sessions/", body, format="json", headers=headers)
    second = client.post(f"{API}/sessions/", body, format="json", headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert LivenessSession.objects.count() == 1 and len(locmem.calls) == 1
    other = client.post(f"{API}/sessions/", {**body, "verify": True}, format="json", headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    # keys are per user
    assert start(client_for(UserFactory()), SubjectFactory(), verify=False).status_code == 404


def test_idempotency_keys_expire(owner, subject, locmem):
    client = client_for(owner)
    body = {"subject": str(subject.pk), "verify": False}
    client.post(f"{API}/sessions/", body, format="json", headers={"Idempotency-Key": "k"})
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        client.post(f"{API}/sessions/", body, format="json", headers={"Idempotency-Key": "k"})
    assert LivenessSession.objects.count() == 2


def test_upload_with_idempotency_key_stores_one_image(owner, subject):
    client = client_for(owner)
    first = upload(client, subject, **{"Idempotency-Key": "img-1"})
    second = upload(client, subject, **{"Idempotency-Key": "img-1"})
    assert second.json() == first.json() and ReferenceImage.objects.count() == 1
    buffer = io.BytesIO()
    Image.new("RGB", (100, 100)).save(buffer, format="PNG")
    assert upload(client, subject, buffer.getvalue(), **{"Idempotency-Key": "img-1"}).status_code == 422


def test_failed_request_does_not_burn_its_idempotency_key(owner, subject, locmem):
    client = client_for(owner)
    body = {"subject": str(subject.pk), "verify": False}
    locmem.fail_next(ProviderUnavailable("down", status=503))
    assert client.post(f"{API}/sessions/", body, format="json", headers={"Idempotency-Key": "r"}).status_code == 503
    assert client.post(f"{API}/sessions/", body, format="json", headers={"Idempotency-Key": "r"}).status_code == 201
    assert list(LivenessSession.objects.order_by("created_at").values_list("status", flat=True)) == ["failed", "created"]


def test_session_creation_is_throttled_per_subject_with_retry_after(owner, subject, settings, locmem):
    settings.LIVENESS = {**settings.LIVENESS, "THROTTLE_RATES": {"session_create_subject": "2/hour"}}
    client = client_for(owner)
    assert [start(client, subject, verify=False).status_code for _ in range(3)] == [201, 201, 429]
    throttled = start(client, subject, verify=False)
    assert throttled.json()["code"] == "throttled" and int(throttled["Retry-After"]) > 0


def test_uploads_are_throttled_per_user(owner, subject, settings):
    settings.LIVENESS = {**settings.LIVENESS, "THROTTLE_RATES": {"upload_user": "1/minute"}}
    client = client_for(owner)
    assert [upload(client, subject).status_code for _ in range(2)] == [201, 429]


def test_events_never_hold_the_token(owner, subject, locmem):
    token = start(client_for(owner), subject, verify=False).json()["auth_token"]
    assert all(token not in str(event.data) + event.message for event in LivenessEvent.objects.all())
