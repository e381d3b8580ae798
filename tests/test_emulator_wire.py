"""The real azure-ai-vision-face SDK, unmodified, against the emulator over loopback HTTP.

Every answer the emulator gives in these tests is validated against the Face API's OpenAPI
description by the ``emulator_server`` fixture.
"""

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from azure.ai.vision.face import FaceSessionClient
from azure.ai.vision.face.models import CreateLivenessSessionContent, CreateLivenessWithVerifySessionContent
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError, ServiceResponseError

from django_liveness.emulator.client import FrontendCallFailed, encode_multipart
from django_liveness.emulator.client import play_frontend as play_any_version
from django_liveness.images import sample_face_image

from .emulator_http import http
from .openapi import spec_dir

# These tests drive the preview through its SDK; test_emulator_ga.py covers GA.
play_frontend = partial(play_any_version, api_version="v1.2-preview.1")


@pytest.fixture
def client(emulator_server):
    client = FaceSessionClient(
        endpoint=emulator_server.endpoint,
        credential=AzureKeyCredential(emulator_server.key),
        retry_backoff_factor=0.01,
        retry_backoff_max=1,
    )
    yield client
    client.close()


def liveness_content(**extra):
    return CreateLivenessSessionContent(liveness_operation_mode="Passive", device_correlation_id="device-1", **extra)


def verify_content(**extra):
    return CreateLivenessWithVerifySessionContent(liveness_operation_mode="Passive", device_correlation_id="device-1", **extra)


def test_liveness_session_lifecycle_with_every_sdk_method(client, emulator_server):
    created = client.create_liveness_session(liveness_content(auth_token_time_to_live_in_seconds=120))
    assert created.session_id and created.auth_token

    before = client.get_liveness_session_result(created.session_id)
    assert (before.status, before.session_expired, before.result) == ("NotStarted", False, None)
    assert before.auth_token_time_to_live_in_seconds == 120

    # Without sendResultsToClient the frontend gets 204 and no result.
    assert play_frontend(emulator_server.endpoint, created.auth_token, verify=False) is None

    after = client.get_liveness_session_result(created.session_id)
    assert after.status == "ResultAvailable"
    assert after.result.response.body.liveness_decision == "realface"
    assert after.result.response.body.target.face_rectangle.width == 240
    assert after.result.response.status_code == 204
    assert after.session_start_date_time is not None

    (entry,) = client.get_liveness_session_audit_entries(created.session_id)
    assert entry.id == after.result.id and entry.digest == after.result.digest
    # As the service records it (see its audit examples): no mount prefix, lower case.
    assert entry.request.url == "/face/v1.2-preview.1/detectliveness/singlemodal"

    listed = client.get_liveness_sessions()
    assert [item.id for item in listed] == [created.session_id]
    assert listed[0].device_correlation_id == "device-1"

    client.delete_liveness_session(created.session_id)
    with pytest.raises(ResourceNotFoundError) as caught:
        client.get_liveness_session_result(created.session_id)
    assert caught.value.error.code == "SessionNotFound"
    assert emulator_server.recording.validate_all() >= 7


@pytest.mark.parametrize(
    "choice, decision, identical, confidence",
    [
        ({}, "realface", True, 0.92),
        ({"decision": "spoofface"}, "spoofface", True, 0.92),
        ({"decision": "uncertain"}, "uncertain", True, 0.92),
        ({"same_person": False}, "realface", False, 0.12),
        ({"match_confidence": 0.42}, "realface", False, 0.42),
    ],
)
def test_verify_session_outcomes_chosen_by_the_frontend(client, emulator_server, choice, decision, identical, confidence):
    created = client.create_liveness_with_verify_session(verify_content(), verify_image=sample_face_image())
    assert created.verify_image.quality_for_recognition == "high"
    play_frontend(emulator_server.endpoint, created.auth_token, verify=True, **choice)

    result = client.get_liveness_with_verify_session_result(created.session_id)
    body = result.result.response.body
    assert (body.liveness_decision, body.verify_result.is_identical, body.verify_result.match_confidence) == (
        decision,
        identical,
        confidence,
    )
    assert body.verify_result.verify_image.face_rectangle.top == 200
    (entry,) = client.get_liveness_with_verify_session_audit_entries(created.session_id)
    assert entry.response.body.verify_result.is_identical is identical
    assert [item.id for item in client.get_liveness_with_verify_sessions()] == [created.session_id]
    client.delete_liveness_with_verify_session(created.session_id)
    with pytest.raises(ResourceNotFoundError):
        client.get_liveness_with_verify_session_result(created.session_id)


