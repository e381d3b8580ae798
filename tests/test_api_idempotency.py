"""REST API: Idempotency-Key replays and rate limits."""

import io
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from PIL import Image

from django_liveness.exceptions import ProviderUnavailable
from django_liveness.models import IdempotencyKey, LivenessSession, ReferenceImage
from django_liveness.testing import ReferenceImageFactory, SubjectFactory, UserFactory

from .api_support import API, client_for, grant, start, upload

pytestmark = pytest.mark.django_db


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
