"""REST API: reference images (upload, read, delete)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from django_liveness.images import sample_face_image
from django_liveness.models import ReferenceImage
from django_liveness.testing import ReferenceImageFactory, SubjectFactory, UserFactory

from .api_support import API, client_for, upload

pytestmark = pytest.mark.django_db


def test_upload_stores_the_image_and_never_returns_a_url(owner, subject):
    response = upload(client_for(owner), subject)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "content_type", "size", "width", "height", "sha256", "is_active", "quality_for_recognition", "warnings", "created_at"}
    assert body["warnings"] == []
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


def test_app_uploads_and_views_images_of_others(app_user, subject):
    client = client_for(app_user)
    uploaded = upload(client, subject)
    assert uploaded.status_code == 201
    image_id = uploaded.json()["id"]
    assert [i["id"] for i in client.get(f"{API}/subjects/{subject.pk}/reference-images/").json()["results"]] == [image_id]
    assert client.get(f"{API}/subjects/{subject.pk}/reference-images/{image_id}/").json()["id"] == image_id
    assert ReferenceImage.objects.get().subject == subject


def test_image_metadata_is_for_the_owner_only(owner, subject):
    image = ReferenceImageFactory(subject=subject)
    path = f"{API}/subjects/{subject.pk}/reference-images/{image.pk}/"
    mine = client_for(owner).get(path)
    assert mine.status_code == 200 and mine.json()["id"] == str(image.pk) and mine.json()["sha256"] == image.sha256
    other = client_for(UserFactory()).get(path)
    assert other.status_code == 404 and other.json()["code"] == "not_found"