def test_send_results_to_client_gives_the_frontend_the_result(client, emulator_server):
    created = client.create_liveness_with_verify_session(
        verify_content(send_results_to_client=True), verify_image=sample_face_image()
    )
    answer = play_frontend(emulator_server.endpoint, created.auth_token, verify=True, decision="spoofface")
    assert answer["livenessDecision"] == "spoofface" and answer["verifyResult"]["isIdentical"] is True
    (entry,) = client.get_liveness_with_verify_session_audit_entries(created.session_id)
    assert entry.response.status_code == 200
    assert entry.request.url == "/face/v1.2-preview.1/detectlivenesswithverify/singlemodal"
    exchange = emulator_server.recording.exchanges[-2]  # the frontend's call
    assert json.loads(exchange[5])["livenessDecision"] == "spoofface"
    assert exchange[4]["apim-request-id"] == entry.request_id  # the spec ties the two together


@pytest.mark.parametrize("verify", [False, True], ids=["liveness", "verify"])
def test_session_image_is_served_when_enabled(client, emulator_server, verify):
    if verify:
        created = client.create_liveness_with_verify_session(
            verify_content(enable_session_image=True), verify_image=sample_face_image()
        )
    else:
        created = client.create_liveness_session(liveness_content(enable_session_image=True))
    play_frontend(emulator_server.endpoint, created.auth_token, verify=verify)
    get_result = client.get_liveness_with_verify_session_result if verify else client.get_liveness_session_result
    image_id = get_result(created.session_id).result.session_image_id
    assert b"".join(client.get_session_image(image_id)) == sample_face_image()
    with pytest.raises(ResourceNotFoundError):
        b"".join(client.get_session_image("00000000-0000-0000-0000-000000000000"))


@pytest.mark.parametrize("verify", [False, True], ids=["liveness", "verify"])
def test_session_list_and_audit_entries_page_with_start_and_top(client, emulator_server, verify):
    if verify:
        create = partial(client.create_liveness_with_verify_session, verify_content(), verify_image=None)
        list_sessions = client.get_liveness_with_verify_sessions
        audit = client.get_liveness_with_verify_session_audit_entries
    else:
        create = partial(client.create_liveness_session, liveness_content())
        list_sessions, audit = client.get_liveness_sessions, client.get_liveness_session_audit_entries
    created = [create() for _ in range(3)]
    ids = sorted(session.session_id for session in created)
    first = list_sessions(top=2)
    rest = list_sessions(start=first[-1].id, top=2)
    assert ([item.id for item in first], [item.id for item in rest]) == (ids[:2], ids[2:])

    token = created[0].auth_token
    play_frontend(emulator_server.endpoint, token, verify=verify, finish=False)
    play_frontend(emulator_server.endpoint, token, verify=verify, finish=False)
    play_frontend(emulator_server.endpoint, token, verify=verify)
    session_id = created[0].session_id
    entries = audit(session_id)
    assert len(entries) == 3
    page = audit(session_id, start=str(entries[0].id), top=1)
    assert [entry.id for entry in page] == [entries[1].id]
    assert [entry.id for entry in audit(session_id, start=str(entries[1].id))] == [entries[2].id]
    with pytest.raises(HttpResponseError) as caught:
        list_sessions(top=0)
    assert (caught.value.status_code, caught.value.error.code) == (400, "BadArgument")


def test_verify_session_created_without_image_takes_it_from_the_frontend(client, emulator_server):
    created = client.create_liveness_with_verify_session(verify_content(), verify_image=None)
    assert created.verify_image is None
    play_frontend(emulator_server.endpoint, created.auth_token, verify=True)
    result = client.get_liveness_with_verify_session_result(created.session_id)
    assert result.result.response.body.verify_result.is_identical is True


