"""REST API: what every request meets first: authentication, bodies, content types, unknown paths."""

import pytest

from django_liveness import services
from django_liveness.models import LivenessSession, ReferenceImage, Subject

from .api_support import API, client_for, upload

pytestmark = pytest.mark.django_db


def test_anonymous_requests_are_refused(subject):
    anonymous = client_for()
    for path in [f"{API}/subjects/", f"{API}/sessions/", f"{API}/subjects/{subject.pk}/reference-images/"]:
        response = anonymous.get(path)
        assert response.status_code in (401, 403)
        assert response.json()["code"] == "not_authenticated"


def test_malformed_json_is_400(owner):
    response = client_for(owner).post(f"{API}/sessions/", "{nope", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"


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


# --- bodies nobody can parse, and input the schema does not allow ----------------------------

# 200 KB that make the JSON parser recurse until it fails, on every Python: 1,000 levels did below
# Python 3.12 only (3.12's parser goes deeper).
NESTED = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("method, path", [("post", "subjects/"), ("post", "sessions/"), ("patch", "subjects/{id}/")])
def test_deeply_nested_json_is_a_json_400(owner, subject, method, path):
    url = f"{API}/{path.format(id=subject.pk)}"
    response = getattr(client_for(owner), method)(url, NESTED, content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert response.json()["code"] == "parse_error"
    assert not LivenessSession.objects.exists() and Subject.objects.count() == 1


def test_an_unknown_schema_format_is_a_json_404(client):
    response = client.get(f"{API}/schema/", {"format": "xml"})
    assert response.status_code == 404 and response.json() == {"detail": "Not found.", "code": "not_found"}
    assert client.get(f"{API}/schema/", {"format": "json"}).json()["openapi"].startswith("3.")


@pytest.mark.parametrize(
    "body, field",
    [({"external_id": 0}, "external_id"), ({"display_name": 12}, "display_name"), ({"user": 1.5}, "user"), ({"user": True}, "user")],
)
def test_values_of_the_wrong_type_are_400_not_converted(app_user, body, field):
    response = client_for(app_user).post(f"{API}/subjects/", body, format="json")
    assert response.status_code == 400 and field in response.json()["fields"]
    assert not Subject.objects.exists()


@pytest.mark.parametrize("query", ["offset=null", "offset=-1", "limit=abc", "limit=0", "offset=1.5"])
def test_bad_paging_parameters_are_400_not_ignored(owner, query):
    for path in ("subjects/", "sessions/"):
        response = client_for(owner).get(f"{API}/{path}?{query}")
        assert response.status_code == 400 and response.json()["code"] == "invalid", (path, query)


def test_the_schema_says_what_the_server_checks():
    from .openapi_docs import served_schema

    schema = served_schema()
    header = next(p for p in schema["paths"]["/api/liveness/sessions/"]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    assert header["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}
    subject = schema["components"]["schemas"]["SubjectRequest"]["properties"]
    assert (subject["external_id"]["type"], subject["user"]["type"]) == ("string", "integer")
