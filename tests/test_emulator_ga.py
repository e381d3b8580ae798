"""The emulator's Face API v1.2 (GA) over plain HTTP, as the spec describes it.

Every answer is checked against the GA OpenAPI description when the test ends (``emulator_server``);
the preview's HTTP face is covered by test_emulator_wire.py, the shared rules by test_emulator_rules.py.
"""

import json

import pytest

from django_liveness.emulator.client import FrontendCallFailed, encode_multipart, play_frontend
from django_liveness.images import sample_face_image

from .emulator_http import http
from .openapi import spec_dir

GA = "/face/v1.2"


def create(emulator_server, verify=False, **fields):
    """POST a create as the spec says: JSON for liveness, flat multipart with ``verifyImage`` for verify."""
    key = {"Ocp-Apim-Subscription-Key": emulator_server.key}
    values = {"livenessOperationMode": "Passive", "deviceCorrelationId": "device-1", **fields}
    if verify:
        form = {name: str(value).lower() if isinstance(value, bool) else str(value) for name, value in values.items()}
        content_type, body = encode_multipart(form, {"verifyImage": ("face.jpg", sample_face_image(), "image/jpeg")})
        path = f"{GA}/detectLivenessWithVerify-sessions"
    else:
        content_type, body = "application/json", json.dumps(values).encode()
        path = f"{GA}/detectLiveness-sessions"
    return http(emulator_server, "POST", path, body, {**key, "Content-Type": content_type})


def get(emulator_server, session_id, verify=False):
    kind = "detectLivenessWithVerify" if verify else "detectLiveness"
    key = {"Ocp-Apim-Subscription-Key": emulator_server.key}
    status, _headers, raw = http(emulator_server, "GET", f"{GA}/{kind}-sessions/{session_id}", headers=key)
    assert status == 200, raw
    return json.loads(raw)


def frontend(emulator_server, token, **choices):
    return play_frontend(emulator_server.endpoint, token, api_version="v1.2", **choices)


def test_create_answers_the_whole_session_and_get_repeats_it(emulator_server):
    status, headers, raw = create(emulator_server, verify=True, authTokenTimeToLiveInSeconds=120)
    assert status == 200 and headers["Content-Type"] == "application/json; charset=utf-8"
    created = json.loads(raw)
    assert created == {
        "sessionId": created["sessionId"],
        "authToken": created["authToken"],
        "status": "NotStarted",
        "modelVersion": "2024-11-15",
        "results": {
            "attempts": [],
            "verifyReferences": [
                {
                    "referenceType": "Color",
                    "faceRectangle": {"top": 200, "left": 120, "width": 240, "height": 240},
                    "qualityForRecognition": "high",
                }
            ],
        },
    }
    assert get(emulator_server, created["sessionId"], verify=True) == created  # the token on every GET too


def test_attempts_fail_with_a_chosen_code_then_succeed(emulator_server):
    created = json.loads(create(emulator_server, verify=True, returnVerifyImageHash=True, enableSessionImage=True)[2])
    with pytest.raises(FrontendCallFailed) as refused:
        frontend(emulator_server, created["authToken"], verify=True, error_code="FaceWithMaskDetected")
    assert refused.value.status == 400
    assert json.loads(refused.value.body)["error"]["code"] == "FaceWithMaskDetected"
    assert get(emulator_server, created["sessionId"], verify=True)["status"] == "Running"
    assert frontend(emulator_server, created["authToken"], verify=True, same_person=False) is None  # 204

    session = get(emulator_server, created["sessionId"], verify=True)
    assert session["status"] == "Succeeded"
    failed, succeeded = session["results"]["attempts"]
    assert failed == {
        "attemptId": 1,
        "attemptStatus": "Failed",
        "error": {
            "code": "FaceWithMaskDetected",
            "message": "Mask detected on face image.",
            "targets": {"color": {"faceRectangle": {"top": 200, "left": 120, "width": 240, "height": 240}}},
        },
    }
    result = succeeded["result"]
    assert (succeeded["attemptId"], succeeded["attemptStatus"], result["livenessDecision"]) == (2, "Succeeded", "realface")
    assert result["verifyResult"] == {"matchConfidence": 0.12, "isIdentical": False}
    assert len(result["digest"]) == 64 and len(result["verifyImageHash"]) == 64
    key = {"Ocp-Apim-Subscription-Key": emulator_server.key}
    status, headers, image = http(emulator_server, "GET", f"{GA}/sessionImages/{result['sessionImageId']}", headers=key)
    assert (status, headers["Content-Type"], image) == (200, "application/octet-stream", sample_face_image())


