"""Face API v1.3-preview.1: AzureFaceBackend's GA client against the emulator (real HTTP, every
answer validated against the v1.3 spec), the v1.3 answer fields, and the spec's examples."""

import json
from pathlib import Path

import pytest

from django.test import override_settings

from django_liveness.backends import ga_wire
from django_liveness.backends.azure import AzureFaceBackend
from django_liveness.backends.base import (
    CLIENT_IP_BINDING,
    LIVENESS_SETTINGS,
    USER_CORRELATION,
    AbuseMonitoring,
    FlaggedSession,
    ProviderStatus,
    Verification,
)
from django_liveness.backends.locmem import LocMemBackend
from django_liveness.operations.checks import check_liveness_settings
from django_liveness.emulator.client import FrontendCallFailed, sample_face_image
from django_liveness.emulator.core import LIVENESS, LIVENESS_WITH_VERIFY
from django_liveness.emulator.ga import GaApi
from django_liveness.emulator.preview import PreviewApi
from django_liveness.exceptions import LivenessConfigurationError, SessionNotFound

from .openapi import spec_dir

V13 = "v1.3-preview.1"
CREATE = {"operation_mode": "Passive", "device_correlation_id": "device-9", "auth_token_ttl_seconds": 600}
# Fields only v1.3-preview.1 knows, in a create or in an answer.
V13_ONLY = ("numberOfClientAttemptsAllowed", "userCorrelationId", "userCorrelationIdSetInClient", "expectedClientIpAddress")
V13_ANSWER_ONLY = ("isAbuseMonitoringEnabled", "clientInformation", "abuseMonitoringResult")


def _v13_exchanges(emulator_server):
    return [exchange for exchange in emulator_server.recording.exchanges if exchange[0] == V13]


def _create(backend, verify):
    if verify:
        return backend.create_verify_session(reference_image=sample_face_image(), **CREATE)
    return backend.create_session(**CREATE)


@pytest.mark.parametrize("api_version, client_attempts", [(V13, 2)])
@pytest.mark.parametrize("verify", [False, True])
def test_v13_lifecycle_create_get_result_delete(azure_backend, emulator_server, frontend, verify):
    if verify:
        created = azure_backend.create_verify_session(reference_image=sample_face_image(), **CREATE)
        assert created.reference.quality_for_recognition == "high"
    else:
        created = azure_backend.create_session(**CREATE)
    assert created.payload["isAbuseMonitoringEnabled"] is True
    assert created.auth_token not in json.dumps(created.payload)
    assert azure_backend.get_result(created.session_id, verify=verify).status == ProviderStatus.NOT_STARTED

    with pytest.raises(FrontendCallFailed):
        frontend(created.auth_token, verify=verify, error_code="FaceNotFound")
    frontend(created.auth_token, verify=verify)
    result = azure_backend.get_result(created.session_id, verify=verify)

    assert (result.status, result.liveness_decision) == (ProviderStatus.SUCCEEDED, "realface")
    assert result.verification == (Verification(True, 0.92) if verify else None)
    failed, passed = result.attempts
    assert (failed.status, failed.error_code, failed.client_ips) == (ProviderStatus.FAILED, "FaceNotFound", ("127.0.0.1",))
    assert failed.abuse_monitoring == AbuseMonitoring(is_abuse_detected=False)
    assert (passed.status, passed.client_ips) == (ProviderStatus.SUCCEEDED, ("127.0.0.1",))
    assert passed.abuse_monitoring == AbuseMonitoring(is_abuse_detected=False)

    azure_backend.delete_session(created.session_id, verify=verify)
    with pytest.raises(SessionNotFound):
        azure_backend.get_result(created.session_id, verify=verify)
    # Every call went to /face/v1.3-preview.1 (and the fixture validates each answer against its spec).
    paths = [(method, path.split("/")[3]) for method, path, _agent, _key in emulator_server.recording.requests]
    assert {version for _method, version in paths} == {V13}
    assert [exchange[3] for exchange in _v13_exchanges(emulator_server)] == [200, 200, 400, 204, 200, 204, 404]


@pytest.mark.parametrize("api_version", [V13])
def test_v13_abuse_monitoring_off_has_no_verdict(azure_backend, emulator_server, frontend):
    emulator_server.state.emulator.abuse_monitoring = False
    created = azure_backend.create_session(**CREATE)
    frontend(created.auth_token, verify=False)
    result = azure_backend.get_result(created.session_id, verify=False)
    assert result.payload["isAbuseMonitoringEnabled"] is False
    (attempt,) = result.attempts
    assert attempt.abuse_monitoring is None and attempt.client_ips == ("127.0.0.1",)


