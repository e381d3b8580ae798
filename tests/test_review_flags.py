"""What sends a decision or a photo to a person (issue: review evidence and abuse controls): the
grey zone around the verify threshold, a reference photo the service rated low, and the same photo
on two subjects; through the REST API with LocMemBackend."""

import pytest
from django.urls import reverse

from django_liveness.backends import get_backend
from django_liveness.images import sample_face_image
from django_liveness.models import LivenessEvent, LivenessSession, ReferenceImage
from django_liveness.testing import SubjectFactory, UserFactory

from .api_support import API, client_for, start, upload

pytestmark = pytest.mark.django_db


def verify_with_confidence(owner, subject, locmem, confidence):
    assert upload(client_for(owner), subject).status_code == 201
    session_id = start(client_for(owner), subject).json()["id"]
    locmem.complete(LivenessSession.objects.get(pk=session_id), same_person=True, match_confidence=confidence)
    return client_for(owner).post(f"{API}/sessions/{session_id}/complete/").json()


@pytest.mark.parametrize(
    "confidence, outcome",
    [(0.54, "failed"), (0.56, "needs_review"), (0.6, "needs_review"), (0.64, "needs_review"), (0.66, "passed")],
)
def test_a_match_confidence_near_the_threshold_goes_to_review(owner, subject, locmem, confidence, outcome):
    session = verify_with_confidence(owner, subject, locmem, confidence)
    assert session["outcome"] == outcome
    if outcome == "needs_review":
        assert LivenessSession.objects.get(pk=session["id"]).review_status == "pending"


def test_a_zero_band_decides_by_the_threshold_alone(owner, subject, settings):
    settings.LIVENESS = {**settings.LIVENESS, "VERIFY_REVIEW_BAND": 0}
    assert verify_with_confidence(owner, subject, get_backend(), 0.61)["outcome"] == "passed"  # the new settings' backend


def small_photo_upload(owner, subject):
    # The emulator rates a photo whose short side is under 200 px "low" for recognition.
    return upload(client_for(owner), subject, data=sample_face_image(width=120, height=160))


def test_a_low_quality_reference_is_flagged_once_the_service_rated_it(owner, subject, locmem):
    image_id = small_photo_upload(owner, subject).json()["id"]
    assert start(client_for(owner), subject).status_code == 201  # the service rates it here
    image = client_for(owner).get(f"{API}/subjects/{subject.pk}/reference-images/{image_id}/").json()
    assert (image["quality_for_recognition"], image["warnings"]) == ("low", ["low_quality"])
    assert LivenessEvent.objects.filter(kind="low_quality_reference", subject=subject).count() == 1
    start(client_for(owner), subject)
    assert LivenessEvent.objects.filter(kind="low_quality_reference").count() == 1  # flagged once


def test_required_quality_refuses_verify_sessions_with_a_low_reference(owner, subject, settings):
    settings.LIVENESS = {**settings.LIVENESS, "REQUIRE_REFERENCE_QUALITY": True}
    locmem = get_backend()  # the new settings' backend
    small_photo_upload(owner, subject)
    first = start(client_for(owner), subject)  # rated while the provider created it: canceled there
    assert first.status_code == 400 and first.json()["code"] == "reference_quality_low"
    assert list(LivenessSession.objects.values_list("status", flat=True)) == ["canceled"]
    assert [call[0] for call in locmem.calls] == ["create_verify_session", "delete_session"]
    again = start(client_for(owner), subject)  # known now: refused before any provider call
    assert again.status_code == 400 and again.json()["code"] == "reference_quality_low"
    assert LivenessSession.objects.count() == 1 and len(locmem.calls) == 2
    assert start(client_for(owner), subject, verify=False).status_code == 201  # liveness alone needs no photo


def test_the_same_photo_on_two_subjects_is_flagged(owner, subject, locmem):
    other_owner = UserFactory()
    other = SubjectFactory(user=other_owner)
    photo = sample_face_image(width=500, height=600)
    assert upload(client_for(owner), subject, data=photo).json()["warnings"] == []
    second = upload(client_for(other_owner), other, data=photo).json()
    assert second["warnings"] == ["duplicate_photo"]
    event = LivenessEvent.objects.get(kind="duplicate_reference")
    assert event.subject == other and event.data["other_subjects"] == [str(subject.pk)]
    # Both subjects' images now read as duplicates; another photo does not.
    listed = client_for(owner).get(f"{API}/subjects/{subject.pk}/reference-images/").json()["results"]
    assert [item["warnings"] for item in listed] == [["duplicate_photo"]]
    assert upload(client_for(owner), subject, data=sample_face_image(width=510, height=600)).json()["warnings"] == []


def test_the_admin_filters_duplicate_photos(owner, subject, admin_client):
    photo = sample_face_image(width=500, height=600)
    other_owner = UserFactory()
    upload(client_for(owner), subject, data=photo)
    upload(client_for(other_owner), SubjectFactory(user=other_owner), data=photo)
    third_owner = UserFactory()
    upload(client_for(third_owner), SubjectFactory(user=third_owner), data=sample_face_image(width=520, height=600))
    page = admin_client.get(reverse("admin:django_liveness_referenceimage_changelist"), {"duplicate": "yes"})
    assert page.status_code == 200
    shown = list(page.context["cl"].result_list)
    assert len(shown) == 2 and {image.sha256 for image in shown} == {ReferenceImage.objects.get(subject=subject).sha256}
    assert "Same photo on another subject" in page.content.decode()