def test_three_failed_attempts_fail_the_session(emulator_server):
    created = json.loads(create(emulator_server)[2])
    for code in ("FaceNotFound", "TooManyFaces", "ImageBlurry"):
        with pytest.raises(FrontendCallFailed):
            frontend(emulator_server, created["authToken"], verify=False, error_code=code)
    session = get(emulator_server, created["sessionId"])
    assert session["status"] == "Failed"
    assert [attempt["error"]["code"] for attempt in session["results"]["attempts"]] == ["FaceNotFound", "TooManyFaces", "ImageBlurry"]
    with pytest.raises(FrontendCallFailed) as used:
        frontend(emulator_server, created["authToken"], verify=False)
    assert "SessionAlreadyUsed" in used.value.body


def test_delete_answers_204_and_the_session_is_gone(emulator_server):
    created = json.loads(create(emulator_server)[2])
    key = {"Ocp-Apim-Subscription-Key": emulator_server.key}
    path = f"{GA}/detectLiveness-sessions/{created['sessionId']}"
    status, headers, body = http(emulator_server, "DELETE", path, headers=key)
    assert (status, body, "Content-Type" in headers) == (204, b"", False)
    assert http(emulator_server, "GET", path, headers=key)[0] == 404


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", f"{GA}/detectLiveness-sessions"),  # GA has no session list
        ("GET", f"{GA}/detectLiveness-sessions/some-id/audit"),  # nor audit entries
        ("GET", f"{GA}/detectLiveness/singleModal/sessions"),  # nor the preview's paths
        ("GET", f"{GA}/session/sessionImages/some-id"),
    ],
)
def test_what_ga_does_not_have_is_refused(emulator_server, method, path):
    status, headers, raw = http(emulator_server, method, path, headers={"Ocp-Apim-Subscription-Key": emulator_server.key})
    assert status in (404, 405) and headers["x-ms-error-code"]
    assert json.loads(raw)["error"]["message"]


def test_verify_create_is_flat_multipart_with_a_required_verify_image(emulator_server):
    key = {"Ocp-Apim-Subscription-Key": emulator_server.key}
    path = f"{GA}/detectLivenessWithVerify-sessions"
    as_json = json.dumps({"livenessOperationMode": "Passive", "deviceCorrelationId": "d"}).encode()
    status, _, _ = http(emulator_server, "POST", path, as_json, {**key, "Content-Type": "application/json"})
    assert status == 415
    # The preview's shape (a JSON "Parameters" part and "VerifyImage") is not GA's.
    content_type, body = encode_multipart(
        {"Parameters": '{"livenessOperationMode": "Passive", "deviceCorrelationId": "d"}'},
        {"VerifyImage": ("face.jpg", sample_face_image(), "image/jpeg")},
    )
    status, _, raw = http(emulator_server, "POST", path, body, {**key, "Content-Type": content_type})
    assert (status, json.loads(raw)["error"]["code"]) == (400, "BadArgument")
    for fields, message in [
        ({"enableSessionImage": "maybe"}, "enableSessionImage must be a boolean"),
        ({"verifyConfidenceThreshold": "high"}, "verifyConfidenceThreshold must be a number"),
        ({"verifyConfidenceThreshold": "1.5"}, "verifyConfidenceThreshold must be a number between 0 and 1"),
        ({"livenessModelVersion": "2023-12-20-preview.06"}, "Invalid livenessModelVersion"),
        ({"sendResultsToClient": "true"}, "Unknown parameter: sendResultsToClient"),
    ]:
        status, _, raw = create(emulator_server, verify=True, **fields)
        assert status == 400 and message in json.loads(raw)["error"]["message"], fields


def example_files(*names):
    return [spec_dir() / "examples" / "v1.2" / f"LivenessSessionOperations_{name}.json" for name in names]


@pytest.mark.parametrize(
    "path", example_files("CreateLivenessSession", "CreateLivenessWithVerifySession"), ids=lambda p: p.stem
)
def test_spec_example_requests_are_accepted(emulator_server, path):
    parameters = json.loads(path.read_text())["parameters"]
    if "body" in parameters:
        fields = parameters["body"]
        status, _, raw = create(emulator_server, **fields)
    else:
        fields = {name: value for name, value in parameters.items() if name not in ("apiVersion", "verifyImage")}
        status, _, raw = create(emulator_server, verify=True, **fields)
    assert status == 200, raw
    expected = json.loads(path.read_text())["responses"]["200"]["body"]
    assert set(json.loads(raw)) == set(expected)
