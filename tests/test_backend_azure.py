"""AzureFaceBackend end to end, in both Face API versions: services -> GA client (azure-core's
PipelineClient) or the real preview SDK -> HTTP -> emulator. No mock of either."""

import json
import time

import pytest
from django.core import checks
from django.test import override_settings

from django_liveness import __version__, services
from django_liveness.backends.azure import AzureFaceBackend
from django_liveness.backends.base import AUDIT_ENTRIES, LIST_SESSIONS, SESSION_IMAGES, ProviderStatus
from django_liveness.operations.checks import check_deployment, check_liveness_settings
from django_liveness.emulator.client import FrontendCallFailed
from django_liveness.emulator.core import LIVENESS, LIVENESS_WITH_VERIFY
from django_liveness.emulator.views import api_for
from django_liveness.exceptions import (
    BackendError,
    InvalidImage,
    LivenessConfigurationError,
    ProviderUnavailable,
    SessionNotFound,
    Throttled,
    Unauthorized,
)
from django_liveness.testing import ReferenceImageFactory, SubjectFactory

from .conftest import API_VERSIONS, GA_CLIENT_VERSIONS, as_many_attempts_as_v12, past_the_fetch_window

pytestmark = pytest.mark.django_db
every_version = pytest.mark.parametrize("api_version", API_VERSIONS)


client_attempts = pytest.fixture(name="client_attempts")(as_many_attempts_as_v12)

CREATE = {"operation_mode": "Passive", "device_correlation_id": "device-9", "auth_token_ttl_seconds": 600}
MISSING = "00000000-0000-0000-0000-000000000000"


def statuses(emulator_server):
    return [exchange[3] for exchange in emulator_server.recording.exchanges]


@every_version
def test_verify_session_passes_end_to_end(azure_backend, frontend, django_capture_on_commit_callbacks):
    subject = SubjectFactory()
    reference = ReferenceImageFactory(subject=subject)
    session = services.start_session(subject, verify=True)
    token = session.auth_token
    reference.refresh_from_db()
    assert reference.quality_for_recognition == "high"

    frontend(token, verify=True)
    with django_capture_on_commit_callbacks(execute=True):  # the remote deletion waits for the commit
        session = services.refresh_session(session)

    assert (session.status, session.outcome, session.match_confidence) == ("completed", "passed", 0.92)
    (attempt,) = session.attempts.all()
    assert (attempt.status, attempt.liveness_decision, attempt.is_identical) == ("succeeded", "realface", True)
    assert token not in json.dumps(session.result_payload)  # GA answers the token on every GET
    assert session.remote_deleted_at is not None
    with pytest.raises(SessionNotFound):
        azure_backend.get_result(session.provider_session_id, verify=True)


@every_version
def test_results_map_to_neutral_types(azure_backend, frontend, api_version):
    created = azure_backend.create_session(**CREATE)
    assert created.expires_at is not None and created.auth_token not in json.dumps(created.payload)
    assert azure_backend.get_result(created.session_id, verify=False).status == ProviderStatus.NOT_STARTED
    frontend(created.auth_token, verify=False, decision="uncertain")
    result = azure_backend.get_result(created.session_id, verify=False)
    assert (result.status, result.liveness_decision, result.verification) == (ProviderStatus.SUCCEEDED, "uncertain", None)
    (attempt,) = result.attempts
    assert attempt.face_rectangle == {"top": 200, "left": 120, "width": 240, "height": 240}
    assert len(attempt.digest) == 64
    assert created.auth_token not in json.dumps(result.payload)
    if api_version in GA_CLIENT_VERSIONS:
        assert (result.model_version, result.latency_ms) == ("2024-11-15", None)
        assert not azure_backend.supports(AUDIT_ENTRIES) and not azure_backend.supports(LIST_SESSIONS)
        with pytest.raises(NotImplementedError):
            azure_backend.list_sessions(verify=False)
    else:
        assert result.model_version == "2023-12-20-preview.06" and result.latency_ms is not None
        (entry,) = azure_backend.list_audit_entries(created.session_id, verify=False)
        assert entry.session_id == created.session_id and entry.digest == attempt.digest
        (remote,) = azure_backend.list_sessions(verify=False)
        assert (remote.session_id, remote.device_correlation_id) == (created.session_id, "device-9")
    azure_backend.delete_session(created.session_id, verify=False)
    with pytest.raises(SessionNotFound):
        azure_backend.get_result(created.session_id, verify=False)


