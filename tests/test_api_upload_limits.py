"""The upload's body limit applies while the body streams in: a body past it is a JSON 413 before
the rest of it is read (Django reads an uploaded file whole, to memory or disk, before a view runs)."""

import pytest
from django.core.exceptions import RequestDataTooBig
from django.middleware.csrf import get_token
from django.test import RequestFactory
from rest_framework.test import APIClient

from django_liveness.api.uploads import MAX_BODY_BYTES, BodySizeLimit
from django_liveness.images import sample_face_image
from django_liveness.models import ReferenceImage

from .api_support import API, client_for, upload

pytestmark = pytest.mark.django_db

BOUNDARY = "limitboundary"


class EndlessBody:
    """A request body that would go on for ``declared`` bytes, made only as it is read."""

    def __init__(self, declared):
        self.head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="face.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode() + sample_face_image()
        self.declared, self.read_bytes = declared, 0

    def read(self, size=-1):
        size = self.declared - self.read_bytes if size is None or size < 0 else size
        start = self.read_bytes
        self.read_bytes = min(self.declared, start + size)
        head = self.head[start : self.read_bytes]
        return head + b"\0" * (self.read_bytes - start - len(head))

    def readline(self, size=-1):
        return self.read(min(size, 64 * 1024) if size and size > 0 else 64 * 1024)


def post_endless(client, subject, declared, **headers):
    body = EndlessBody(declared)
    response = client.generic(
        "POST",
        f"{API}/subjects/{subject.pk}/reference-images/",
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        headers=headers,
        CONTENT_LENGTH=str(declared),
        **{"wsgi.input": body},
    )
    return response, body


def assert_413(response):
    assert response.status_code == 413 and response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "The request body is larger than the server accepts.", "code": "request_too_large"}


def test_a_body_declaring_a_gigabyte_is_refused_before_any_of_it_is_read(owner, subject, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    response, body = post_endless(client_for(owner), subject, 1 << 30)
    assert_413(response)
    assert body.read_bytes == 0  # today: the whole gigabyte, to a temporary file, then a 400
    assert not ReferenceImage.objects.exists() and list(tmp_path.rglob("*")) == []


def test_the_limit_holds_for_a_browser_session_whose_csrf_check_reads_the_body_first(owner, subject):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(owner)
    token = get_token(RequestFactory().get("/"))
    client.cookies["csrftoken"] = token
    response, body = post_endless(client, subject, MAX_BODY_BYTES + 1, **{"X-CSRFToken": token})
    assert_413(response)
    assert body.read_bytes == 0


def test_a_real_body_over_the_limit_is_413_and_one_just_under_it_gets_the_image_rules(owner, subject):
    client = client_for(owner)
    assert_413(upload(client, subject, b"\xff\xd8" + bytes(MAX_BODY_BYTES)))
    under = upload(client, subject, b"\xff\xd8" + bytes(6 * 1024 * 1024))  # 6 MB and 2 bytes: the image's own limit
    assert under.status_code == 400 and under.json()["code"] == "too_large"
    assert upload(client, subject).status_code == 201


def test_a_body_sending_more_than_it_declared_stops_at_the_limit():
    """For servers that pass a body without a length: the handler counts what arrives."""
    limit = BodySizeLimit(RequestFactory().post("/"))
    limit.handle_raw_input(None, {}, 0, b"x")
    chunk = bytes(64 * 1024)
    for start in range(0, MAX_BODY_BYTES - len(chunk) + 1, len(chunk)):
        assert limit.receive_data_chunk(chunk, start) is chunk  # passed on to the next handler
    with pytest.raises(RequestDataTooBig):
        limit.receive_data_chunk(chunk, MAX_BODY_BYTES)
