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
from django_liveness.models import IdempotencyKey, LivenessEvent, LivenessSession, ReferenceImage, Subject
from django_liveness.testing import ReferenceImageFactory, SubjectFactory, UserFactory

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


def test_deleting_a_subject_removes_its_images_from_storage(owner, subject, django_capture_on_commit_callbacks):
    image = ReferenceImageFactory(subject=subject)
    name, storage = image.file.name, image.file.storage
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(owner).delete(f"{API}/subjects/{subject.pk}/").status_code == 204
    assert not Subject.objects.exists()
    assert not storage.exists(name)


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
def test_bad_images_are_400_with_the_reason_and_nothing_stored(owner, subject, data, code, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)  # the default storage's folder, empty
    response = upload(client_for(owner), subject, data)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["fields"]["image"]
    assert not ReferenceImage.objects.exists()
    assert list(tmp_path.rglob("*")) == []  # no file written either


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


def test_owner_deletes_an_image(owner, subject, django_capture_on_commit_callbacks):
    image = ReferenceImageFactory(subject=subject)
    name, storage = image.file.name, image.file.storage
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(owner).delete(f"{API}/subjects/{subject.pk}/reference-images/{image.pk}/").status_code == 204
    assert not ReferenceImage.objects.exists()
    assert not storage.exists(name)


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
    # GA keeps no audit entries: the stored attempts stand in for them.
    assert entries[0]["response"]["liveness_decision"] == "realface"


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


def test_subject_and_image_lists_query_count_does_not_grow(app_user, django_assert_max_num_queries):
    subject = SubjectFactory()
    client = client_for(app_user)
    urls = [f"{API}/subjects/", f"{API}/subjects/{subject.pk}/reference-images/"]

    def add_rows(count):
        for _ in range(count):
            SubjectFactory()
            ReferenceImageFactory(subject=subject, is_active=False)

    add_rows(2)
    counts = []
    for url in urls:
        with django_assert_max_num_queries(6) as few:
            assert client.get(url).status_code == 200
        counts.append(len(few.captured_queries))
    add_rows(25)
    for url, count in zip(urls, counts):
        with django_assert_max_num_queries(count):
            assert client.get(url).status_code == 200


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