@every_version
def test_failed_attempts_then_a_success(azure_backend, frontend, api_version):
    subject = SubjectFactory()
    ReferenceImageFactory(subject=subject)
    session = services.start_session(subject, verify=True)
    with pytest.raises(FrontendCallFailed) as refused:
        frontend(session.auth_token, verify=True, error_code="FaceWithMaskDetected")
    assert refused.value.status == 400 and "FaceWithMaskDetected" in refused.value.body
    assert services.refresh_session(session).status == "started"  # another attempt is allowed
    frontend(session.auth_token, verify=True, same_person=False)

    with past_the_fetch_window():
        session = services.refresh_session(session)
    assert (session.status, session.outcome, session.is_identical) == ("completed", "failed", False)
    attempts = [(a.attempt_id, a.status, a.error_code, a.liveness_decision) for a in session.attempts.all()]
    if api_version in GA_CLIENT_VERSIONS:
        assert attempts == [(1, "failed", "FaceWithMaskDetected", ""), (2, "succeeded", "", "realface")]
    else:  # the preview reports the result only
        assert attempts == [(1, "succeeded", "", "realface")]


def test_every_attempt_failed_ends_the_session_failed(azure_backend, frontend):
    subject = SubjectFactory()
    session = services.start_session(subject, verify=False)
    for code in ("FaceNotFound", "TooManyFaces", "FaceWithMaskDetected"):
        with pytest.raises(FrontendCallFailed):
            frontend(session.auth_token, verify=False, error_code=code)
    session = services.refresh_session(session)
    assert (session.status, session.outcome, session.error_code) == ("failed", "", "FaceWithMaskDetected")
    assert [a.error_code for a in session.attempts.all()] == ["FaceNotFound", "TooManyFaces", "FaceWithMaskDetected"]
    event = session.events.get(to_status="failed")
    assert event.data == {"error_code": "FaceWithMaskDetected"} and event.message == "Mask detected on face image."


def test_ga_requests_carry_the_key_and_a_user_agent(azure_backend, emulator_server):
    azure_backend.create_verify_session(reference_image=_sample(), **CREATE)
    azure_backend.create_session(**CREATE)
    calls = emulator_server.recording.requests
    assert [(method, path.rsplit("/", 1)[-1]) for method, path, _agent, _key in calls] == [
        ("POST", "detectLivenessWithVerify-sessions"),
        ("POST", "detectLiveness-sessions"),
    ]
    assert all(agent.startswith(f"django-liveness/{__version__}") and key for _m, _p, agent, key in calls)


@every_version
def test_session_images_are_fetched(azure_backend, emulator_server, frontend, api_version):
    # The backends do not ask for session images yet: create one as a host would, through the emulator.
    params = {"livenessOperationMode": "Passive", "deviceCorrelationId": "d", "enableSessionImage": True}
    created = api_for(api_version).create_session(LIVENESS, params)
    frontend(created["authToken"], verify=False)
    (attempt,) = azure_backend.get_result(created["sessionId"], verify=False).attempts
    assert azure_backend.supports(SESSION_IMAGES)
    assert azure_backend.get_session_image(attempt.session_image_id) == _sample()
    with pytest.raises(SessionNotFound):
        azure_backend.get_session_image("no-such-image")


def test_one_client_per_backend_created_on_first_use(azure_backend):
    assert azure_backend._client is None  # nothing built before the first call
    azure_backend.create_session(**CREATE)
    first = azure_backend.client
    azure_backend.create_session(**CREATE)
    assert azure_backend.client is first


@every_version
def test_provider_errors_map_to_backend_errors(azure_backend, emulator_server):
    faults = emulator_server.state.faults
    with pytest.raises(SessionNotFound):
        azure_backend.get_result(MISSING, verify=False)
    with pytest.raises(InvalidImage):
        azure_backend.create_verify_session(reference_image=b"no image", **CREATE)
    with pytest.raises(BackendError) as bad:
        azure_backend.create_session(**{**CREATE, "auth_token_ttl_seconds": 5})
    assert (bad.value.code, bad.value.status) == ("BadArgument", 400)

    faults.configure(throttle_next=10, retry_after=0)
    with pytest.raises(Throttled) as throttled:
        azure_backend.get_result(MISSING, verify=False)
    assert throttled.value.transient and throttled.value.retry_after == 0
    faults.reset()

    faults.configure(error_next=10, error_status=503)
    with pytest.raises(ProviderUnavailable) as unavailable:
        azure_backend.get_result(MISSING, verify=True)
    assert unavailable.value.status == 503
    faults.reset()

    faults.configure(drop_next=1)
    with pytest.raises(ProviderUnavailable):
        azure_backend.create_session(**CREATE)