@pytest.mark.parametrize("api_version", ["v1.2", "v1.2-preview.1"])
@pytest.mark.parametrize("verify", [False, True])
def test_older_versions_never_send_nor_get_a_v13_field(azure_backend, frontend, monkeypatch, verify):
    sent = []
    for api in (GaApi, PreviewApi):
        create = api.create_session

        def recording_create(self, kind, values, verify_image=None, create=create):
            sent.append(values)  # the JSON body or the form fields, as they arrived
            return create(self, kind, values, verify_image)

        monkeypatch.setattr(api, "create_session", recording_create)
    if verify:
        created = _create(azure_backend, verify)
    else:  # what a caller may hand any version: an older one sends none of it
        created = azure_backend.create_session(**CREATE, user_correlation_id="user-1", expected_client_ip="127.0.0.1")
    frontend(created.auth_token, verify=verify)
    result = azure_backend.get_result(created.session_id, verify=verify)

    (values,) = sent
    assert values and not [name for name in V13_ONLY if name in json.dumps(values)]
    answers = json.dumps([created.payload, result.payload])
    assert not [name for name in V13_ONLY + V13_ANSWER_ONLY if name in answers]
    assert all(attempt.client_ips == () and attempt.abuse_monitoring is None for attempt in result.attempts)


# --- LIVENESS["CLIENT_ATTEMPTS"] -> numberOfClientAttemptsAllowed (v1.3) ----------------------------


@pytest.mark.parametrize("api_version", [V13])
@pytest.mark.parametrize("verify", [False, True])
def test_v13_default_is_one_capture_per_session(azure_backend, emulator_server, frontend, verify):
    created = _create(azure_backend, verify)
    kind = LIVENESS_WITH_VERIFY if verify else LIVENESS
    assert emulator_server.state.emulator.get_session(kind, created.session_id).params.client_attempts == 1
    with pytest.raises(FrontendCallFailed):
        frontend(created.auth_token, verify=verify, error_code="FaceNotFound")
    with pytest.raises(FrontendCallFailed) as refused:
        frontend(created.auth_token, verify=verify)
    assert refused.value.status == 400 and "SessionAlreadyUsed" in refused.value.body
    result = azure_backend.get_result(created.session_id, verify=verify)
    assert (result.status, [a.error_code for a in result.attempts]) == (ProviderStatus.FAILED, ["FaceNotFound"])


@pytest.mark.parametrize("api_version, client_attempts", [(V13, 3)])
@pytest.mark.parametrize("verify", [False, True])
def test_v13_client_attempts_reach_the_service_and_allow_that_many_captures(
    azure_backend, emulator_server, frontend, verify
):
    created = _create(azure_backend, verify)  # JSON create, or multipart fields for verify
    kind = LIVENESS_WITH_VERIFY if verify else LIVENESS
    assert emulator_server.state.emulator.get_session(kind, created.session_id).params.client_attempts == 3
    for code in ("FaceNotFound", "TooManyFaces"):
        with pytest.raises(FrontendCallFailed):
            frontend(created.auth_token, verify=verify, error_code=code)
    assert azure_backend.get_result(created.session_id, verify=verify).status == ProviderStatus.RUNNING  # one left
    with pytest.raises(FrontendCallFailed):
        frontend(created.auth_token, verify=verify, error_code="FaceWithMaskDetected")
    with pytest.raises(FrontendCallFailed) as refused:  # a fourth capture
        frontend(created.auth_token, verify=verify)
    assert "This session allows 3 calls." in refused.value.body
    result = azure_backend.get_result(created.session_id, verify=verify)
    assert (result.status, [a.attempt_id for a in result.attempts]) == (ProviderStatus.FAILED, [1, 2, 3])


@pytest.mark.parametrize("api_version", ["v1.2", "v1.2-preview.1"])
@pytest.mark.django_db
def test_older_versions_get_no_user_correlation_id_from_the_services(settings, api_version, owner, subject):
    from django_liveness import services
    from django_liveness.backends import get_backend

    settings.LIVENESS = {**settings.LIVENESS, "OPTIONS": {"api_version": api_version}}
    services.start_session(subject, verify=False, client_ip="127.0.0.1")
    (call,) = get_backend().calls
    assert call[0] == "create_session" and "user_correlation_id" not in call[1] and "expected_client_ip" not in call[1]
    subject.refresh_from_db()
    assert subject.user_correlation_id == ""  # nothing made that nobody sends