def test_expired_token_is_refused_and_the_session_reports_it(client, emulator_server):
    created = client.create_liveness_session(liveness_content(auth_token_time_to_live_in_seconds=60))
    emulator = emulator_server.state.emulator
    start = emulator.clock()
    emulator.clock = lambda: start + timedelta(seconds=61)
    with pytest.raises(FrontendCallFailed) as caught:
        play_frontend(emulator_server.endpoint, created.auth_token, verify=False)
    assert caught.value.status == 401 and "TokenExpired" in caught.value.body
    result = client.get_liveness_session_result(created.session_id)
    assert (result.status, result.session_expired) == ("NotStarted", True)


def test_used_session_and_foreign_tokens_are_refused(client, emulator_server):
    created = client.create_liveness_session(liveness_content())
    play_frontend(emulator_server.endpoint, created.auth_token, verify=False)
    with pytest.raises(FrontendCallFailed) as used:
        play_frontend(emulator_server.endpoint, created.auth_token, verify=False)
    assert used.value.status == 400 and "SessionAlreadyUsed" in used.value.body
    with pytest.raises(FrontendCallFailed) as wrong_kind:
        play_frontend(emulator_server.endpoint, created.auth_token, verify=True)
    assert wrong_kind.value.status == 401
    with pytest.raises(FrontendCallFailed) as forged:
        play_frontend(emulator_server.endpoint, "not-a-token", verify=False)
    assert forged.value.status == 401


def test_wrong_subscription_key_is_401_with_the_service_error(emulator_server):
    client = FaceSessionClient(endpoint=emulator_server.endpoint, credential=AzureKeyCredential("wrong"))
    with pytest.raises(ClientAuthenticationError) as caught:
        client.get_liveness_sessions()
    assert caught.value.status_code == 401
    assert caught.value.error.code == "401"
    assert "invalid subscription key" in caught.value.error.message


def test_invalid_parameters_and_images_are_400(client):
    with pytest.raises(HttpResponseError) as ttl:
        client.create_liveness_session(liveness_content(auth_token_time_to_live_in_seconds=10))
    assert (ttl.value.status_code, ttl.value.error.code) == (400, "BadArgument")
    with pytest.raises(HttpResponseError) as image:
        client.create_liveness_with_verify_session(verify_content(), verify_image=b"not an image")
    assert (image.value.status_code, image.value.error.code) == (400, "InvalidImage")
    with pytest.raises(HttpResponseError) as size:
        client.create_liveness_with_verify_session(verify_content(), verify_image=b"\xff\xd8" + bytes(6 * 1024 * 1024))
    assert (size.value.status_code, size.value.error.code) == (400, "InvalidImageSize")


def test_throttling_is_ridden_out_by_the_sdk_retry_policy(client, emulator_server):
    emulator_server.state.faults.configure(throttle_next=2, retry_after=0)
    created = client.create_liveness_session(liveness_content())
    assert created.session_id
    assert [e[3] for e in emulator_server.recording.exchanges] == [429, 429, 200]
    assert emulator_server.recording.exchanges[0][4]["retry-after"] == "0"


def test_server_errors_are_retried(client, emulator_server):
    emulator_server.state.faults.configure(error_next=2, error_status=503)
    created = client.create_liveness_session(liveness_content())
    assert created.session_id
    assert [e[3] for e in emulator_server.recording.exchanges] == [503, 503, 200]


def test_dropped_connections_are_retried_for_reads(client, emulator_server):
    emulator_server.state.faults.configure(drop_next=1)
    # azure-core's retry history (handed to ``cls`` with the final response) says why it retried.
    sessions, history = client.get_liveness_sessions(
        cls=lambda response, body, headers: (body, response.context["history"])
    )
    assert sessions == []
    (retried,) = history
    assert isinstance(retried.error, ServiceResponseError) and retried.http_response is None  # no answer at all
    assert [e[3] for e in emulator_server.recording.exchanges] == [200]


def test_dropped_connection_on_create_reaches_the_caller(client, emulator_server):
    # azure-core does not repeat a POST whose answer was lost: the session may exist.
    emulator_server.state.faults.configure(drop_next=1)
    with pytest.raises(ServiceResponseError):
        client.create_liveness_session(liveness_content())


