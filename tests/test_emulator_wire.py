"""The real azure-ai-vision-face SDK, unmodified, against the emulator over loopback HTTP.

Every answer the emulator gives in these tests is validated against the Face API's OpenAPI
description by the ``emulator_server`` fixture.
"""

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.request import Request, urlopen

import pytest
from azure.ai.vision.face import FaceSessionClient
from azure.ai.vision.face.models import CreateLivenessSessionContent, CreateLivenessWithVerifySessionContent
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError, ServiceResponseError

from django_liveness.emulator.client import FrontendCallFailed, encode_multipart, play_frontend
from django_liveness.images import sample_face_image

from .openapi import spec_dir


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

    answer = play_frontend(emulator_server.endpoint, created.auth_token, verify=False)
    assert answer["livenessDecision"] == "realface"

    after = client.get_liveness_session_result(created.session_id)
    assert after.status == "ResultAvailable"
    assert after.result.response.body.liveness_decision == "realface"
    assert after.result.response.body.target.face_rectangle.width == 240
    assert after.result.response.status_code == 200
    assert after.session_start_date_time is not None

    (entry,) = client.get_liveness_session_audit_entries(created.session_id)
    assert entry.id == after.result.id and entry.digest == after.result.digest
    assert entry.request.url == "/emulator/face/v1.2-preview.1/detectLiveness/singleModal"

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
    assert [e[2] for e in emulator_server.recording.exchanges] == [429, 429, 200]
    assert emulator_server.recording.exchanges[0][3]["retry-after"] == "0"


def test_server_errors_are_retried(client, emulator_server):
    emulator_server.state.faults.configure(error_next=2, error_status=503)
    created = client.create_liveness_session(liveness_content())
    assert created.session_id
    assert [e[2] for e in emulator_server.recording.exchanges] == [503, 503, 200]


def test_dropped_connections_are_retried_for_reads(client, emulator_server):
    emulator_server.state.faults.configure(drop_next=1)
    assert client.get_liveness_sessions() == []
    assert [e[2] for e in emulator_server.recording.exchanges] == [200]  # the drop had no answer


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


def test_latency_is_added(client, emulator_server):
    import time

    emulator_server.state.faults.configure(latency_ms=300)
    started = time.monotonic()
    client.get_liveness_sessions()
    assert time.monotonic() - started >= 0.3


def http(emulator_server, method, path, body=None, headers=None):
    request = Request(f"{emulator_server.endpoint}{path}", data=body, method=method, headers=headers or {})
    try:
        with urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except Exception as error:  # HTTPError carries the answer
        return error.code, dict(error.headers), error.read()


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


def test_standalone_emulator_serves_the_sdk(tmp_path):
    root = Path(__file__).parent.parent
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "django_liveness.emulator", "--port", "0", "--key", "standalone-key"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = process.stdout.readline()
        assert first_line.startswith("Face liveness emulator listening on http://127.0.0.1:")
        endpoint = first_line.split()[-1]
        client = FaceSessionClient(endpoint=endpoint, credential=AzureKeyCredential("standalone-key"))
        created = client.create_liveness_with_verify_session(verify_content(), verify_image=sample_face_image())
        play_frontend(endpoint, created.auth_token, verify=True, decision="spoofface")
        result = client.get_liveness_with_verify_session_result(created.session_id)
        assert result.result.response.body.liveness_decision == "spoofface"
    finally:
        process.terminate()
        process.wait(timeout=10)
