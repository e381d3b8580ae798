"""The Face resource's liveness settings (Face API v1.3-preview.1): the backends' typed calls, the
emulator's GET/PATCH /settings and GET /settings/getClientAssetsAccessToken (every answer validated
against the version's spec by the ``emulator_server`` fixture), the two commands, and what the
older versions say instead."""

import base64
import json
import logging
from datetime import datetime, timedelta, timezone
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from django_liveness.backends import ga_wire, get_backend
from django_liveness.backends.base import LIVENESS_SETTINGS, ClientAssetsToken, LivenessSettings
from django_liveness.backends.locmem import LocMemBackend
from django_liveness.exceptions import ProviderUnavailable, Unauthorized, UnsupportedOperation

from .emulator_http import http
from .openapi import spec_dir

V13 = "v1.3-preview.1"
OLDER = ["v1.2", "v1.2-preview.1"]
CREATE = {"operation_mode": "Passive", "device_correlation_id": "device-1", "auth_token_ttl_seconds": 600}
NO_SETTINGS = (
    "has no liveness settings; the Face API has them from v1.3-preview.1 (GET/PATCH /settings, "
    "GET /settings/getClientAssetsAccessToken): set LIVENESS['OPTIONS']['api_version'] = 'v1.3-preview.1'."
)


def _example(name):
    path = spec_dir() / "examples" / V13 / f"LivenessSessionOperations_{name}.json"
    return json.loads(path.read_text())["responses"]["200"]["body"]


def _monitored(backend):
    """isAbuseMonitoringEnabled of a session created now."""
    created = backend.create_session(**CREATE)
    return backend.get_result(created.session_id, verify=False).payload["isAbuseMonitoringEnabled"]


def _emulator_calls(emulator_server):
    return [(method, path.split("/face/")[1]) for method, path, _agent, _key in emulator_server.recording.requests]


# --- the backend over HTTP (AzureFaceBackend's GA client) ------------------------------------------


@pytest.mark.parametrize("api_version", [V13])
def test_v13_reads_and_sets_abuse_monitoring_for_sessions_created_after(azure_backend, emulator_server):
    before = azure_backend.create_session(**CREATE)
    assert azure_backend.get_liveness_settings().abuse_monitoring is True

    settings = azure_backend.set_abuse_monitoring(False)

    assert settings.abuse_monitoring is False and settings.payload == {"livenessAbuseMonitoring": {"enabled": False}}
    assert azure_backend.get_liveness_settings().abuse_monitoring is False
    assert _monitored(azure_backend) is False  # a session created after the change
    assert azure_backend.get_result(before.session_id, verify=False).payload["isAbuseMonitoringEnabled"] is True
    azure_backend.set_abuse_monitoring(True)
    assert _monitored(azure_backend) is True
    patches = [(method, path) for method, path in _emulator_calls(emulator_server) if "settings" in path]
    assert patches == [(m, f"{V13}/settings") for m in ("GET", "PATCH", "GET", "PATCH")]


@pytest.mark.parametrize("api_version", [V13])
def test_v13_client_assets_token_is_typed_and_kept_out_of_reprs(azure_backend):
    token = azure_backend.get_client_assets_token()

    header, claims, _signature = token.access_token.split(".")  # a JWT's three parts
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "HS256", "typ": "JWT"}
    assert json.loads(base64.urlsafe_b64decode(claims + "=="))["iss"] == "liveness-emulator"
    assert base64.b64decode(token.base64_access_token).decode() == token.access_token
    left = token.expires_at - datetime.now(timezone.utc)
    assert timedelta(hours=23) < left <= timedelta(hours=24)
    assert token.access_token not in repr(token) and token.base64_access_token not in repr(token)
    assert azure_backend.get_client_assets_token().access_token != token.access_token  # a new one each time