def test_dropped_connections_beyond_the_retries_reach_the_caller(emulator_server):
    client = FaceSessionClient(
        endpoint=emulator_server.endpoint, credential=AzureKeyCredential(emulator_server.key), retry_total=0
    )
    emulator_server.state.faults.configure(drop_next=1)
    with pytest.raises(ServiceResponseError):
        client.get_liveness_sessions()


def test_dropped_connection_under_runserver_is_a_service_error(emulator_server):
    # Servers that cannot drop a connection (runserver, Django's test client) send the fault as a 503.
    from django.test import Client

    emulator_server.state.faults.configure(drop_next=1)
    key = {"HTTP_OCP_APIM_SUBSCRIPTION_KEY": emulator_server.key}
    response = Client().get("/emulator/face/v1.2-preview.1/detectLiveness/singleModal/sessions", **key)
    assert (response.status_code, response["x-ms-error-code"]) == (503, "ConnectionDropped")
    assert response.json()["error"]["code"] == "ConnectionDropped"


def test_latency_is_added_and_recorded_in_the_audit(client, emulator_server):
    created = client.create_liveness_session(liveness_content())
    emulator_server.state.faults.configure(latency_ms=300)
    started = time.monotonic()
    play_frontend(emulator_server.endpoint, created.auth_token, verify=False)
    assert time.monotonic() - started >= 0.3
    emulator_server.state.faults.reset()
    (entry,) = client.get_liveness_session_audit_entries(created.session_id)
    assert 300 <= entry.response.latency_in_milliseconds < 2000


def test_plain_http_create_and_result_with_curl_like_calls(emulator_server):
    key = {"Ocp-Apim-Subscription-Key": emulator_server.key, "Content-Type": "application/json"}
    body = json.dumps({"livenessOperationMode": "PassiveActive", "deviceCorrelationId": "curl"}).encode()
    status, headers, raw = http(emulator_server, "POST", "/face/v1.2-preview.1/detectLiveness/singleModal/sessions", body, key)
    assert status == 200 and headers["Content-Type"] == "application/json; charset=utf-8" and headers["apim-request-id"]
    session_id = json.loads(raw)["sessionId"]
    status, _, raw = http(emulator_server, "GET", f"/face/v1.1-preview.1/detectliveness/singlemodal/sessions/{session_id}", headers=key)
    assert status == 200 and json.loads(raw)["status"] == "NotStarted"
    status, headers, raw = http(emulator_server, "GET", "/face/v9/detectLiveness/singleModal/sessions", headers=key)
    assert status == 404 and headers["x-ms-error-code"] == "404"


def test_fault_control_endpoint_needs_the_key(emulator_server):
    key = {"Ocp-Apim-Subscription-Key": emulator_server.key, "Content-Type": "application/json"}
    status, _, raw = http(emulator_server, "POST", "/faults", json.dumps({"throttle_next": 3}).encode(), key)
    assert status == 200 and json.loads(raw)["throttle_next"] == 3
    status, _, raw = http(emulator_server, "POST", "/faults", json.dumps({"explode": 1}).encode(), key)
    assert status == 400 and "Unknown fault setting 'explode'" in json.loads(raw)["error"]["message"]
    assert http(emulator_server, "DELETE", "/faults", headers={"Ocp-Apim-Subscription-Key": "nope"})[0] == 401
    status, _, raw = http(emulator_server, "DELETE", "/faults", headers=key)
    assert json.loads(raw)["throttle_next"] == 0


def test_frontend_endpoint_answers_cors_preflight(emulator_server):
    status, headers, _ = http(emulator_server, "OPTIONS", "/face/v1.2-preview.1/detectLivenessWithVerify/singleModal")
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in headers["Access-Control-Allow-Headers"]


def example_files(version):
    return sorted((spec_dir() / "examples" / version).glob("LivenessSessionOperations_Create*.json"))


