"""``manage.py liveness_check`` against the emulator over HTTP, through the real GA client and the
preview SDK: the success, each failure an operator can meet, and its exit status."""

import re
import socket
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_liveness.operations import config_check
from django_liveness.emulator import views
from django_liveness.emulator.core import LIVENESS, LIVENESS_WITH_VERIFY, EmulatorError
from django_liveness.management.commands.liveness_check import EXIT_STATUS, Command

from .conftest import API_VERSIONS

both_versions = pytest.mark.parametrize("api_version", API_VERSIONS)

KEY = "0123456789abcdef0123456789ab3f9a"
WRONG_KEY = "fedcba9876543210fedcba9876543210"
STEPS = [
    "configuration",
    "resolve the host name",
    "create liveness session",
    "delete liveness session",
    "create liveness-with-verify session",
    "delete liveness-with-verify session",
    "read the liveness settings",
]
SETTINGS_STEP = STEPS[-1]
V13 = "v1.3-preview.1"


@pytest.fixture
def configure(emulator_server, settings, api_version, monkeypatch):
    """``configure(**options)``: LIVENESS on AzureFaceBackend at the emulator, which accepts KEY."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)

    def configure(**options):
        settings.LIVENESS = {
            "BACKEND": "django_liveness.backends.azure.AzureFaceBackend",
            "OPTIONS": {"api_version": api_version, "endpoint": emulator_server.endpoint, "key": KEY, **options},
            "EMULATOR_KEY": KEY,
        }

    configure()
    return configure


def check(*args):
    out = StringIO()
    call_command("liveness_check", *args, stdout=out)
    return out.getvalue()


def failed_check(*args, status):
    """The output and the explanation of a check that fails with exit ``status``."""
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("liveness_check", *args, stdout=out)
    assert caught.value.returncode == status
    output, explanation = out.getvalue(), str(caught.value)
    assert KEY not in output + explanation and WRONG_KEY not in output + explanation
    return output, explanation


def step_lines(output):
    """{step name: (status, rest of the line)} of the report."""
    lines = {}
    for line in output.splitlines():
        for name in STEPS:
            status, _, rest = line.strip().partition(" ")
            if status in ("ok", "failed", "skipped") and rest.strip().startswith(name):
                lines[name] = (status, rest.strip()[len(name) :].strip())
    return lines


def calls(emulator_server):
    """(method, session kind or "settings") of every request the emulator received."""
    return [
        (method, "settings" if "/settings" in path else "verify" if "withverify" in path.lower() else "liveness")
        for method, path, _agent, _key in emulator_server.recording.requests
    ]


def settings_calls(api_version):
    """What the check's last step asks: v1.3's GET /settings, nothing on the older versions."""
    return [("GET", "settings")] if api_version == V13 else []


def left_at_the_emulator(emulator_server):
    emulator = emulator_server.state.emulator
    return emulator.list_sessions(LIVENESS) + emulator.list_sessions(LIVENESS_WITH_VERIFY)


@both_versions
def test_success_creates_and_deletes_both_kinds(configure, emulator_server, api_version):
    output = check()

    assert f"API version: {api_version}" in output
    assert f"endpoint:    {emulator_server.endpoint} (from LIVENESS['OPTIONS']['endpoint'])" in output
    assert "key:         set (32 characters) (from LIVENESS['OPTIONS']['key'])" in output
    # No part of the key (the provider's session ids are random: one may hold its last 4 characters).
    assert "3f9a" not in re.sub(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", "<session id>", output) and KEY not in output
    assert "service:     the liveness emulator, not Azure" in output
    lines = step_lines(output)
    assert list(lines) == STEPS and {status for status, _rest in lines.values()} == {"ok"}
    assert all(" ms" in rest for _status, rest in lines.values())
    assert lines["resolve the host name"][1].endswith("127.0.0.1 -> 127.0.0.1")
    assert lines[STEPS[4]][1].endswith("; sample photo accepted, face quality: high")
    assert "OK: every step passed, in " in output
    assert calls(emulator_server) == [
        ("POST", "liveness"),
        ("DELETE", "liveness"),
        ("POST", "verify"),
        ("DELETE", "verify"),
        *settings_calls(api_version),
    ]
    assert left_at_the_emulator(emulator_server) == []
    assert KEY not in output
    if api_version == V13:
        assert lines[SETTINGS_STEP][1].endswith("abuse monitoring: on")
    else:
        assert lines[SETTINGS_STEP][1].endswith(
            f"abuse monitoring: not available on {api_version} (Face API v1.3-preview.1 has it)"
        )


@both_versions
@pytest.mark.parametrize("kind", ["liveness", "verify"])
def test_kind_limits_the_check_to_one_session(configure, emulator_server, kind, api_version):
    output = check("--kind", kind)

    assert calls(emulator_server) == [("POST", kind), ("DELETE", kind), *settings_calls(api_version)]
    assert left_at_the_emulator(emulator_server) == []
    kind_steps = [name for name in STEPS[2:-1] if ("verify" in name) == (kind == "verify")]
    assert list(step_lines(output)) == STEPS[:2] + kind_steps + [SETTINGS_STEP]


@both_versions
def test_a_wrong_key_is_access_denied_and_names_both_causes(configure, emulator_server):
    configure(key=WRONG_KEY)
    output, explanation = failed_check(status=6)

    assert explanation.startswith("Access denied (401): the key is wrong, or it is the key of another resource")
    assert "another region's endpoint" in explanation and "LIVENESS['OPTIONS']['key']" in explanation
    assert "The service said: Access denied due to invalid subscription key or wrong API endpoint" in explanation
    lines = step_lines(output)
    assert lines["create liveness session"][0] == "failed"
    assert [lines[name][0] for name in STEPS[3:]] == ["skipped"] * 4
    assert "FAILED at 'create liveness session'" in output
    assert len(emulator_server.recording.requests) == 1


@pytest.mark.parametrize(
    "refused_path, begins",
    [
        ("-sessions", "Access denied (403): the service refuses this resource the call. Face liveness is a Limited"),
        ("WithVerify-sessions", "Access denied (403) to the liveness-with-verify session, although the key was"),
    ],
)
def test_forbidden_names_the_approval_face_liveness_needs(configure, monkeypatch, refused_path, begins):
    real_check = views._check_subscription_key

    def check_subscription_key(request):  # the service knows the key, and refuses the feature
        real_check(request)
        if request.path.endswith(refused_path):
            raise EmulatorError(403, "UnsupportedFeature", "Feature is not supported, missing approval.")

    monkeypatch.setattr(views, "_check_subscription_key", check_subscription_key)
    _output, explanation = failed_check(status=6)

    assert explanation.startswith(begins) and "https://aka.ms/facerecognition" in explanation
    assert explanation.endswith("The service said: Feature is not supported, missing approval.")


def test_a_host_name_that_does_not_resolve_is_the_wrong_resource_or_region(configure, emulator_server, monkeypatch):
    host = "westeurop.api.cognitive.microsoft.com"
    configure(endpoint=f"https://{host}/")
    real_getaddrinfo = socket.getaddrinfo
    asked = []

    def getaddrinfo(name, *args, **kwargs):  # no real DNS query: this name is made not to resolve
        if name == host:
            asked.append(name)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    output, explanation = failed_check(status=4)

    assert asked == [host]
    assert explanation.startswith(f"The endpoint's host name {host} does not resolve (")
    assert "check the endpoint (LIVENESS['OPTIONS']['endpoint']), the resource name or the region in it" in explanation
    assert step_lines(output)["resolve the host name"][0] == "failed"
    assert emulator_server.recording.requests == []


@both_versions
def test_a_closed_port_is_unreachable(configure):
    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    configure(endpoint=f"http://127.0.0.1:{port}/emulator")
    _output, explanation = failed_check(status=5)

    assert explanation.startswith(
        f"Unreachable: no answer from 127.0.0.1:{port}: the connection was refused (nothing listens on that port). "
        "Check the host and port of the endpoint (LIVENESS['OPTIONS']['endpoint'])."
    )


@both_versions
def test_a_slow_service_times_out_within_the_timeout_given(configure, emulator_server):
    emulator_server.state.faults.configure(latency_ms=1500)
    _output, explanation = failed_check("--timeout", "0.5", status=5)

    assert explanation.startswith(
        f"Unreachable: no answer from 127.0.0.1:{emulator_server.port}: it timed out "
        "(connection timeout 0.5 s, read timeout 0.5 s)."
    )
    # The emulator still answers, late, and creates the session the check gave up on: wait for it, so that
    # it lands here and not in the next test's emulator (the module's state is shared).
    deadline = time.monotonic() + 5
    while not emulator_server.recording.exchanges and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [session.kind for session in left_at_the_emulator(emulator_server)] == [LIVENESS]


def test_tls_to_a_plain_http_port_fails_the_handshake(configure, emulator_server):
    configure(endpoint=emulator_server.endpoint.replace("http://", "https://"))
    _output, explanation = failed_check("--kind", "liveness", status=5)

    assert f"no answer from 127.0.0.1:{emulator_server.port}: the TLS handshake failed (" in explanation


@both_versions
def test_a_dropped_connection_is_unreachable(configure, emulator_server):
    emulator_server.state.faults.configure(drop_next=1)
    _output, explanation = failed_check(status=5)

    assert explanation.startswith(
        f"Unreachable: no answer from 127.0.0.1:{emulator_server.port}: "
        "the connection was closed before an answer came."
    )


@both_versions
def test_a_refused_sample_photo_says_so(configure, emulator_server, monkeypatch):
    monkeypatch.setattr(config_check, "sample_reference_image", lambda: b"not a photo")
    output, explanation = failed_check(status=1)

    assert explanation.startswith(
        "The Face service refused the sample photo the check sends for the verify session (400). "
        "The endpoint and key were accepted; please report this to django-liveness."
    )
    assert step_lines(output)["create liveness session"][0] == "ok"
    assert left_at_the_emulator(emulator_server) == []


@both_versions
@pytest.mark.parametrize(
    "fault, answered, status, begins, mentions",
    [
        (
            {"throttle_next": 1, "retry_after": 7},
            429,
            8,
            "Throttled: the Face service answered 429 Too Many Requests (Retry-After: 7 s).",
            "Run the check again after 7 s",
        ),
        (
            {"error_next": 1, "error_status": 503},
            503,
            9,
            "The Face service failed (503): the fault is on Azure's side",
            "The service said: Injected fault: the service failed.",
        ),
    ],
)
def test_throttled_or_failed_is_reported_as_answered_without_retries(
    configure, emulator_server, fault, answered, status, begins, mentions
):
    emulator_server.state.faults.configure(**fault)
    output, explanation = failed_check(status=status)

    assert explanation.startswith(begins) and mentions in explanation
    assert [exchange[3] for exchange in emulator_server.recording.exchanges] == [answered]
    assert step_lines(output)["create liveness session"][0] == "failed"


@both_versions
def test_an_endpoint_with_a_path_is_not_found(configure, emulator_server, api_version):
    configure(endpoint=f"{emulator_server.endpoint}/face/{api_version}")
    _output, explanation = failed_check(status=7)

    assert explanation.startswith(
        f"Not found (404): the endpoint (LIVENESS['OPTIONS']['endpoint']) does not serve Face API {api_version} "
        "liveness sessions."
    )


def test_a_missing_key_is_a_configuration_error_before_any_call(configure, emulator_server, monkeypatch):
    monkeypatch.delenv("VISION_KEY", raising=False)
    configure(key=None)
    output, explanation = failed_check(status=3)

    assert explanation.startswith("AzureFaceBackend has no key. Set LIVENESS['OPTIONS'] endpoint and key")
    assert "key:         none" in output
    assert emulator_server.recording.requests == []


def test_an_endpoint_that_is_not_a_url_is_a_configuration_error(configure, emulator_server):
    configure(endpoint="myface.cognitiveservices.azure.com")
    _output, explanation = failed_check(status=3)

    assert explanation.startswith(
        "The endpoint 'myface.cognitiveservices.azure.com' (LIVENESS['OPTIONS']['endpoint']) is not a URL: write it "
        "as https://<resource>.cognitiveservices.azure.com"
    )
    assert emulator_server.recording.requests == []


@both_versions
def test_a_failed_verify_session_after_a_good_liveness_session_leaves_nothing(configure, emulator_server, monkeypatch):
    faults = emulator_server.state.faults
    answers = iter([None, None, "error"])  # the third call: the verify create

    monkeypatch.setattr(faults, "take", lambda: (0, next(answers, None)))
    output, _explanation = failed_check(status=9)

    lines = step_lines(output)
    assert [lines[name][0] for name in STEPS] == ["ok", "ok", "ok", "ok", "failed", "skipped", "skipped"]
    assert left_at_the_emulator(emulator_server) == []


@both_versions
def test_a_failed_deletion_is_tried_again(configure, emulator_server, monkeypatch):
    faults = emulator_server.state.faults
    answers = iter([None, "error"])  # the liveness create succeeds, its deletion fails once

    monkeypatch.setattr(faults, "take", lambda: (0, next(answers, None)))
    output, _explanation = failed_check("--kind", "liveness", status=9)

    status, rest = step_lines(output)["delete liveness session"]
    assert status == "failed" and rest.endswith("deleted on a second try")
    assert left_at_the_emulator(emulator_server) == []


def test_the_in_memory_backend_is_checked_without_a_network():
    output = check()

    assert "service:     in process (LocMemBackend): it never talks to Azure" in output
    assert "endpoint:    none" in output
    status, rest = step_lines(output)["resolve the host name"]
    assert status == "ok" and rest.endswith("ms  skipped: no endpoint")
    assert "OK: every step passed" in output


def test_manage_py_exits_with_the_status_and_prints_the_explanation(configure, capsys):
    configure(key=WRONG_KEY)
    with pytest.raises(SystemExit) as exited:
        Command().run_from_argv(["manage.py", "liveness_check", "--kind", "liveness"])

    assert exited.value.code == 6
    captured = capsys.readouterr()
    assert captured.err.startswith("CommandError: Access denied (401)")
    assert "FAILED at 'create liveness session'" in captured.out
    assert WRONG_KEY not in captured.out + captured.err


def test_every_cause_has_its_own_exit_status():
    assert sorted(EXIT_STATUS) == sorted(config_check.CAUSES)
    assert len(set(EXIT_STATUS.values())) == len(EXIT_STATUS) and 0 not in EXIT_STATUS.values()


def test_a_timeout_must_be_positive():
    with pytest.raises(CommandError, match="--timeout must be"):
        call_command("liveness_check", "--timeout", "0", stdout=StringIO())
