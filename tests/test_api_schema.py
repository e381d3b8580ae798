"""The generated OpenAPI schema, fuzzed with schemathesis against real objects, as an owner and as an app:
no 5xx, every answer as documented."""

import base64
from types import SimpleNamespace

import pytest
import schemathesis
from django.contrib.auth.models import Permission
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from django_liveness import services
from django_liveness.images import sample_face_image
from django_liveness.models import Subject
from django_liveness.testing import ReferenceImageFactory, SubjectFactory, UserFactory

schema = schemathesis.openapi.from_wsgi("/api/liveness/schema/?format=json", get_wsgi_application())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def keep_test_connection():
    """Like Django's test client: requests must not close the test transaction's connection."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(params=["owner", "app"])
def caller(request, db, keep_test_connection):
    """Basic-auth headers and a factory of real objects: an ordinary user acting on their own subject,
    or an app (every django_liveness permission, not staff) acting on someone else's."""
    user = UserFactory(username="fuzzer", password="fuzz-password")
    if request.param == "app":
        user.user_permissions.add(*Permission.objects.filter(content_type__app_label="django_liveness"))
    owner = user if request.param == "owner" else UserFactory()
    token = base64.b64encode(b"fuzzer:fuzz-password").decode()
    return SimpleNamespace(
        role=request.param, owner=owner, headers={"Authorization": f"Basic {token}"}, fresh_ids=lambda: fresh_ids(owner)
    )


def fresh_ids(owner):
    """A new subject of ``owner`` with consent, an active reference image and an open session."""
    Subject.objects.filter(user=owner).delete()  # one subject per user; the last example may have erased it
    subject = SubjectFactory(user=owner)
    image = ReferenceImageFactory(subject=subject)
    session = services.start_session(subject, verify=True, started_by=owner)
    return {"subject": str(subject.pk), "image": str(image.pk), "session": str(session.pk)}


def path_parameters(path, ids):
    """Real ids for the operation's path parameters, so that answers come from real objects, not 404s."""
    if "{subject_pk}" in path:
        return {"subject_pk": ids["subject"], "id": ids["image"]} if "{id}" in path else {"subject_pk": ids["subject"]}
    if "{id}" in path:
        return {"id": ids["subject"] if "/subjects/" in path else ids["session"]}
    return {}


def test_schema_describes_every_endpoint():
    paths = set(schema.raw_schema["paths"])
    assert paths == {
        "/api/liveness/subjects/",
        "/api/liveness/subjects/{id}/",
        "/api/liveness/subjects/{id}/consent/",
        "/api/liveness/subjects/{id}/erase/",
        "/api/liveness/subjects/{subject_pk}/reference-images/",
        "/api/liveness/subjects/{subject_pk}/reference-images/{id}/",
        "/api/liveness/sessions/",
        "/api/liveness/sessions/{id}/",
        "/api/liveness/sessions/{id}/complete/",
        "/api/liveness/sessions/{id}/client-events/",
        "/api/liveness/sessions/{id}/audit/",
    }


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_as_documented(case, caller):
    ids = caller.fresh_ids()
    case.path_parameters = path_parameters(case.path, ids)
    if isinstance(case.body, dict) and "subject" in case.body:
        case.body["subject"] = ids["subject"]
    case.call_and_validate(headers=caller.headers, checks=CHECKS)


CONSENT = {"policy_version": "2026-01", "text": "I agree.", "purpose": "identity verification"}
VALID_REQUESTS = [
    # (method, path, body, media type, expected status: one, or {role: status})
    ("GET", "/api/liveness/subjects/", None, None, 200),
    ("POST", "/api/liveness/subjects/", "owner", "application/json", 200),  # the owner's existing subject
    ("GET", "/api/liveness/subjects/{id}/", None, None, 200),
    ("PATCH", "/api/liveness/subjects/{id}/", {"display_name": "Bo"}, "application/json", 200),
    ("PUT", "/api/liveness/subjects/{id}/", {"display_name": "Cy"}, "application/json", 200),
    ("GET", "/api/liveness/subjects/{id}/consent/", None, None, 200),
    ("POST", "/api/liveness/subjects/{id}/consent/", CONSENT, "application/json", 201),
    ("DELETE", "/api/liveness/subjects/{id}/consent/", None, None, 204),
    ("POST", "/api/liveness/subjects/{id}/erase/", None, None, 200),
    # The subject has a session: it is erased, never deleted (its sessions are the audit trail).
    ("DELETE", "/api/liveness/subjects/{id}/", None, None, 409),
    ("GET", "/api/liveness/subjects/{subject_pk}/reference-images/", None, None, 200),
    ("POST", "/api/liveness/subjects/{subject_pk}/reference-images/", "image", "multipart/form-data", 201),
    ("GET", "/api/liveness/subjects/{subject_pk}/reference-images/{id}/", None, None, 200),
    ("DELETE", "/api/liveness/subjects/{subject_pk}/reference-images/{id}/", None, None, 204),
    ("GET", "/api/liveness/sessions/", None, None, 200),
    ("POST", "/api/liveness/sessions/", "session", "application/json", 201),
    ("GET", "/api/liveness/sessions/{id}/", None, None, 200),
    ("POST", "/api/liveness/sessions/{id}/complete/", None, None, 200),
    ("GET", "/api/liveness/sessions/{id}/audit/", None, None, {"owner": 403, "app": 200}),
    ("DELETE", "/api/liveness/sessions/{id}/", None, None, 204),
]


