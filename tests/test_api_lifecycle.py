"""The whole lifecycle over HTTP, in both Face API versions: REST API -> services -> GA client or the
real preview SDK -> emulator, the frontend played by the emulator's client call. No mock of either."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from django_liveness.emulator.client import FrontendCallFailed
from django_liveness.images import sample_face_image
from django_liveness.models import LivenessSession
from django_liveness.testing import UserFactory

from .conftest import API_VERSIONS, as_many_attempts_as_v12

pytestmark = [pytest.mark.django_db, pytest.mark.parametrize("api_version", API_VERSIONS)]
client_attempts = pytest.fixture(name="client_attempts")(as_many_attempts_as_v12)

API = "/api/liveness"


def start_verify_session(client):
    """As an app's page does it: own subject, consent, reference photo, verify session. Returns its JSON."""
    subject = client.post(f"{API}/subjects/", {"display_name": "Ada"}, format="json")
    assert subject.status_code == 201
    subject_id = subject.json()["id"]
    consent = {"policy_version": "2026-01", "text": "I agree.", "purpose": "identity verification"}
    assert client.post(f"{API}/subjects/{subject_id}/consent/", consent, format="json").status_code == 201
    image = SimpleUploadedFile("me.jpg", sample_face_image(), content_type="image/jpeg")
    uploaded = client.post(f"{API}/subjects/{subject_id}/reference-images/", {"image": image})
    assert uploaded.status_code == 201 and uploaded.json()["is_active"]
    created = client.post(f"{API}/sessions/", {"subject": subject_id, "verify": True}, format="json")
    assert created.status_code == 201 and created["Cache-Control"] == "no-store"
    assert (created.json()["kind"], created.json()["status"]) == ("liveness_with_verify", "created")
    return created.json()


@pytest.fixture
def client():
    client = APIClient()
    client.force_authenticate(UserFactory())
    return client


def test_live_person_passes(azure_backend, frontend, client, django_capture_on_commit_callbacks):
    session = start_verify_session(client)
    frontend(session["auth_token"], verify=True, decision="realface")

    with django_capture_on_commit_callbacks(execute=True):  # as when the request's transaction commits
        completed = client.post(f"{API}/sessions/{session['id']}/complete/")

    assert completed.status_code == 200
    body = completed.json()
    assert (body["status"], body["outcome"], body["liveness_decision"]) == ("completed", "passed", "realface")
    assert body["verification"] == {"is_identical": True, "match_confidence": 0.92}
    assert body["error"] is None and "auth_token" not in body
    assert body["attempts"] == [
        {
            "attempt_id": 1,
            "attempt_status": "succeeded",
            "liveness_decision": "realface",
            "verification": {"is_identical": True, "match_confidence": 0.92},
            "error": None,
        }
    ]
    # The answer comes before the work after it: the capture is fetched and the provider's copy
    # deleted once it is sent.
    assert body["pending"] == ["session_image", "remote_deletion"]
    assert client.get(f"{API}/sessions/{session['id']}/").json() == {**body, "pending": []}
    assert LivenessSession.objects.get().remote_deleted_at is not None  # deleted at the provider once read


def test_spoof_fails(azure_backend, frontend, client):
    session = start_verify_session(client)
    frontend(session["auth_token"], verify=True, decision="spoofface")

    body = client.post(f"{API}/sessions/{session['id']}/complete/").json()

    assert (body["status"], body["outcome"], body["liveness_decision"]) == ("completed", "failed", "spoofface")
    assert client.get(f"{API}/sessions/{session['id']}/").json()["outcome"] == "failed"


def test_a_session_whose_attempts_all_failed_ends_failed(azure_backend, frontend, client, api_version):
    session = start_verify_session(client)
    for _ in range(3):
        with pytest.raises(FrontendCallFailed):
            frontend(session["auth_token"], verify=True, error_code="FaceWithMaskDetected")

    body = client.post(f"{API}/sessions/{session['id']}/complete/").json()

    if api_version == "v1.2-preview.1":  # the preview reports no failed attempt: the session waits for its expiry
        assert (body["status"], body["attempts"]) == ("started", [])
        return
    assert (body["status"], body["outcome"]) == ("failed", "")
    assert body["error"] == {"code": "FaceWithMaskDetected", "message": "Mask detected on face image."}
    assert [a["error"]["code"] for a in body["attempts"]] == ["FaceWithMaskDetected"] * 3
