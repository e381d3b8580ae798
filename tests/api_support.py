"""What the REST API tests share: clients, permissions and requests (the users and subjects they act
as and on are fixtures in conftest.py: ``owner``, ``subject``, ``app_user``)."""

from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from django_liveness.images import sample_face_image

API = "/api/liveness"


def client_for(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def grant(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="django_liveness", codename__in=codenames))
    return type(user).objects.get(pk=user.pk)  # fresh permission cache


def upload(client, subject, data=None, name="face.jpg", **headers):
    image = SimpleUploadedFile(name, data if data is not None else sample_face_image(), content_type="image/jpeg")
    return client.post(f"{API}/subjects/{subject.pk}/reference-images/", {"image": image}, headers=headers)


def start(client, subject, verify=True, **extra):
    return client.post(f"{API}/sessions/", {"subject": str(subject.pk), "verify": verify, **extra}, format="json")


def assert_private_jpeg(response):
    """A permission-checked image view's answer: 200, a JPEG streamed with private, no-store caching."""
    assert response.status_code == 200
    directives = {d.strip() for d in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives and "public" not in directives
    assert response["Content-Type"] == "image/jpeg" and response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
