"""The provider-neutral backend contract: GA bodies parsed to neutral results, payloads without
secrets from every backend and API version, one error mapping, and no provider shapes above
``backends/``."""

import ast
import json
from pathlib import Path

import pytest

import django_liveness
from django_liveness.backends import ga_wire
from django_liveness.backends.azure import AzureFaceBackend
from django_liveness.backends.base import (
    Attempt,
    ProviderStatus,
    ReferenceFace,
    Verification,
    error_for,
    sanitized,
)
from django_liveness.backends.locmem import LocMemBackend
from django_liveness.exceptions import (
    BackendError,
    InvalidImage,
    ProviderUnavailable,
    SessionNotFound,
    Throttled,
    Unauthorized,
)
from django_liveness.images import sample_face_image

from .conftest import API_VERSIONS
from .openapi import spec, spec_dir

CREATE = {"operation_mode": "Passive", "device_correlation_id": "device-1", "auth_token_ttl_seconds": 600}
BOX_1 = {"top": 669, "left": 203, "width": 646, "height": 724}
REFERENCE = ReferenceFace({"top": 316, "left": 131, "width": 498, "height": 677}, "high")


def example_body(name, folder="v1.2"):
    path = spec_dir() / "examples" / folder / f"LivenessSessionOperations_{name}.json"
    return json.loads(path.read_text())["responses"]["200"]["body"]


# --- GA bodies -> neutral results -----------------------------------------------------------


def test_ga_example_with_attempts_out_of_order_and_a_failed_one():
    result = ga_wire.session_result(example_body("GetLivenessSessionResult"))
    # The top-level status says NotStarted; the succeeded attempt is what counts.
    assert result.status == ProviderStatus.SUCCEEDED
    assert result.attempts == (
        Attempt(
            attempt_id=1,
            status=ProviderStatus.FAILED,
            face_rectangle=BOX_1,
            error_code="FaceWithMaskDetected",
            error_message="Mask detected on face image.",
        ),
        Attempt(
            attempt_id=2,
            status=ProviderStatus.SUCCEEDED,
            liveness_decision="realface",
            face_rectangle=BOX_1,
            session_image_id="Ae3PVWlXAmVAnXgkAFt1QSjGUWONKzWiSr2iPh9p9G4I",
            digest="B0A803BB7B26F3C8F29CD36030F8E63ED3FAF955FEEF8E01C88AB8FD89CCF761",
        ),
    )
    assert result.result_attempt.attempt_id == 2 and result.last_failed_attempt.attempt_id == 1
    assert (result.liveness_decision, result.verification, result.reference) == ("realface", None, None)
    assert (result.model_version, result.session_id) == ("2024-11-15", "b12e033e-bda7-4b83-a211-e721c661f30e")
    assert "authToken" not in result.payload and result.payload["results"]["attempts"][0]["attemptId"] == 2


@pytest.mark.parametrize("folder", ["v1.2", "v1.2/from-Face-examples-v1.2"])
def test_ga_verify_example_reads_decision_verification_and_reference(folder):
    # One copy spells the decision "realFace", the other "realface": both read as "realface".
    result = ga_wire.session_result(example_body("GetLivenessWithVerifySessionResult", folder))
    assert result.status == ProviderStatus.SUCCEEDED
    assert result.liveness_decision == "realface"
    assert result.verification == Verification(is_identical=False, match_confidence=0.08871888)
    assert result.reference == REFERENCE
    assert [(a.attempt_id, a.status) for a in result.attempts] == [(1, "failed"), (2, "succeeded")]


def test_ga_create_examples_give_the_session_and_the_reference():
    plain = ga_wire.created_session(example_body("CreateLivenessSession"), expires_at=None)
    assert (plain.session_id, plain.auth_token, plain.reference) == (
        "b12e033e-bda7-4b83-a211-e721c661f30e",
        "eyJhbGciOiJFUzI1NiIsIm",
        None,
    )
    verify = ga_wire.created_session(example_body("CreateLivenessWithVerifySession"), expires_at=None)
    assert verify.reference == REFERENCE
    assert "eyJhbGciOiJFUzI1NiIsIm" not in json.dumps(verify.payload) and "eyJ" not in repr(verify)


def test_ga_session_states_map_to_neutral_ones():
    def status_of(status, attempts=()):
        body = {"sessionId": "s", "authToken": "t", "status": status, "results": {"attempts": list(attempts)}}
        return ga_wire.session_result(body).status

    failed = {"attemptId": 1, "attemptStatus": "Failed", "error": {"code": "FaceNotFound", "message": "m"}}
    assert status_of("NotStarted") == ProviderStatus.NOT_STARTED
    assert status_of("NotStarted", [failed]) == ProviderStatus.RUNNING  # a call was made
    assert status_of("Running", [failed]) == ProviderStatus.RUNNING
    assert status_of("Failed", [failed] * 3) == ProviderStatus.FAILED
    assert status_of("Canceled") == ProviderStatus.CANCELED