@pytest.mark.parametrize("api_version", OLDER)
def test_older_versions_have_no_settings_and_say_which_version_has(azure_backend, emulator_server, api_version):
    assert not azure_backend.supports(LIVENESS_SETTINGS)
    for call in (
        azure_backend.get_liveness_settings,
        lambda: azure_backend.set_abuse_monitoring(True),
        azure_backend.get_client_assets_token,
    ):
        with pytest.raises(UnsupportedOperation) as refused:
            call()
        assert str(refused.value) == f"{azure_backend!r} {NO_SETTINGS}" and api_version in str(refused.value)
        assert refused.value.capability == LIVENESS_SETTINGS and isinstance(refused.value, NotImplementedError)
    assert emulator_server.recording.requests == []  # refused before any call


@pytest.mark.parametrize("api_version", [V13])
def test_a_failing_service_is_a_backend_error(azure_backend, emulator_server):
    emulator_server.state.faults.configure(error_next=10, error_status=503)
    with pytest.raises(ProviderUnavailable):
        azure_backend.get_client_assets_token()


# --- LocMemBackend ----------------------------------------------------------------------------------


def test_locmem_has_the_settings_in_v13_per_backend_and_reset_restores_them():
    backend = LocMemBackend(api_version=V13)
    assert backend.supports(LIVENESS_SETTINGS)
    assert backend.set_abuse_monitoring(False).abuse_monitoring is False
    assert _monitored(backend) is False
    assert backend.get_liveness_settings().abuse_monitoring is False
    assert LocMemBackend(api_version=V13).get_liveness_settings().abuse_monitoring is True  # its own resource
    token = backend.get_client_assets_token()
    assert isinstance(token, ClientAssetsToken) and base64.b64decode(token.base64_access_token).decode() == token.access_token
    operations = [operation for operation, _kwargs in backend.calls]
    assert operations == [
        "set_abuse_monitoring",
        "create_session",
        "get_result",
        "get_liveness_settings",
        "get_client_assets_token",
    ]
    assert backend.calls[0] == ("set_abuse_monitoring", {"enabled": False})
    backend.reset()
    assert backend.get_liveness_settings().abuse_monitoring is True


@pytest.mark.parametrize("api_version", OLDER)
def test_locmem_in_an_older_version_has_no_settings(api_version):
    backend = LocMemBackend(api_version=api_version)
    with pytest.raises(UnsupportedOperation, match="has them from v1.3-preview.1"):
        backend.get_liveness_settings()
    assert backend.calls == []


# --- the emulator over HTTP ------------------------------------------------------------------------