@pytest.mark.django_db
def test_locmem_v13_records_the_user_correlation_id_and_the_bound_address(settings, owner, subject):
    from django_liveness import services
    from django_liveness.backends import get_backend

    settings.LIVENESS = {**settings.LIVENESS, "OPTIONS": {"api_version": V13}, "BIND_CLIENT_IP": True}
    session = services.start_session(subject, verify=False, client_ip=" 192.0.2.4 ")
    subject.refresh_from_db()
    ((operation, sent),) = get_backend().calls
    assert (sent["user_correlation_id"], sent["expected_client_ip"]) == (subject.user_correlation_id, "192.0.2.4")
    assert session.expected_client_ip == "192.0.2.4"
    get_backend().complete(session, client_ip="192.0.2.99")  # a capture from elsewhere: a failed attempt
    assert services.refresh_session(session).error_code == "ClientIpAddressMismatch"


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("BIND_CLIENT_IP", "yes", "must be True or False"),
        ("CLIENT_IP_RESOLVER", "resolver", "must be None or the dotted path of a function"),
        ("CLIENT_IP_RESOLVER", 42, "must be None or the dotted path of a function"),
    ],
)
def test_client_ip_settings_are_validated(key, value, problem):
    with override_settings(LIVENESS={"BACKEND": "django_liveness.backends.locmem.LocMemBackend", key: value}):
        messages = check_liveness_settings()
    assert [m.id for m in messages] == ["django_liveness.E002"] and f"LIVENESS[{key!r}] {problem}" in messages[0].msg


def test_a_resolver_that_cannot_be_imported_names_the_setting():
    from django_liveness.conf import liveness_settings

    with override_settings(LIVENESS={"CLIENT_IP_RESOLVER": "nowhere.resolver"}):
        with pytest.raises(LivenessConfigurationError, match=r"LIVENESS\['CLIENT_IP_RESOLVER'\] = 'nowhere.resolver' could not"):
            liveness_settings.client_ip_resolver


@pytest.mark.parametrize("backend", ["azure.AzureFaceBackend", "locmem.LocMemBackend"])
@pytest.mark.parametrize("api_version", ["v1.2", "v1.2-preview.1"])
def test_client_ip_binding_on_an_older_version_is_a_startup_error(backend, api_version):
    liveness = {
        "BACKEND": f"django_liveness.backends.{backend}",
        "OPTIONS": {"api_version": api_version, **({"endpoint": "https://x", "key": "k"} if "azure" in backend else {})},
        "BIND_CLIENT_IP": True,
    }
    with override_settings(LIVENESS=liveness):
        messages = check_liveness_settings()
    assert [m.id for m in messages] == ["django_liveness.E003"]
    assert "LIVENESS['BIND_CLIENT_IP'] needs Face API v1.3-preview.1" in messages[0].msg


@pytest.mark.parametrize("attempts", [0, 4, "2", True, 1.5])
def test_client_attempts_out_of_range_is_refused_naming_the_setting(attempts):
    with override_settings(LIVENESS={"BACKEND": "django_liveness.backends.locmem.LocMemBackend", "CLIENT_ATTEMPTS": attempts}):
        messages = check_liveness_settings()
    assert [m.id for m in messages] == ["django_liveness.E002"]
    assert "LIVENESS['CLIENT_ATTEMPTS'] must be a whole number from 1 to 3" in messages[0].msg