@pytest.mark.parametrize("path", example_files("v1.2-preview.1") + example_files("v1.1-preview.1"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_spec_example_requests_are_accepted(emulator_server, path):
    example = json.loads(path.read_text())
    parameters = example["parameters"]
    version = parameters["apiVersion"]
    kind = "detectLivenessWithVerify" if "WithVerify" in example["operationId"] else "detectLiveness"
    url = f"/face/{version}/{kind}/singleModal/sessions"
    headers = {"Ocp-Apim-Subscription-Key": emulator_server.key}
    if "Parameters" in parameters:
        content_type, body = encode_multipart(
            {"Parameters": parameters["Parameters"]}, {"VerifyImage": ("face.jpg", sample_face_image(), "image/jpeg")}
        )
    else:
        content_type, body = "application/json", json.dumps(parameters["body"]).encode()
    status, _, raw = http(emulator_server, "POST", url, body, {**headers, "Content-Type": content_type})
    assert status == 200, raw
    assert set(json.loads(raw)) >= set(example["responses"]["200"]["body"]) - {"verifyImage"}


@contextmanager
def emulator_process(args, *, pythonpath=()):
    """Run ``python -u <args>`` and yield the endpoint it prints first; stop it afterwards."""
    root = Path(__file__).parent.parent
    process = subprocess.Popen(
        [sys.executable, "-u", *args],
        cwd=root,
        env={"PYTHONPATH": os.pathsep.join([str(root), *map(str, pythonpath)]), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = process.stdout.readline()
        assert first_line.startswith("Face liveness emulator listening on http://127.0.0.1:"), first_line
        yield first_line.split()[-1]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_standalone_emulator_serves_the_sdk():
    with emulator_process(["-m", "django_liveness.emulator", "--port", "0", "--key", "standalone-key"]) as endpoint:
        client = FaceSessionClient(endpoint=endpoint, credential=AzureKeyCredential("standalone-key"))
        created = client.create_liveness_with_verify_session(verify_content(), verify_image=sample_face_image())
        play_frontend(endpoint, created.auth_token, verify=True, decision="spoofface")
        result = client.get_liveness_with_verify_session_result(created.session_id)
        assert result.result.response.body.liveness_decision == "spoofface"


def test_faults_armed_at_start_of_the_standalone_emulator():
    args = ["--port", "0", "--key", "k", "--throttle-next", "1", "--retry-after", "30", "--drop-next", "1"]
    with emulator_process(["-m", "django_liveness.emulator", *args]) as endpoint:
        client = FaceSessionClient(endpoint=endpoint, credential=AzureKeyCredential("k"), retry_total=0)
        with pytest.raises(ServiceResponseError):  # dropped first, then throttled
            client.get_liveness_sessions()
        with pytest.raises(HttpResponseError) as throttled:
            client.get_liveness_sessions()
        assert (throttled.value.status_code, throttled.value.response.headers["Retry-After"]) == (429, "30")
        assert client.get_liveness_sessions() == []


HOSTILE_HOST_SETTINGS = """
# A host project whose own middleware would turn the emulator's callers away.
SECRET_KEY = "not-secret"
ALLOWED_HOSTS = ["app.example.com"]
SECURE_SSL_REDIRECT = True
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions", "django_liveness"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
ROOT_URLCONF = "hostile_settings"  # this module: no URL at all
urlpatterns = []
USE_TZ = True
"""


def test_management_command_serves_only_the_emulator(tmp_path):
    (tmp_path / "hostile_settings.py").write_text(HOSTILE_HOST_SETTINGS)
    args = ["-m", "django", "liveness_emulator", "--settings", "hostile_settings", "--port", "0", "--key", "k"]
    with emulator_process([*args, "--error-next", "1", "--error-status", "503"], pythonpath=[tmp_path]) as endpoint:
        client = FaceSessionClient(endpoint=endpoint, credential=AzureKeyCredential("k"), retry_total=0)
        with pytest.raises(HttpResponseError) as armed:
            client.get_liveness_sessions()
        assert armed.value.status_code == 503
        created = client.create_liveness_session(liveness_content())
        play_frontend(endpoint, created.auth_token, verify=False, decision="uncertain")
        result = client.get_liveness_session_result(created.session_id)
        assert result.result.response.body.liveness_decision == "uncertain"
