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


def list_paths(subject):
    return ("subjects/", "sessions/", f"subjects/{subject.pk}/reference-images/")


@pytest.mark.parametrize("query", ["offset=null", "offset=-1", "limit=abc", "limit=0", "limit=-5", "offset=1.5", "offset=", "limit=%EF%BC%95"])
def test_bad_paging_parameters_are_400_not_ignored(owner, subject, query):
    for path in list_paths(subject):
        response = client_for(owner).get(f"{API}/{path}?{query}")
        assert response.status_code == 400 and response.json()["code"] == "invalid", (path, query)
        name = query.split("=")[0]
        assert name in response.json()["fields"]


@pytest.mark.parametrize("offset", [str(2**63), str(2**64), str(10**18 + 1), "9" * 5000])
def test_offsets_past_the_database_range_are_a_json_400(owner, subject, offset):
    """PostgreSQL's bigint and SQLite's integers end at 2**63 - 1: such an offset was an HTML 500."""
    for path in list_paths(subject):
        response = client_for(owner).get(f"{API}/{path}", {"offset": offset, "limit": "200"})
        assert response.status_code == 400, (path, response.content[:200])
        assert response.json() == {
            "detail": "Invalid input.",
            "code": "max_value",
            "fields": {"offset": ["Must be at most 1000000000000000000."]},
        }


def test_the_largest_offset_and_any_limit_answer_a_page(owner, subject, locmem):
    services.start_session(subject, verify=False)
    for path in list_paths(subject):
        far = client_for(owner).get(f"{API}/{path}", {"offset": str(10**18), "limit": str(2**70)})
        assert far.status_code == 200, (path, far.content[:200])
        assert far.json()["results"] == [] and far.json()["next"] is None
    huge_limit = client_for(owner).get(f"{API}/sessions/", {"limit": "9" * 5000, "offset": "0"})
    assert huge_limit.status_code == 200 and len(huge_limit.json()["results"]) == 1
    assert "limit=200" in (client_for(owner).get(f"{API}/sessions/", {"limit": "1000", "offset": "1"}).json()["previous"] or "")


def test_the_schema_says_how_limit_and_offset_are_read():
    from .openapi_docs import served_schema

    paths = served_schema()["paths"]
    for path in ("/api/liveness/subjects/", "/api/liveness/sessions/", "/api/liveness/subjects/{subject_pk}/reference-images/"):
        parameters = {p["name"]: p for p in paths[path]["get"]["parameters"]}
        assert parameters["limit"]["schema"] == {"type": "integer", "minimum": 1}
        assert parameters["offset"]["schema"] == {"type": "integer", "minimum": 0, "maximum": 10**18}


def test_the_schema_says_what_the_server_checks():
    from .openapi_docs import served_schema

    schema = served_schema()
    header = next(p for p in schema["paths"]["/api/liveness/sessions/"]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    assert header["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}
    subject = schema["components"]["schemas"]["SubjectRequest"]["properties"]
    assert (subject["external_id"]["type"], subject["user"]["type"]) == ("string", "integer")


@pytest.mark.parametrize(
    "body",
    [
        b"--B\r\n\xf1\x99\x8b\xaeD6\xf3\xa1\xae--B--\r\n",  # a part with no headers
        b"--B\r\n[False, {}, 2.86e+44]--B--\r\n",
        b'--B\r\nContent-Type: text/plain\r\n\r\n{"display_name": "x"}\r\n--B--\r\n',  # no Content-Disposition
    ],
)
def test_a_multipart_body_with_parts_nobody_can_read_is_400(owner, subject, body):
    """RFC 7578: every part has a Content-Disposition with a name; Django skips the others, which
    made such a body an empty form (a PATCH of it answered 200)."""
    client = client_for(owner)
    for method, path in (("patch", f"subjects/{subject.pk}/"), ("post", "sessions/"), ("post", f"subjects/{subject.pk}/reference-images/")):
        response = getattr(client, method)(f"{API}/{path}", body, content_type="multipart/form-data; boundary=B")
        assert response.status_code == 400, (method, path, response.content)
        assert response.json()["code"] == "parse_error"
    assert not ReferenceImage.objects.exists() and not LivenessSession.objects.exists()


def test_an_empty_multipart_form_is_still_a_form(owner, subject):
    response = client_for(owner).patch(f"{API}/subjects/{subject.pk}/", b"--B--\r\n", content_type="multipart/form-data; boundary=B")
    assert response.status_code == 200 and response.json()["id"] == str(subject.pk)
    named = client_for(owner).patch(
        f"{API}/subjects/{subject.pk}/",
        b'--B\r\nContent-Disposition: form-data; name="display_name"\r\n\r\nAda\r\n--B--\r\n',
        content_type="multipart/form-data; boundary=B",
    )
    assert named.status_code == 200 and named.json()["display_name"] == "Ada"


def test_a_429_always_says_when_to_retry():
    """DRF leaves Retry-After out when a throttle cannot say how long; the schema promises it on every 429."""
    from rest_framework.exceptions import Throttled

    from django_liveness.api.errors import DEFAULT_RETRY_AFTER, error_response

    response = error_response(Throttled(wait=None), {})
    assert response.status_code == 429 and response["Retry-After"] == str(DEFAULT_RETRY_AFTER)
    assert response.data["code"] == "throttled"
    assert error_response(Throttled(wait=12.2), {})["Retry-After"] == "13"