@pytest.mark.parametrize("backend", ["azure.AzureFaceBackend", "locmem.LocMemBackend"])
@pytest.mark.parametrize("api_version", ["v1.2", "v1.2-preview.1"])
def test_several_client_attempts_on_an_older_version_is_a_startup_error(backend, api_version):
    liveness = {
        "BACKEND": f"django_liveness.backends.{backend}",
        "OPTIONS": {"api_version": api_version, **({"endpoint": "https://x", "key": "k"} if "azure" in backend else {})},
        "CLIENT_ATTEMPTS": 2,
    }
    with override_settings(LIVENESS=liveness):
        messages = check_liveness_settings()
        with pytest.raises(LivenessConfigurationError) as error:
            AzureFaceBackend(**liveness["OPTIONS"]) if "azure" in backend else LocMemBackend(**liveness["OPTIONS"])
    assert [m.id for m in messages] == ["django_liveness.E003"]
    assert str(error.value) == (
        f"LIVENESS['CLIENT_ATTEMPTS'] = 2 needs Face API v1.3-preview.1, but api_version is '{api_version}': "
        "set LIVENESS['OPTIONS']['api_version'] = 'v1.3-preview.1', or CLIENT_ATTEMPTS to 1."
    )
    with override_settings(LIVENESS={**liveness, "OPTIONS": {**liveness["OPTIONS"], "api_version": V13}}):
        assert [m.id for m in check_liveness_settings() if m.is_serious()] == []  # W002 at most


def test_locmem_speaks_v13_with_client_attempts():
    with override_settings(
        LIVENESS={
            "BACKEND": "django_liveness.backends.locmem.LocMemBackend",
            "OPTIONS": {"api_version": V13},
            "CLIENT_ATTEMPTS": 2,
        }
    ):
        backend = LocMemBackend(api_version=V13)
        created = backend.create_session(**CREATE)
        backend.complete(created.session_id, error_code="FaceNotFound")
        backend.complete(created.session_id)
        result = backend.get_result(created.session_id, verify=False)
    assert (result.status, [a.attempt_id for a in result.attempts]) == (ProviderStatus.SUCCEEDED, [1, 2])
    assert result.payload["isAbuseMonitoringEnabled"] is True


def test_the_emulator_refuses_v13_fields_in_older_versions_and_checks_them_in_v13(emulator_server):
    """What the older versions would do with a v1.3 field: refuse it, so the tests above can trust them."""
    from urllib.request import Request, urlopen

    def create(version, body):
        request = Request(
            f"{emulator_server.endpoint}/face/{version}/detectLiveness-sessions",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Ocp-Apim-Subscription-Key": emulator_server.key, "Content-Type": "application/json"},
        )
        try:
            with urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except Exception as error:  # HTTPError
            return error.code, json.loads(error.read())

    body = {"livenessOperationMode": "Passive", "deviceCorrelationId": "d", "expectedClientIpAddress": "10.0.0.0/24"}
    status, answer = create("v1.2", body)
    assert (status, answer["error"]["message"]) == (400, "Unknown parameter: expectedClientIpAddress.")
    status, answer = create(V13, body)
    assert (status, answer["expectedClientIpAddress"]) == (200, "10.0.0.0/24")
    status, answer = create(V13, {**body, "expectedClientIpAddress": "not an address"})
    assert (status, answer["error"]["code"]) == (400, "BadArgument")
    attempts = {"livenessOperationMode": "Passive", "deviceCorrelationId": "d", "numberOfClientAttemptsAllowed": 2}
    status, answer = create("v1.2", attempts)
    assert (status, answer["error"]["message"]) == (400, "Unknown parameter: numberOfClientAttemptsAllowed.")
    for wrong in (0, 4, True, 1.5):
        status, answer = create(V13, {**attempts, "numberOfClientAttemptsAllowed": wrong})
        assert (status, answer["error"]["message"]) == (
            400,
            "numberOfClientAttemptsAllowed must be an integer between 1 and 3.",
        ), wrong


def test_v13_is_a_preview_w002():
    backend = AzureFaceBackend(endpoint="https://x.cognitiveservices.azure.com", key="k", api_version=V13)
    (warning,) = backend.check()
    assert warning.id == "django_liveness.W002" and V13 in warning.msg and "v1.2" in warning.hint
    # GA's capabilities, plus the create fields only v1.3 takes (liveness sessions) and the resource's liveness settings.
    ga = AzureFaceBackend(endpoint="https://x", key="k").capabilities
    assert backend.capabilities == ga | {USER_CORRELATION, CLIENT_IP_BINDING, LIVENESS_SETTINGS}
    assert LIVENESS_SETTINGS not in ga


# --- every v1.3 example body parses into the expected neutral result ------------------------------

EXAMPLES = spec_dir() / "examples" / V13
ABUSE_FLAGGED = AbuseMonitoring(
    is_abuse_detected=True,
    other_flagged_sessions=(
        FlaggedSession("b12e033e-bda7-4b83-a211-e721c661f30e", 1, "Ae3PVWlXAmVAnXgkAFt1QSjGUWONKzWiSr2iPh9p9G4I"),
    ),
)