@every_version
def test_wrong_key_is_unauthorized(emulator_server, api_version):
    backend = AzureFaceBackend(endpoint=emulator_server.endpoint, key="not-the-key", api_version=api_version)
    with pytest.raises(Unauthorized) as caught:
        backend.create_session(**CREATE)
    assert caught.value.status == 401
    backend.close()


@every_version
def test_transient_error_on_refresh_keeps_the_session_open(azure_backend, emulator_server, frontend):
    subject = SubjectFactory()
    session = services.start_session(subject, verify=False)
    frontend(session.auth_token, verify=False)
    emulator_server.state.faults.configure(throttle_next=10, retry_after=0)
    with pytest.raises(Throttled):
        services.refresh_session(session)
    session.refresh_from_db()
    assert session.status == "created"
    emulator_server.state.faults.reset()
    with past_the_fetch_window():
        assert services.refresh_session(session).outcome == "passed"


def _sample():
    from django_liveness.images import sample_face_image

    return sample_face_image()


def test_missing_endpoint_or_key_is_w005_and_e004_under_deploy(monkeypatch):
    monkeypatch.delenv("VISION_ENDPOINT", raising=False)
    monkeypatch.delenv("VISION_KEY", raising=False)
    with override_settings(LIVENESS={"BACKEND": "django_liveness.backends.azure.AzureFaceBackend"}):
        (message,) = check_liveness_settings()
        assert (message.id, message.level) == ("django_liveness.W005", checks.WARNING)  # migrate runs before a key
        assert "no endpoint and no key" in message.msg
        (deploy,) = check_deployment()
        assert (deploy.id, deploy.level, deploy.msg) == ("django_liveness.E004", checks.ERROR, message.msg)
        with pytest.raises(LivenessConfigurationError, match="needs an endpoint and a key"):
            AzureFaceBackend().client


def test_endpoint_and_key_default_to_the_environment(monkeypatch):
    monkeypatch.setenv("VISION_ENDPOINT", "https://example.cognitiveservices.azure.com/")
    monkeypatch.setenv("VISION_KEY", "real-looking-key")
    backend = AzureFaceBackend()
    assert backend.endpoint == "https://example.cognitiveservices.azure.com"
    assert backend.check() == []
    assert "real-looking-key" not in repr(backend)


def test_emulator_endpoint_without_debug_is_w001():
    backend = AzureFaceBackend(endpoint="http://127.0.0.1:8000/emulator", key="emulator-key")
    with override_settings(DEBUG=False):
        assert [m.id for m in backend.check()] == ["django_liveness.W001"]
    with override_settings(DEBUG=True):
        assert backend.check() == []


def test_ga_is_the_default_and_the_preview_is_w002():
    assert AzureFaceBackend(endpoint="https://x.cognitiveservices.azure.com", key="k").api_version == "v1.2"
    preview = AzureFaceBackend(endpoint="https://x.cognitiveservices.azure.com", key="k", api_version="v1.2-preview.1")
    (warning,) = preview.check()
    assert warning.id == "django_liveness.W002" and "v1.2-preview.1" in warning.msg
    with pytest.raises(LivenessConfigurationError, match="api_version"):
        AzureFaceBackend(endpoint="https://x.cognitiveservices.azure.com", key="k", api_version="v1.1-preview.1")


@every_version
def test_long_retry_after_is_throttled_at_once(azure_backend, emulator_server):
    # azure-core would sleep the whole 30 s before its retry: a web request must not.
    emulator_server.state.faults.configure(throttle_next=1, retry_after=30)
    started = time.monotonic()
    with pytest.raises(Throttled) as caught:
        azure_backend.create_session(**CREATE)
    assert time.monotonic() - started < 3
    assert caught.value.retry_after == 30
    assert statuses(emulator_server) == [429]  # not retried