def test_emulator_settings_are_v13_only_and_refuse_what_the_spec_does_not_describe(emulator_server):
    key = {"Ocp-Apim-Subscription-Key": emulator_server.key}
    as_json = {**key, "Content-Type": "application/json"}

    def patch(body, headers=as_json, version=V13):
        return http(emulator_server, "PATCH", f"/face/{version}/settings", json.dumps(body).encode(), headers)

    for version in ("v1.2", "v1.2-preview.1"):
        for method, path in (("GET", "settings"), ("GET", "settings/getClientAssetsAccessToken")):
            status, headers, body = http(emulator_server, method, f"/face/{version}/{path}", headers=key)
            assert (status, json.loads(body)["error"]["code"], headers["x-ms-error-code"]) == (404, "404", "404")
        assert patch({"livenessAbuseMonitoring": {"enabled": False}}, version=version)[0] == 404
    assert emulator_server.state.emulator.abuse_monitoring is True  # nothing changed by the 404s

    status, _headers, body = http(emulator_server, "GET", f"/face/{V13}/settings", headers={})
    assert status == 401  # the subscription key, as every app-server call
    refused = [
        ({"enabled": False}, "Unknown parameter: enabled."),  # the data-plane example's flat shape
        ({"livenessAbuseMonitoring": {"enabled": "false"}}, "livenessAbuseMonitoring.enabled must be a boolean."),
        ({"livenessAbuseMonitoring": {"enabled": 0}}, "livenessAbuseMonitoring.enabled must be a boolean."),
        ({"livenessAbuseMonitoring": True}, "livenessAbuseMonitoring must be an object with 'enabled'."),
        ({"livenessAbuseMonitoring": {"on": True}}, "livenessAbuseMonitoring must be an object with 'enabled'."),
    ]
    for body, message in refused:
        status, _headers, answer = patch(body)
        assert (status, json.loads(answer)["error"]) == (400, {"code": "BadArgument", "message": message}), body
    status, _headers, answer = http(emulator_server, "PATCH", f"/face/{V13}/settings", b"[]", as_json)
    assert (status, json.loads(answer)["error"]["message"]) == (400, "body must be a JSON object.")
    status, _headers, _answer = patch({"livenessAbuseMonitoring": {"enabled": False}}, headers={**key, "Content-Type": "text/plain"})
    assert status == 415
    assert http(emulator_server, "DELETE", f"/face/{V13}/settings", headers=key)[0] == 405
    assert http(emulator_server, "POST", f"/face/{V13}/settings/getClientAssetsAccessToken", headers=key)[0] == 405
    assert emulator_server.state.emulator.abuse_monitoring is True

    status, _headers, answer = patch({})  # every SettingsUpdate property is optional: nothing changes
    assert (status, json.loads(answer)) == (200, {"livenessAbuseMonitoring": {"enabled": True}})
    status, _headers, answer = patch({"livenessAbuseMonitoring": {"enabled": False}})
    assert (status, json.loads(answer)) == (200, {"livenessAbuseMonitoring": {"enabled": False}})
    status, _headers, answer = http(emulator_server, "GET", f"/face/{V13}/SETTINGS", headers=key)  # any case
    assert (status, json.loads(answer)) == (200, {"livenessAbuseMonitoring": {"enabled": False}})
    status, _headers, answer = http(emulator_server, "GET", f"/face/{V13}/settings/getClientAssetsAccessToken", headers=key)
    assert status == 200 and set(json.loads(answer)) == {"expiry", "accessToken", "base64AccessToken"}
    # The fixture then validates every answer above against its version's spec.


def test_the_spec_examples_parse():
    settings = ga_wire.liveness_settings(_example("GetSettings"))
    assert settings == LivenessSettings(abuse_monitoring=True, payload={"livenessAbuseMonitoring": {"enabled": True}})
    token = ga_wire.client_assets_token(_example("GetClientAssetsAccessToken"))
    assert (token.access_token, token.base64_access_token) == (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        "ZXlKaGJHY2lPaUpJVXpJMU5pSXNJblI1=",
    )
    assert token.expires_at == datetime(2025, 7, 3, 15, 30, tzinfo=timezone.utc)
    assert ga_wire.settings_update(abuse_monitoring=True) == {"livenessAbuseMonitoring": {"enabled": True}}


# --- the commands ----------------------------------------------------------------------------------


def run(command, *args):
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("api_version", [V13])
def test_liveness_settings_shows_and_sets_abuse_monitoring(azure_backend, emulator_server, caplog):
    caplog.set_level(logging.INFO, logger="django_liveness")
    assert run("liveness_settings") == "Liveness abuse monitoring: on\n"

    output = run("liveness_settings", "--abuse-monitoring", "off")

    assert output == "Liveness abuse monitoring is now off, for sessions created from now on.\n"
    assert emulator_server.state.emulator.abuse_monitoring is False
    assert _monitored(azure_backend) is False
    assert run("liveness_settings") == "Liveness abuse monitoring: off\n"
    assert "Liveness abuse monitoring of the Face resource turned off." in caplog.messages
    run("liveness_settings", "--abuse-monitoring", "on")
    assert _monitored(azure_backend) is True
    with pytest.raises(CommandError, match="invalid choice: 'maybe'"):
        call_command("liveness_settings", "--abuse-monitoring", "maybe", stdout=StringIO(), stderr=StringIO())