def _example(name):
    return json.loads((EXAMPLES / f"LivenessSessionOperations_{name}.json").read_text())["responses"]["200"]["body"]


def _session_examples():
    names = ("GetLivenessSessionResult", "GetLivenessWithVerifySessionResult")
    return sorted(
        path
        for path in Path(EXAMPLES).rglob("LivenessSessionOperations_*.json")
        if any(path.name == f"LivenessSessionOperations_{name}.json" for name in names)
    )


def test_v13_liveness_result_example_parses_into_attempts_with_client_ips_and_abuse():
    result = ga_wire.session_result(_example("GetLivenessSessionResult"))
    # The example's top-level NotStarted beside a succeeded attempt: the succeeded attempt wins.
    assert (result.session_id, result.status, result.liveness_decision, result.verification) == (
        "b12e033e-bda7-4b83-a211-e721c661f30e",
        ProviderStatus.SUCCEEDED,
        "realface",
        None,
    )
    first, second = result.attempts
    assert (first.attempt_id, first.status, first.error_code) == (1, ProviderStatus.FAILED, "FaceWithMaskDetected")
    assert (first.client_ips, first.abuse_monitoring) == (("73.21.34.122",), None)
    assert (second.attempt_id, second.status, second.client_ips) == (2, ProviderStatus.SUCCEEDED, ("73.21.34.122",))
    assert second.abuse_monitoring == ABUSE_FLAGGED
    assert "authToken" not in json.dumps(result.payload) and result.payload["isAbuseMonitoringEnabled"] is True


def test_v13_verify_result_example_parses_without_the_optional_fields():
    """The main folder's with-verify example leaves out every v1.3 field (they are optional)."""
    result = ga_wire.session_result(_example("GetLivenessWithVerifySessionResult"))
    assert (result.status, result.verification) == (ProviderStatus.SUCCEEDED, Verification(False, 0.08871888))
    assert result.reference.quality_for_recognition == "high"
    first, second = result.attempts
    assert (first.error_code, second.liveness_decision) == ("FaceWithMaskDetected", "realface")
    assert all(attempt.client_ips == () and attempt.abuse_monitoring is None for attempt in result.attempts)


@pytest.mark.parametrize("path", _session_examples(), ids=lambda path: str(path.relative_to(EXAMPLES)))
def test_every_v13_session_result_example_parses(path):
    """Every copy of the two GET examples (main folder, Face-examples, other versions) that has the
    spec's shape gives a session result whose attempts carry what the body says."""
    body = json.loads(path.read_text())["responses"]["200"]["body"]
    if "sessionId" not in body:
        pytest.skip("an example in the retired v1.2-preview.1 shape (README: c97bc86a)")
    result = ga_wire.session_result(body)
    assert result.session_id == body["sessionId"]
    for attempt, item in zip(result.attempts, sorted(body["results"]["attempts"], key=lambda a: a["attemptId"])):
        assert attempt.attempt_id == item["attemptId"]
        assert attempt.client_ips == tuple(client["ip"] for client in item.get("clientInformation", []))
        monitoring = item.get("abuseMonitoringResult")
        assert (attempt.abuse_monitoring is not None) == bool(monitoring)
        if monitoring:
            assert attempt.abuse_monitoring.is_abuse_detected is monitoring["isAbuseDetected"]
            assert [(f.session_id, f.attempt_id) for f in attempt.abuse_monitoring.other_flagged_sessions] == [
                (other["sessionId"], other["attemptId"]) for other in monitoring["otherFlaggedSessions"]
            ]


@pytest.mark.parametrize("verify", [False, True])
def test_v13_create_examples_parse_into_created_sessions(verify):
    body = _example("CreateLivenessWithVerifySession" if verify else "CreateLivenessSession")
    created = ga_wire.created_session(body, expires_at=None)
    assert (created.session_id, created.auth_token) == ("b12e033e-bda7-4b83-a211-e721c661f30e", "eyJhbGciOiJFUzI1NiIsIm")
    assert "authToken" not in json.dumps(created.payload)
    if verify:
        assert created.reference.quality_for_recognition == "high"
        assert created.reference.face_rectangle == {"top": 316, "left": 131, "width": 498, "height": 677}
    else:
        assert created.reference is None