# --- payloads without secrets -----------------------------------------------------------------


def test_sanitized_drops_tokens_keys_and_bytes_and_is_json_safe():
    from datetime import datetime, timezone

    payload = {
        "authToken": "t",
        "auth_token": "t",
        "Ocp-Apim-Subscription-Key": "k",
        "image": b"\xff\xd8",
        "nested": [{"accessToken": "t", "keep": 1}, b"raw"],
        "when": datetime(2026, 1, 1, tzinfo=timezone.utc),
    }
    assert sanitized(payload) == {"nested": [{"keep": 1}], "when": "2026-01-01 00:00:00+00:00"}


def every_backend(emulator_server):
    for version in API_VERSIONS:
        yield f"locmem {version}", LocMemBackend(api_version=version), None
        backend = AzureFaceBackend(endpoint=emulator_server.endpoint, key=emulator_server.key, api_version=version)
        yield f"azure {version}", backend, version


def test_no_backend_stores_a_token_key_or_image(emulator_server, settings):
    from django_liveness.emulator.client import play_frontend

    for name, backend, http_version in every_backend(emulator_server):
        created = backend.create_verify_session(reference_image=sample_face_image(), **CREATE)
        if http_version:
            play_frontend(emulator_server.endpoint, created.auth_token, verify=True, api_version=http_version)
        else:
            backend.complete(created.session_id)
        result = backend.get_result(created.session_id, verify=True)
        assert result.liveness_decision == "realface", name
        for payload in (created.payload, result.payload):
            text = json.dumps(payload)
            assert payload and created.auth_token not in text and emulator_server.key not in text, name
        backend.close()


# --- one error mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, code, expected",
    [
        (404, "SessionNotFound", SessionNotFound),
        (429, "429", Throttled),
        (401, "401", Unauthorized),
        (403, "Forbidden", Unauthorized),
        (500, "InternalServerError", ProviderUnavailable),
        (503, "ServiceUnavailable", ProviderUnavailable),
        (400, "InvalidImage", InvalidImage),
        (400, "InvalidImageSize", InvalidImage),
        (400, "BadArgument", BackendError),
    ],
)
def test_one_mapping_of_status_and_code(status, code, expected):
    error = error_for(status, code, "message", retry_after=7)
    assert type(error) is expected and error.status == status and error.message == "message"
    if expected is BackendError:
        assert error.code == code
    if expected in (Throttled, ProviderUnavailable):
        assert error.retry_after == 7 and error.transient


def test_every_backend_raises_the_same_error_for_the_same_answer(emulator_server):
    def raised(call, **kwargs):
        with pytest.raises(BackendError) as caught:
            call(**kwargs)
        return type(caught.value), caught.value.code, caught.value.status

    seen = {}
    for name, backend, _version in every_backend(emulator_server):
        seen[name] = [
            raised(backend.get_result, session_id="no-such-session", verify=False),
            raised(backend.create_verify_session, reference_image=b"not an image", **CREATE),
            raised(backend.create_session, **{**CREATE, "auth_token_ttl_seconds": 5}),
        ]
        backend.close()
    assert len({tuple(errors) for errors in seen.values()}) == 1, seen
    assert seen["azure v1.2"] == [
        (SessionNotFound, "not_found", 404),
        (InvalidImage, "invalid_image", 400),
        (BackendError, "BadArgument", 400),
    ]


# --- provider shapes stay in backends/ --------------------------------------------------------

PACKAGE = Path(django_liveness.__file__).parent
PROVIDER_ZONES = ("backends", "emulator", "migrations")  # migrations read 0.2.0 payloads through backends.legacy
PROVIDER_STATUSES = {"NotStarted", "Started", "ResultAvailable", "Running", "Succeeded", "Failed", "Canceled"}


def provider_json_keys():
    """Every camelCase property name of the Face API descriptions (sessionId, authToken ...)."""
    keys = set()
    for version in API_VERSIONS:
        for definition in spec(version)["definitions"].values():
            keys |= {name for name in definition.get("properties", {}) if name != name.lower()}
    return keys


def test_no_module_above_backends_speaks_the_providers_json():
    keys = provider_json_keys() | PROVIDER_STATUSES
    assert {"sessionId", "authToken", "latencyInMilliseconds", "attemptStatus", "livenessDecision"} <= keys
    assert {"livenessAbuseMonitoring", "base64AccessToken", "isAbuseMonitoringEnabled"} <= keys  # v1.3's
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in PROVIDER_ZONES:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in keys:
                offenders.append(f"{relative}:{node.lineno} names {node.value!r}")
            if isinstance(node, ast.ImportFrom) and node.module and "wire" in node.module:
                offenders.append(f"{relative}:{node.lineno} imports {node.module}")
            if isinstance(node, ast.ImportFrom) and any("wire" in alias.name for alias in node.names):
                offenders.append(f"{relative}:{node.lineno} imports a wire module")
    assert offenders == []
