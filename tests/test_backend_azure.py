"""AzureFaceBackend end to end: services -> real SDK -> HTTP -> emulator. No mock of the SDK."""

import time

import pytest
from django.test import override_settings

from django_liveness import services
from django_liveness.backends.azure import AzureFaceBackend
from django_liveness.checks import check_liveness_settings
from django_liveness.emulator.client import play_frontend
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

pytestmark = pytest.mark.django_db

CREATE = {"operation_mode": "Passive", "device_correlation_id": "device-9", "auth_token_ttl_seconds": 600}


def test_verify_session_passes_end_to_end(azure_backend, emulator_server, django_capture_on_commit_callbacks):
    subject = SubjectFactory()
    reference = ReferenceImageFactory(subject=subject)
    session = services.start_session(subject, verify=True)
    reference.refresh_from_db()
    assert reference.quality_for_recognition == "high"

    play_frontend(emulator_server.endpoint, session.auth_token, verify=True)
    with django_capture_on_commit_callbacks(execute=True):  # the remote deletion waits for the commit
        session = services.refresh_session(session)

    assert (session.status, session.outcome, session.match_confidence) == ("completed", "passed", 0.92)
    assert session.result_payload["result"]["response"]["body"]["livenessDecision"] == "realface"
    assert session.remote_deleted_at is not None
    with pytest.raises(SessionNotFound):
        azure_backend.get_result(session.provider_session_id, verify=True)


def test_results_map_to_typed_objects(azure_backend, emulator_server):
    created = azure_backend.create_session(**CREATE)
    assert (azure_backend.get_result(created.session_id, verify=False).status) == "NotStarted"
    play_frontend(emulator_server.endpoint, created.auth_token, verify=False, decision="uncertain")
    result = azure_backend.get_result(created.session_id, verify=False)
    assert (result.status, result.liveness_decision, result.verify) == ("ResultAvailable", "uncertain", None)
    assert result.face_rectangle == {"top": 200, "left": 120, "width": 240, "height": 240}
    (entry,) = azure_backend.list_audit_entries(created.session_id, verify=False)
    assert entry.session_id == created.session_id and entry.digest == result.digest
    (remote,) = azure_backend.list_sessions(verify=False)
    assert (remote.session_id, remote.device_correlation_id) == (created.session_id, "device-9")
    azure_backend.delete_session(created.session_id, verify=False)
    assert azure_backend.list_sessions(verify=False) == []


def test_one_sdk_client_per_backend_created_on_first_use(azure_backend):
    assert azure_backend._client is None  # nothing built before the first call
    azure_backend.list_sessions(verify=False)
    first = azure_backend.client
    azure_backend.list_sessions(verify=True)
    assert azure_backend.client is first


def test_provider_errors_map_to_backend_errors(azure_backend, emulator_server):
    faults = emulator_server.state.faults
    with pytest.raises(SessionNotFound):
        azure_backend.get_result("00000000-0000-0000-0000-000000000000", verify=False)
    with pytest.raises(InvalidImage):
        azure_backend.create_verify_session(reference_image=b"no image", **CREATE)
    with pytest.raises(BackendError) as bad:
        azure_backend.create_session(**{**CREATE, "auth_token_ttl_seconds": 5})
    assert (bad.value.code, bad.value.status) == ("BadArgument", 400)

    faults.configure(throttle_next=10, retry_after=0)
    with pytest.raises(Throttled) as throttled:
        azure_backend.list_sessions(verify=False)
    assert throttled.value.transient and throttled.value.retry_after == 0
    faults.reset()

    faults.configure(error_next=10, error_status=503)
    with pytest.raises(ProviderUnavailable) as unavailable:
        azure_backend.list_sessions(verify=False)
    assert unavailable.value.status == 503
    faults.reset()

    faults.configure(drop_next=1)
    with pytest.raises(ProviderUnavailable):
        azure_backend.create_session(**CREATE)


def test_wrong_key_is_unauthorized(emulator_server):
    backend = AzureFaceBackend(endpoint=emulator_server.endpoint, key="not-the-key")
    with pytest.raises(Unauthorized) as caught:
        backend.list_sessions(verify=False)
    assert caught.value.status == 401


def test_transient_error_on_refresh_keeps_the_session_open(azure_backend, emulator_server):
    subject = SubjectFactory()
    session = services.start_session(subject, verify=False)
    play_frontend(emulator_server.endpoint, session.auth_token, verify=False)
    emulator_server.state.faults.configure(throttle_next=10, retry_after=0)
    with pytest.raises(Throttled):
        services.refresh_session(session)
    session.refresh_from_db()
    assert session.status == "created"
    emulator_server.state.faults.reset()
    assert services.refresh_session(session).outcome == "passed"


def test_missing_endpoint_or_key_is_e004(monkeypatch):
    monkeypatch.delenv("VISION_ENDPOINT", raising=False)
    monkeypatch.delenv("VISION_KEY", raising=False)
    with override_settings(LIVENESS={"BACKEND": "django_liveness.backends.azure.AzureFaceBackend"}):
        (message,) = check_liveness_settings()
        assert message.id == "django_liveness.E004"
        assert "no endpoint and no key" in message.msg
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


def test_long_retry_after_is_throttled_at_once(azure_backend, emulator_server):
    # azure-core would sleep the whole 30 s before its retry: a web request must not.
    emulator_server.state.faults.configure(throttle_next=1, retry_after=30)
    started = time.monotonic()
    with pytest.raises(Throttled) as caught:
        azure_backend.list_sessions(verify=False)
    assert time.monotonic() - started < 3
    assert caught.value.retry_after == 30
    assert [e[2] for e in emulator_server.recording.exchanges] == [429]  # not retried


def test_short_retry_after_is_waited_for_and_retried(azure_backend, emulator_server):
    emulator_server.state.faults.configure(throttle_next=1, retry_after=1)
    started = time.monotonic()
    assert azure_backend.list_sessions(verify=False) == []
    assert time.monotonic() - started >= 1
    assert [e[2] for e in emulator_server.recording.exchanges] == [429, 200]


def test_max_retry_after_option_sets_the_cap(emulator_server):
    backend = AzureFaceBackend(endpoint=emulator_server.endpoint, key=emulator_server.key, max_retry_after=0)
    emulator_server.state.faults.configure(throttle_next=1, retry_after=1)
    with pytest.raises(Throttled) as caught:
        backend.list_sessions(verify=False)
    assert caught.value.retry_after == 1
    backend.close()


def test_read_timeout_gives_up_in_time(emulator_server):
    backend = AzureFaceBackend(
        endpoint=emulator_server.endpoint, key=emulator_server.key, read_timeout=1, retry_total=0
    )
    emulator_server.state.faults.configure(latency_ms=1500)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="ServiceResponseTimeoutError"):
        backend.list_sessions(verify=False)
    assert time.monotonic() - started < 1.4
    backend.close()


def test_changing_the_setting_closes_the_old_sdk_client(azure_backend, settings):
    azure_backend.list_sessions(verify=False)
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
        ({"read_timout": 5}, "read_timout"),
    ],
)
def test_bad_options_name_the_key(options, key):
    with pytest.raises(LivenessConfigurationError, match=rf"\b{key}\b"):
        AzureFaceBackend(**{"endpoint": "http://127.0.0.1:1", "key": "k", **options})
