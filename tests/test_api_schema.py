"""The generated OpenAPI schema, fuzzed with schemathesis: no 5xx, every answer as documented."""

import base64

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

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


@pytest.fixture
def basic_auth(db, keep_test_connection):
    user = UserFactory(username="fuzzer", password="fuzz-password", is_staff=True)
    subject = SubjectFactory(user=user)
    ReferenceImageFactory(subject=subject)
    token = base64.b64encode(b"fuzzer:fuzz-password").decode()
    return {"Authorization": f"Basic {token}"}


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
        "/api/liveness/sessions/{id}/audit/",
    }


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_as_documented(case, basic_auth):
    case.call_and_validate(headers=basic_auth, checks=CHECKS)


def test_auth_token_is_documented_as_optional():
    components = schema.raw_schema["components"]["schemas"]
    for name in ("SessionWithToken", "SessionCreated"):
        assert "auth_token" in components[name]["properties"]
        assert "auth_token" not in components[name]["required"], name
    assert "auth_token" not in components["Session"]["properties"]


def test_errors_that_escaped_the_json_format_are_documented():
    paths = schema.raw_schema["paths"]
    assert {"409", "413", "415", "422", "429"} <= set(paths["/api/liveness/sessions/"]["post"]["responses"])
    assert {"409", "413", "415", "422", "429"} <= set(paths["/api/liveness/subjects/{subject_pk}/reference-images/"]["post"]["responses"])
    assert {"409", "413", "415"} <= set(paths["/api/liveness/subjects/"]["post"]["responses"])