@every_version
def test_short_retry_after_is_waited_for_and_retried(azure_backend, emulator_server):
    emulator_server.state.faults.configure(throttle_next=1, retry_after=1)
    started = time.monotonic()
    assert azure_backend.create_session(**CREATE).session_id
    assert time.monotonic() - started >= 1
    assert statuses(emulator_server) == [429, 200]


@every_version
def test_max_retry_after_option_sets_the_cap(emulator_server, api_version):
    backend = AzureFaceBackend(
        endpoint=emulator_server.endpoint, key=emulator_server.key, max_retry_after=0, api_version=api_version
    )
    emulator_server.state.faults.configure(throttle_next=1, retry_after=1)
    with pytest.raises(Throttled) as caught:
        backend.create_session(**CREATE)
    assert caught.value.retry_after == 1
    backend.close()


@every_version
def test_read_timeout_gives_up_in_time(emulator_server, api_version):
    backend = AzureFaceBackend(
        endpoint=emulator_server.endpoint, key=emulator_server.key, read_timeout=1, retry_total=0, api_version=api_version
    )
    emulator_server.state.faults.configure(latency_ms=1500)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="ServiceResponseTimeoutError"):
        backend.get_result(MISSING, verify=False)
    assert time.monotonic() - started < 1.4
    backend.close()


@every_version
def test_changing_the_setting_closes_the_old_client(azure_backend, settings):
    azure_backend.create_session(**CREATE)
    client = azure_backend.client
    closed = []
    real_close = client.close
    client.close = lambda: (closed.append(True), real_close())
    settings.LIVENESS = {"BACKEND": "django_liveness.backends.locmem.LocMemBackend"}
    assert closed == [True]
    assert azure_backend._client is None  # a later call on the old object builds a new client


@pytest.mark.parametrize(
    "options, key",
    [
        ({"read_timeout": "20"}, "read_timeout"),
        ({"connection_timeout": 0}, "connection_timeout"),
        ({"retry_total": 1.5}, "retry_total"),
        ({"retry_total": True}, "retry_total"),
        ({"retry_backoff_factor": -1}, "retry_backoff_factor"),
        ({"max_retry_after": None}, "max_retry_after"),
        ({"endpoint": 5050}, "endpoint"),
        ({"api_version": "v1.2-preview"}, "api_version"),
        ({"read_timout": 5}, "read_timout"),
    ],
)
def test_bad_options_name_the_key(options, key):
    with pytest.raises(LivenessConfigurationError, match=rf"\b{key}\b"):
        AzureFaceBackend(**{"endpoint": "http://127.0.0.1:1", "key": "k", **options})


@pytest.mark.parametrize("api_version, hidden", [("v1.2", "azure.core"), ("v1.2-preview.1", "azure.ai.vision.face")])
def test_a_missing_azure_package_names_the_extra_to_install(monkeypatch, api_version, hidden):
    monkeypatch.setitem(__import__("sys").modules, hidden, None)  # as if it were not installed
    backend = AzureFaceBackend(endpoint="https://x.cognitiveservices.azure.com", key="k", api_version=api_version)
    with pytest.raises(LivenessConfigurationError, match=r'pip install "django-liveness\[azure\]"'):
        backend.client


@every_version
def test_an_unreachable_endpoint_is_named_in_the_error(api_version, caplog):
    """`make demo` on another port once said only "unavailable (None)": the error names the URL."""
    import socket

    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}/emulator"
    backend = AzureFaceBackend(endpoint=endpoint, key="emulator-key", retry_total=0, api_version=api_version)
    with pytest.raises(ProviderUnavailable) as unavailable:
        backend.create_session(**CREATE)
    assert endpoint in unavailable.value.message and "emulator-key" not in unavailable.value.message
    backend.close()


@every_version
@pytest.mark.parametrize("verify", [False, True])
def test_device_id_set_in_client_reaches_the_service_as_the_flag_and_no_id(azure_backend, emulator_server, verify):
    create = {**CREATE, "device_correlation_id": None}
    if verify:
        created = azure_backend.create_verify_session(reference_image=_sample(), **create)
    else:
        created = azure_backend.create_session(**create)
    kind = LIVENESS_WITH_VERIFY if verify else LIVENESS
    params = emulator_server.state.emulator.get_session(kind, created.session_id).params
    assert (params.device_correlation_id_set_in_client, params.device_correlation_id) == (True, None)