@pytest.mark.parametrize("api_version", [V13])
def test_client_assets_token_prints_the_token_and_the_npmrc_and_logs_nothing(azure_backend, emulator_server, caplog):
    caplog.set_level(logging.DEBUG)
    output = run("liveness_client_assets_token")

    token = next(line.split()[-1] for line in output.splitlines() if line.strip().startswith("access token:"))
    encoded = next(line.split()[-1] for line in output.splitlines() if line.strip().startswith("base64 token:"))
    assert base64.b64decode(encoded).decode() == token
    assert "registry=https://pkgs.dev.azure.com/msface/SDK/_packaging/AzureAIVision/npm/registry/" in output
    assert (
        f"//pkgs.dev.azure.com/msface/SDK/_packaging/AzureAIVision/npm/registry/:_password={encoded}" in output
        and f"//pkgs.dev.azure.com/msface/SDK/_packaging/AzureAIVision/npm/:_password={encoded}" in output
    )
    assert "npm install @azure/ai-vision-face-ui" in output
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert token not in logged and encoded not in logged

    only = run("liveness_client_assets_token", "--base64-only").strip()
    assert "\n" not in only and base64.b64decode(only).decode().count(".") == 2


@pytest.mark.parametrize("api_version", OLDER)
@pytest.mark.parametrize("command", [["liveness_settings"], ["liveness_settings", "--abuse-monitoring", "on"], ["liveness_client_assets_token"]])
def test_the_commands_fail_clearly_on_a_version_without_the_endpoints(azure_backend, emulator_server, api_version, command):
    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command(*command, stdout=out)
    assert str(refused.value) == f"{azure_backend!r} {NO_SETTINGS}" and api_version in str(refused.value)
    assert refused.value.returncode == 1 and out.getvalue() == ""
    assert emulator_server.recording.requests == []


@pytest.mark.parametrize("api_version", [V13])
def test_the_commands_say_when_the_service_fails(azure_backend, emulator_server):
    emulator_server.state.faults.configure(error_next=10, error_status=500)  # issue #163's answer
    with pytest.raises(CommandError) as refused:
        run("liveness_client_assets_token")
    assert str(refused.value) == (
        "The Face service failed (500): Injected fault: the service failed. The fault is on Azure's side: "
        "try again in a few minutes."
    )


def test_the_commands_speak_of_locmem_too():
    with override_settings(LIVENESS={"BACKEND": "django_liveness.backends.locmem.LocMemBackend", "OPTIONS": {"api_version": V13}}):
        assert run("liveness_settings", "--abuse-monitoring", "off").startswith("Liveness abuse monitoring is now off")
        assert run("liveness_settings") == "Liveness abuse monitoring: off\n"
        get_backend().fail_next(Unauthorized("Access denied.", status=401))
        with pytest.raises(CommandError) as refused:
            run("liveness_settings", "--abuse-monitoring", "on")
        assert str(refused.value) == "The Face service refused the request (401 unauthorized): Access denied."
        assert run("liveness_settings") == "Liveness abuse monitoring: off\n"  # the refused change changed nothing
    with override_settings(LIVENESS={"BACKEND": "django_liveness.backends.locmem.LocMemBackend"}):
        with pytest.raises(CommandError, match=r"^<LocMemBackend api_version='v1.2'> has no liveness settings; "):
            run("liveness_settings")


@pytest.mark.parametrize("api_version", [V13])
def test_liveness_check_prints_the_abuse_monitoring_state(azure_backend, emulator_server):
    emulator_server.state.emulator.set_abuse_monitoring(False)
    output = run("liveness_check", "--kind", "liveness")
    line = next(line for line in output.splitlines() if "read the liveness settings" in line)
    assert line.strip().startswith("ok") and line.endswith("abuse monitoring: off")
