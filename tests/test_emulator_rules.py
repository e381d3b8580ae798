"""The emulator core's rules, shared by the HTTP emulator and LocMemBackend, read through the
preview's serializer (test_emulator_ga.py reads them through GA's)."""

from datetime import datetime, timedelta, timezone

import pytest

from django_liveness.emulator.core import LIVENESS, LIVENESS_WITH_VERIFY, Emulator, EmulatorError
from django_liveness.emulator.preview import PreviewApi
from django_liveness.images import sample_face_image

PARAMS = {"livenessOperationMode": "Passive", "deviceCorrelationId": "device-1", "authTokenTimeToLiveInSeconds": 60}


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 24, 12, 0, 0, 123000, tzinfo=timezone.utc)

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def emulator(clock):
    return PreviewApi(Emulator(clock=clock))


def error_of(call, *args, **kwargs):
    with pytest.raises(EmulatorError) as caught:
        call(*args, **kwargs)
    return caught.value.status, caught.value.code


def test_new_session_is_not_started_and_reports_service_dates(emulator):
    created = emulator.create_session(LIVENESS, PARAMS)
    body = emulator.get_session(LIVENESS, created["sessionId"])
    assert body == {
        "id": created["sessionId"],
        "createdDateTime": "2026-11-24T12:00:00.123Z",
        "sessionExpired": False,
        "authTokenTimeToLiveInSeconds": 60,
        "deviceCorrelationId": "device-1",
        "status": "NotStarted",
    }


@pytest.mark.parametrize(
    "params, message",
    [
        ({}, "livenessOperationMode"),
        ({**PARAMS, "livenessOperationMode": "Active"}, "livenessOperationMode"),
        ({**PARAMS, "authTokenTimeToLiveInSeconds": 59}, "authTokenTimeToLiveInSeconds"),
        ({**PARAMS, "deviceCorrelationId": None}, "deviceCorrelationId is required"),
        ({**PARAMS, "livenessSingleModalModel": "v9"}, "livenessSingleModalModel"),
        ({**PARAMS, "verifyConfidenceThreshold": 0.5}, "only valid for liveness with verify"),
    ],
)
def test_invalid_create_parameters_are_400_bad_argument(emulator, params, message):
    with pytest.raises(EmulatorError, match=message) as caught:
        emulator.create_session(LIVENESS, params)
    assert (caught.value.status, caught.value.code) == (400, "BadArgument")


def test_verify_image_must_be_a_supported_image(emulator):
    assert error_of(emulator.create_session, LIVENESS_WITH_VERIFY, PARAMS, b"GIF89a-broken") == (400, "InvalidImage")
    too_big = b"\xff\xd8" + b"0" * (6 * 1024 * 1024)
    assert error_of(emulator.create_session, LIVENESS_WITH_VERIFY, PARAMS, too_big) == (400, "InvalidImageSize")


def test_frontend_call_stores_the_result_and_one_audit_entry(emulator, clock):
    created = emulator.create_session(LIVENESS_WITH_VERIFY, {**PARAMS, "returnVerifyImageHash": True}, sample_face_image())
    assert created["verifyImage"] == {
        # The middle of the 480 x 640 sample image.
        "faceRectangle": {"top": 200, "left": 120, "width": 240, "height": 240},
        "qualityForRecognition": "high",
    }
    clock.now += timedelta(seconds=5)
    call = emulator.detect(created["authToken"], LIVENESS_WITH_VERIFY, sample_face_image(), same_person=False, latency_ms=42)
    # Without sendResultsToClient the client gets 204; the result is only for the app server.
    assert (call["response"]["statusCode"], call["response"]["latencyInMilliseconds"]) == (204, 42)
    body = call["response"]["body"]
    assert body["livenessDecision"] == "realface"
    assert body["verifyResult"]["isIdentical"] is False
    assert body["verifyResult"]["matchConfidence"] == 0.12
    session = emulator.get_session(LIVENESS_WITH_VERIFY, created["sessionId"])
    assert session["status"] == "ResultAvailable"
    assert session["sessionStartDateTime"] == "2026-11-24T12:00:05.123Z"
    assert session["result"]["response"]["body"] == body
    assert len(session["result"]["verifyImageHash"]) == 64
    (entry,) = emulator.audit_entries(LIVENESS_WITH_VERIFY, created["sessionId"])
    assert entry == session["result"] == call
    assert entry["request"]["url"] == "/face/v1.2-preview.1/detectlivenesswithverify/singlemodal"