@pytest.mark.parametrize("method, path, body, media_type, expected", VALID_REQUESTS)
def test_valid_requests_succeed_as_documented(caller, method, path, body, media_type, expected):
    """What the fuzzer rarely finds: a valid request for every operation, answered as the schema says."""
    ids = caller.fresh_ids()
    if body == "image":
        body = {"image": sample_face_image()}
    elif body == "session":
        body = {"subject": ids["subject"], "verify": True}
    elif body == "owner":
        body = {"user": caller.owner.pk}
    with_body = {"body": body, "media_type": media_type} if body is not None else {}
    case = schema[path][method].Case(path_parameters=path_parameters(path, ids), **with_body)
    response = case.call_and_validate(headers=caller.headers, checks=CHECKS)
    assert response.status_code == (expected[caller.role] if isinstance(expected, dict) else expected), response.text


def test_auth_token_is_documented_as_optional():
    components = schema.raw_schema["components"]["schemas"]
    for name in ("SessionWithToken", "SessionCreated"):
        assert "auth_token" in components[name]["properties"]
        assert "auth_token" not in components[name]["required"], name
    assert "auth_token" not in components["Session"]["properties"]


def test_errors_that_escaped_the_json_format_are_documented():
    def documented(path):
        return set(schema.raw_schema["paths"][f"/api/liveness/{path}"]["post"]["responses"])

    assert {"409", "413", "415", "422", "429"} <= documented("sessions/")
    assert {"409", "413", "415", "422", "429"} <= documented("subjects/{subject_pk}/reference-images/")
    assert {"409", "413", "415"} <= documented("subjects/")


def test_the_reference_in_docs_is_the_schema_the_api_serves():
    """docs/openapi.json and docs/api-reference.md are regenerated with `make schema`."""
    import json

    from .openapi_docs import REFERENCE_FILE, SCHEMA_FILE, render_reference, served_schema

    schema = served_schema()
    assert json.loads(SCHEMA_FILE.read_text()) == schema, "docs/openapi.json is out of date: run `make schema`"
    assert REFERENCE_FILE.read_text() == render_reference(schema), "docs/api-reference.md is out of date: run `make schema`"


def test_every_429_and_503_says_when_to_retry_and_every_refusal_is_documented():
    paths = schema.raw_schema["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status in {"429", "503"} & set(operation.get("responses", {})):
                header = operation["responses"][status].get("headers", {}).get("Retry-After")
                assert header and header["schema"] == {"type": "integer"}, (method, path, status)
                # Required, but for the upload's storage_misconfigured 503: a configuration error no wait cures.
                upload_503 = (method, status) == ("post", "503") and path.endswith("/reference-images/")
                assert header.get("required", False) is not upload_503, (method, path, status)
    assert "409" in paths["/api/liveness/subjects/{id}/"]["delete"]["responses"]
    assert "409" in paths["/api/liveness/sessions/{id}/"]["delete"]["responses"]
    for path in ("sessions/", "subjects/{subject_pk}/reference-images/"):
        responses = paths[f"/api/liveness/{path}"]["post"]["responses"]
        assert {"200", "201", "400", "409", "422", "429", "503"} <= set(responses), path  # 200: an Idempotency-Key replay
    create = schema.raw_schema["components"]["schemas"]["SessionCreateRequest"]
    assert create["not"]["required"] == ["device_correlation_id", "device_correlation_id_set_in_client"]