def test_keys_are_per_user(subject, app_user, locmem):
    other_app = grant(UserFactory(), "view_subject", "add_livenesssession")
    body = {"subject": str(subject.pk), "verify": False}
    headers = {"Idempotency-Key": "same"}
    first = client_for(app_user).post(f"{API}/sessions/", body, format="json", headers=headers)
    second = client_for(other_app).post(f"{API}/sessions/", body, format="json", headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"] and "Idempotent-Replayed" not in second
    assert LivenessSession.objects.count() == 2 and len(locmem.calls) == 2


def test_idempotency_record_holds_no_token(owner, subject, locmem):
    keyed = client_for(owner).post(
        f"{API}/sessions/", {"subject": str(subject.pk), "verify": False}, format="json", headers={"Idempotency-Key": "t"}
    )
    (record,) = IdempotencyKey.objects.all()
    assert keyed.json()["auth_token"] not in str(record.response_body)


def test_replay_after_cancel_shows_the_session_as_it_is_now_without_token(owner, subject, locmem):
    client = client_for(owner)
    body, headers = {"subject": str(subject.pk), "verify": False}, {"Idempotency-Key": "c"}
    first = client.post(f"{API}/sessions/", body, format="json", headers=headers).json()
    assert client.delete(f"{API}/sessions/{first['id']}/").status_code == 204
    replay = client.post(f"{API}/sessions/", body, format="json", headers=headers)
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true" and replay["Cache-Control"] == "no-store"
    assert (replay.json()["id"], replay.json()["status"]) == (first["id"], "canceled")
    assert "auth_token" not in replay.json()
    assert LivenessSession.objects.count() == 1


def test_replay_after_the_token_expired_has_no_token(owner, subject, locmem):
    client = client_for(owner)
    body, headers = {"subject": str(subject.pk), "verify": False}, {"Idempotency-Key": "e"}
    first = client.post(f"{API}/sessions/", body, format="json", headers=headers).json()
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        replay = client.post(f"{API}/sessions/", body, format="json", headers=headers)
    assert replay.status_code == 201 and replay.json()["id"] == first["id"]
    assert "auth_token" not in replay.json()


def test_idempotency_key_still_in_use_is_409(owner, subject, locmem):
    client = client_for(owner)
    body, headers = {"subject": str(subject.pk), "verify": False}, {"Idempotency-Key": "busy"}
    client.post(f"{API}/sessions/", body, format="json", headers=headers)
    IdempotencyKey.objects.update(response_status=None, response_body=None)  # as while the first request runs
    response = client.post(f"{API}/sessions/", body, format="json", headers=headers)
    assert response.status_code == 409 and response.json()["code"] == "idempotency_key_in_use"
    assert LivenessSession.objects.count() == 1


# --- subjects: conflicts and what an app may see --------------------------------------------


@pytest.mark.parametrize("method", ["patch", "put"])
def test_changing_external_id_to_one_in_use_is_400_unique(app_user, method):
    SubjectFactory(external_id="crm-1")
    subject = SubjectFactory(external_id="crm-2", display_name="Before")
    response = getattr(client_for(app_user), method)(
        f"{API}/subjects/{subject.pk}/", {"external_id": "crm-1", "display_name": "x"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "unique" and "external_id" in response.json()["fields"]
    subject.refresh_from_db()
    assert (subject.external_id, subject.display_name) == ("crm-2", "Before")  # nothing applied


def test_linking_a_user_who_already_has_a_subject_is_400_unique(app_user, subject, owner):
    other = SubjectFactory()
    response = client_for(app_user).patch(f"{API}/subjects/{other.pk}/", {"user": owner.pk}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "unique"
    other.refresh_from_db()
    assert other.user is None


def test_app_that_may_not_view_gets_409_for_an_existing_subject():
    creator = grant(UserFactory(), "add_subject")
    existing = SubjectFactory(external_id="crm-9", user=UserFactory())
    client = client_for(creator)
    for body in ({"external_id": "crm-9"}, {"user": existing.user.pk}):
        response = client.post(f"{API}/subjects/", body, format="json")
        assert response.status_code == 409
        assert response.json() == {"detail": response.json()["detail"], "code": "subject_exists"}
    assert Subject.objects.count() == 1


def test_app_posting_a_user_who_has_a_subject_gets_that_subject(app_user, owner, subject):
    response = client_for(app_user).post(f"{API}/subjects/", {"user": owner.pk}, format="json")
    assert response.status_code == 200 and response.json()["id"] == str(subject.pk)
    assert Subject.objects.count() == 1


def test_staff_posting_their_own_user_gets_their_one_subject(app_user):
    staff = grant(UserFactory(is_staff=True), "add_subject", "view_subject")
    client = client_for(staff)
    first = client.post(f"{API}/subjects/", {"user": staff.pk}, format="json")
    again = client.post(f"{API}/subjects/", {"user": staff.pk}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and first.json()["user"] == staff.pk
    assert Subject.objects.filter(user=staff).count() == 1


def test_app_posting_a_new_external_id_for_a_user_with_a_subject_is_400(app_user, owner, subject):
    response = client_for(app_user).post(f"{API}/subjects/", {"user": owner.pk, "external_id": "new-1"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "unique" and "user" in response.json()["fields"]
    assert Subject.objects.count() == 1


# --- permission matrix --------------------------------------------------------------------


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


def test_app_uploads_and_views_images_of_others(app_user, subject):
    client = client_for(app_user)
    uploaded = upload(client, subject)
    assert uploaded.status_code == 201
    image_id = uploaded.json()["id"]
    assert [i["id"] for i in client.get(f"{API}/subjects/{subject.pk}/reference-images/").json()["results"]] == [image_id]
    assert client.get(f"{API}/subjects/{subject.pk}/reference-images/{image_id}/").json()["id"] == image_id
    assert ReferenceImage.objects.get().subject == subject


def test_app_updates_and_deletes_subjects_with_the_permissions(app_user, subject, owner):
    client = client_for(app_user)
    changes = {"display_name": "Renamed", "external_id": "crm-5"}
    response = client.patch(f"{API}/subjects/{subject.pk}/", changes, format="json")
    assert response.status_code == 200
    subject.refresh_from_db()
    assert (subject.display_name, subject.external_id, subject.user) == ("Renamed", "crm-5", owner)
    assert client.delete(f"{API}/subjects/{subject.pk}/").status_code == 403
    assert client_for(grant(app_user, "delete_subject")).delete(f"{API}/subjects/{subject.pk}/").status_code == 204
    assert not Subject.objects.exists()


def test_image_metadata_is_for_the_owner_only(owner, subject):
    image = ReferenceImageFactory(subject=subject)
    path = f"{API}/subjects/{subject.pk}/reference-images/{image.pk}/"
    mine = client_for(owner).get(path)
    assert mine.status_code == 200 and mine.json()["id"] == str(image.pk) and mine.json()["sha256"] == image.sha256
    other = client_for(UserFactory()).get(path)
    assert other.status_code == 404 and other.json()["code"] == "not_found"


def test_other_user_cannot_delete_images_erase_or_consent(subject):
    image = ReferenceImageFactory(subject=subject)
    stranger = client_for(UserFactory())
    consent = {"policy_version": "1", "text": "yes", "purpose": "x"}
    assert stranger.delete(f"{API}/subjects/{subject.pk}/reference-images/{image.pk}/").status_code == 404
    assert stranger.post(f"{API}/subjects/{subject.pk}/erase/").status_code == 404
    assert stranger.post(f"{API}/subjects/{subject.pk}/consent/", consent, format="json").status_code == 404
    assert stranger.delete(f"{API}/subjects/{subject.pk}/consent/").status_code == 404
    subject.refresh_from_db()
    assert ReferenceImage.objects.count() == 1 and subject.erased_at is None
    assert subject.consents.filter(withdrawn_at__isnull=True).count() == 1


def test_anonymous_posts_are_refused_and_change_nothing(subject, locmem):
    session = services.start_session(subject, verify=False)
    anonymous = client_for()
    for path, body in [
        (f"{API}/subjects/", {}),
        (f"{API}/sessions/", {"subject": str(subject.pk)}),
        (f"{API}/sessions/{session.pk}/complete/", {}),
        (f"{API}/subjects/{subject.pk}/consent/", {"policy_version": "1", "text": "t", "purpose": "p"}),
        (f"{API}/subjects/{subject.pk}/erase/", {}),
    ]:
        response = anonymous.post(path, body, format="json")
        assert response.status_code in (401, 403) and response.json()["code"] == "not_authenticated", path
    response = upload(anonymous, subject)
    assert response.status_code in (401, 403) and response.json()["code"] == "not_authenticated"
    assert (Subject.objects.count(), LivenessSession.objects.count(), ReferenceImage.objects.count()) == (1, 1, 0)
    assert [c[0] for c in locmem.calls] == ["create_session"]


def test_staff_with_view_permission_reads_audit(subject, locmem):
    session = services.start_session(subject, verify=False)
    locmem.complete(session)
    services.refresh_session(session)
    staff = grant(UserFactory(is_staff=True), "view_livenesssession")
    response = client_for(staff).get(f"{API}/sessions/{session.pk}/audit/")
    assert response.status_code == 200 and response.json()[0]["session_id"] == session.provider_session_id
    assert client_for(UserFactory(is_staff=True)).get(f"{API}/sessions/{session.pk}/audit/").status_code == 404


# --- throttling ---------------------------------------------------------------------------


def test_session_creation_is_throttled_per_user(owner, subject, settings, locmem):
    settings.LIVENESS = {**settings.LIVENESS, "THROTTLE_RATES": {"session_create_user": "1/minute"}}
    client = client_for(owner)
    assert [start(client, subject, verify=False).status_code for _ in range(2)] == [201, 429]
    assert LivenessSession.objects.count() == 1


def test_uploads_are_throttled_per_subject_whoever_uploads(owner, subject, app_user, settings):
    settings.LIVENESS = {**settings.LIVENESS, "THROTTLE_RATES": {"upload_subject": "1/hour"}}
    assert upload(client_for(owner), subject).status_code == 201
    throttled = upload(client_for(app_user), subject)
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    assert ReferenceImage.objects.count() == 1


def test_subject_throttle_ignores_the_case_of_the_id(owner, subject, settings, locmem):
    settings.LIVENESS = {**settings.LIVENESS, "THROTTLE_RATES": {"session_create_subject": "2/hour"}}
    client = client_for(owner)
    ids = [str(subject.pk), str(subject.pk).upper(), str(subject.pk).upper()]
    responses = [client.post(f"{API}/sessions/", {"subject": pk, "verify": False}, format="json") for pk in ids]
    assert [r.status_code for r in responses] == [201, 201, 429]


def test_others_cannot_use_up_a_subjects_quota(owner, subject, settings, locmem):
    settings.LIVENESS = {
        **settings.LIVENESS,
        "THROTTLE_RATES": {"session_create_subject": "2/hour", "upload_subject": "1/hour"},
    }
    stranger = client_for(UserFactory())
    for _ in range(3):
        assert start(stranger, subject, verify=False).status_code == 404
        assert upload(stranger, subject).status_code == 404
    client = client_for(owner)
    assert [start(client, subject, verify=False).status_code for _ in range(2)] == [201, 201]
    assert upload(client, subject).status_code == 201


def test_create_with_provider_throttling_is_503_with_its_retry_after(owner, subject, locmem):
    locmem.fail_next(Throttled("Rate limit is exceeded.", status=429, retry_after=9))
    response = start(client_for(owner), subject, verify=False)
    assert response.status_code == 503 and response["Retry-After"] == "9"
    assert response.json()["code"] == "provider_throttled" and "auth_token" not in response.json()


# --- read-only fields and stray input -----------------------------------------------------


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


def test_body_over_the_size_limit_is_413_json(owner, subject, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = client_for(owner)
    body = {"subject": str(subject.pk), "device_correlation_id": "x" * 2000}
    as_json = client.post(f"{API}/sessions/", body, format="json")
    as_form = client.post(f"{API}/sessions/", body)
    for response in (as_json, as_form):
        assert response.status_code == 413 and response["Content-Type"] == "application/json"
        assert response.json()["code"] == "request_too_large"
    assert not LivenessSession.objects.exists()


def test_too_many_fields_is_400_json(owner, subject, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    fields = {f"f{n}": "x" for n in range(10)}
    response = client_for(owner).post(f"{API}/sessions/", {"subject": str(subject.pk), **fields})
    assert response.status_code == 400 and response.json()["code"] == "too_many_fields"


def test_unknown_paths_under_the_api_are_json_404(owner, subject, locmem):
    session = services.start_session(subject, verify=False)
    client = client_for(owner)
    for path in [f"{API}/sessions/{session.pk}/nope/", f"{API}/subjects/{subject.pk}/nope/x/", f"{API}/sessions/a/b/c/"]:
        response = client.get(path)
        assert response.status_code == 404 and response["Content-Type"] == "application/json", path
        assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert client_for().post(f"{API}/sessions/{session.pk}/nope/").json()["code"] == "not_found"


def test_wrong_content_type_on_post_is_415(owner, subject):
    response = client_for(owner).post(f"{API}/sessions/", "subject=x", content_type="text/plain")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


# --- replays for apps that may create but not view ------------------------------------------


@pytest.fixture
def creating_app():
    """An integration that may create sessions and upload images for any subject, but not list or read them."""
    return grant(UserFactory(), "view_subject", "add_livenesssession", "add_referenceimage")


def test_a_create_only_app_gets_its_replayed_session(creating_app, locmem):
    subject = SubjectFactory()
    ReferenceImageFactory(subject=subject)
    client = client_for(creating_app)
    first = client.post(f"{API}/sessions/", {"subject": str(subject.pk), "verify": True}, format="json", headers={"Idempotency-Key": "k1"})
    again = client.post(f"{API}/sessions/", {"subject": str(subject.pk), "verify": True}, format="json", headers={"Idempotency-Key": "k1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert again.json()["auth_token"] == first.json()["auth_token"]  # its starter, token still valid
    assert [call[0] for call in locmem.calls] == ["create_verify_session"]


def test_a_create_only_app_gets_its_replayed_upload(creating_app):
    subject = SubjectFactory()
    client = client_for(creating_app)
    first = upload(client, subject, **{"Idempotency-Key": "u1"})
    again = upload(client, subject, **{"Idempotency-Key": "u1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert ReferenceImage.objects.count() == 1


def test_a_replay_does_not_count_against_the_user_rate_limit(owner, subject, locmem, settings):
    rates = {**settings.LIVENESS.get("THROTTLE_RATES", {}), "session_create_user": "1/hour"}
    settings.LIVENESS = {**settings.LIVENESS, "THROTTLE_RATES": rates}
    client = client_for(owner)
    body = {"subject": str(subject.pk), "verify": False}
    assert client.post(f"{API}/sessions/", body, format="json", headers={"Idempotency-Key": "a"}).status_code == 201
    assert client.post(f"{API}/sessions/", body, format="json", headers={"Idempotency-Key": "a"}).status_code == 201
    limited = client.post(f"{API}/sessions/", body, format="json", headers={"Idempotency-Key": "b"})
    assert limited.status_code == 429 and limited["Retry-After"]


def test_an_external_id_linked_to_another_user_is_400_not_a_silent_mismatch(app_user):
    linked = SubjectFactory(external_id="crm-9", user=UserFactory())
    someone_else = UserFactory()
    response = client_for(app_user).post(f"{API}/subjects/", {"external_id": "crm-9", "user": someone_else.pk}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "unique"
    linked.refresh_from_db()
    assert linked.user_id != someone_else.pk