def test_send_results_to_client_answers_200_with_the_body(emulator):
    created = emulator.create_session(LIVENESS, {**PARAMS, "sendResultsToClient": True})
    call = emulator.detect(created["authToken"], LIVENESS, sample_face_image(), api_version="v1.1-preview.1")
    assert (call["response"]["statusCode"], call["response"]["body"]["livenessDecision"]) == (200, "realface")
    assert call["request"]["url"] == "/face/v1.1-preview.1/detectliveness/singlemodal"


def test_is_identical_follows_the_sessions_threshold(emulator):
    created = emulator.create_session(LIVENESS_WITH_VERIFY, {**PARAMS, "verifyConfidenceThreshold": 0.8}, sample_face_image())
    call = emulator.detect(created["authToken"], LIVENESS_WITH_VERIFY, sample_face_image(), match_confidence=0.7)
    body = call["response"]["body"]
    assert (body["verifyResult"]["matchConfidence"], body["verifyResult"]["isIdentical"]) == (0.7, False)


def test_token_is_refused_after_its_ttl_and_after_use(emulator, clock):
    first = emulator.create_session(LIVENESS, PARAMS)
    emulator.detect(first["authToken"], LIVENESS, sample_face_image())
    assert error_of(emulator.detect, first["authToken"], LIVENESS, sample_face_image()) == (400, "SessionAlreadyUsed")
    second = emulator.create_session(LIVENESS, PARAMS)
    clock.now += timedelta(seconds=60)
    assert error_of(emulator.detect, second["authToken"], LIVENESS, sample_face_image()) == (401, "TokenExpired")
    assert emulator.get_session(LIVENESS, second["sessionId"])["sessionExpired"] is True


def test_three_client_calls_until_a_result(emulator):
    # "Ability to call /detectLiveness/singleModal for up to 3 retries."
    created = emulator.create_session(LIVENESS, PARAMS)
    for _ in range(2):
        emulator.detect(created["authToken"], LIVENESS, sample_face_image(), finish=False)
    session = emulator.get_session(LIVENESS, created["sessionId"])
    assert session["status"] == "Started" and "result" not in session  # result only with ResultAvailable
    emulator.detect(created["authToken"], LIVENESS, sample_face_image())
    entries = emulator.audit_entries(LIVENESS, created["sessionId"])
    assert [entry["response"]["body"].get("livenessDecision") for entry in entries] == [None, None, "realface"]
    assert emulator.get_session(LIVENESS, created["sessionId"])["result"] == entries[-1]

    unfinished = emulator.create_session(LIVENESS, PARAMS)
    for _ in range(3):
        emulator.detect(unfinished["authToken"], LIVENESS, sample_face_image(), finish=False)
    assert error_of(emulator.detect, unfinished["authToken"], LIVENESS, sample_face_image()) == (400, "SessionAlreadyUsed")
    assert len(emulator.audit_entries(LIVENESS, unfinished["sessionId"])) == 3


def test_token_works_only_for_its_own_kind_of_session(emulator):
    created = emulator.create_session(LIVENESS, PARAMS)
    assert error_of(emulator.detect, created["authToken"], LIVENESS_WITH_VERIFY, sample_face_image())[0] == 401
    assert error_of(emulator.detect, "forged", LIVENESS, sample_face_image()) == (401, "Unauthorized")


def test_unknown_or_deleted_session_is_404(emulator):
    created = emulator.create_session(LIVENESS, PARAMS)
    assert error_of(emulator.get_session, LIVENESS_WITH_VERIFY, created["sessionId"]) == (404, "SessionNotFound")
    emulator.delete_session(LIVENESS, created["sessionId"])
    assert error_of(emulator.get_session, LIVENESS, created["sessionId"]) == (404, "SessionNotFound")
    assert error_of(emulator.delete_session, LIVENESS, created["sessionId"]) == (404, "SessionNotFound")


def test_list_pages_with_start_and_top(emulator):
    ids = sorted(emulator.create_session(LIVENESS, PARAMS)["sessionId"] for _ in range(5))
    emulator.create_session(LIVENESS_WITH_VERIFY, PARAMS)
    assert [item["id"] for item in emulator.list_sessions(LIVENESS)] == ids
    assert [item["id"] for item in emulator.list_sessions(LIVENESS, start=ids[1], top=2)] == ids[2:4]
    assert error_of(emulator.list_sessions, LIVENESS, top=0) == (400, "BadArgument")
    assert error_of(emulator.list_sessions, LIVENESS, top=1001) == (400, "BadArgument")


def test_session_image_is_kept_when_enabled(emulator):
    created = emulator.create_session(LIVENESS, {**PARAMS, "enableSessionImage": True})
    emulator.detect(created["authToken"], LIVENESS, sample_face_image())
    entry = emulator.get_session(LIVENESS, created["sessionId"])["result"]
    assert emulator.session_image(entry["sessionImageId"]) == sample_face_image()
