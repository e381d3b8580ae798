"""OpenTelemetry spans, exported to the SDK's in-memory exporter: a lifecycle against the emulator
(GA client and preview SDK), a provider error, the sync's threads, and what is never recorded."""

import base64

import pytest

from django_liveness import services
from django_liveness.backends.locmem import LocMemBackend
from django_liveness.exceptions import Throttled
from django_liveness.testing import ReferenceImageFactory, SubjectFactory

from .conftest import API_VERSIONS

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def exporter():
    """A tracer provider exporting to memory, set as a host sets its own, and unset after the module."""
    from azure.core.instrumentation import _get_tracer_cached
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.util._once import Once

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    assert trace.get_tracer_provider() is provider
    yield exporter
    provider.shutdown()
    # Back to a process without a tracer provider (as opentelemetry-test-utils resets it).
    trace._TRACER_PROVIDER = None
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    _get_tracer_cached.cache_clear()  # azure-core keeps its tracer


@pytest.fixture
def spans(exporter):
    """Call it for the spans finished since the test began."""
    exporter.clear()
    return exporter.get_finished_spans


def named(finished, name):
    (span,) = [span for span in finished if span.name == name]
    return span


def chain(finished, span):
    """The names from ``span`` up to its root."""
    by_id = {item.context.span_id: item for item in finished}
    names = [span.name]
    while span.parent is not None:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


def http_span(finished, method, path_part):
    (span,) = [
        span
        for span in finished
        if span.attributes.get("http.request.method") == method and path_part in span.attributes.get("url.full", "")
    ]
    return span


def recorded(finished):
    """Everything the spans carry: names, attribute values, events and their attributes, statuses."""
    for span in finished:
        yield span.name
        yield from span.attributes.values()
        yield span.status.description or ""
        for event in span.events:
            yield event.name
            yield from event.attributes.values()


def assert_nothing_secret(finished, *secrets, image=b""):
    values = list(recorded(finished))
    assert not [value for value in values if isinstance(value, (bytes, bytearray))]
    text = "\n".join(str(value) for value in values)
    for secret in secrets:
        assert secret and secret not in text
    if image:
        for form in (base64.b64encode(image[:30]).decode()[:32], repr(image[:8])[2:-1], image[:8].hex()):
            assert form not in text


@pytest.mark.parametrize("api_version", API_VERSIONS)
def test_a_lifecycle_is_traced_down_to_the_http_calls(
    azure_backend, emulator_server, frontend, spans, api_version, django_capture_on_commit_callbacks
):
    subject = SubjectFactory()
    reference = ReferenceImageFactory(subject=subject)
    with django_capture_on_commit_callbacks(execute=True):
        session = services.start_session(subject, verify=True)
    token = session.auth_token
    frontend(token, verify=True)
    with django_capture_on_commit_callbacks(execute=True):  # the result's remote work runs on commit
        session = services.refresh_session(session)
    finished = spans()

    start = named(finished, "liveness.start_session")
    ids = {"liveness.session_id": str(session.pk), "liveness.provider_session_id": session.provider_session_id}
    assert dict(start.attributes) == {
        "liveness.subject_id": str(subject.pk),
        **ids,
        "liveness.kind": "liveness_with_verify",
        "liveness.status": "created",
    }
    create = named(finished, "liveness.provider.create_verify")
    assert dict(create.attributes) == {"liveness.operation": "create_verify", "liveness.backend": "AzureFaceBackend"}
    sdk = ["FaceSessionClient.create_liveness_with_verify_session"] if api_version == "v1.2-preview.1" else []
    verify_sessions = {"v1.2": "-sessions", "v1.3-preview.1": "-sessions", "v1.2-preview.1": "/singleModal/sessions"}
    path = f"/detectLivenessWithVerify{verify_sessions[api_version]}"
    post = http_span(finished, "POST", f"/face/{api_version}{path}")
    assert chain(finished, post) == [post.name, *sdk, "liveness.provider.create_verify", "liveness.start_session"]
    assert post.attributes["http.response.status_code"] == 200
    assert post.attributes["url.full"] == f"{emulator_server.endpoint}/face/{api_version}{path}"

    refresh = named(finished, "liveness.refresh_session")
    assert refresh.parent is None
    assert dict(refresh.attributes) == {
        **ids,
        "liveness.kind": "liveness_with_verify",
        "liveness.status": "completed",  # no outcome: a person's result stays out of traces
    }
    get_result = named(finished, "liveness.provider.get_result")
    assert dict(get_result.attributes) == {
        "liveness.operation": "get_result",
        "liveness.backend": "AzureFaceBackend",
        "liveness.provider_session_id": session.provider_session_id,
        "liveness.verify": True,
    }
    get = http_span(finished, "GET", f"{path}/{session.provider_session_id}")
    assert chain(finished, get)[-2:] == ["liveness.provider.get_result", "liveness.refresh_session"]

    delete = http_span(finished, "DELETE", session.provider_session_id)
    assert chain(finished, delete)[-3:] == [
        "liveness.provider.delete",
        "liveness.delete_remote_session",
        "liveness.finish_remote_session",  # on commit, after the refresh
    ]
    image_fetch = named(finished, "liveness.provider.get_session_image")
    assert chain(finished, image_fetch)[-1] == "liveness.finish_remote_session"

    reference.file.open("rb")
    with reference.file:
        image = reference.file.read()
    assert_nothing_secret(finished, token, emulator_server.key, image=image)


def test_a_provider_error_is_on_its_span(azure_backend, emulator_server, frontend, spans):
    session = services.start_session(SubjectFactory(), verify=False)
    emulator_server.state.faults.configure(throttle_next=1, retry_after=60)
    with pytest.raises(Throttled):
        services.refresh_session(session)
    finished = spans()

    get_result = named(finished, "liveness.provider.get_result")
    assert get_result.status.status_code.name == "ERROR"
    assert (get_result.attributes["liveness.error_code"], get_result.attributes["http.response.status_code"]) == (
        "throttled",
        429,
    )
    refresh = named(finished, "liveness.refresh_session")
    assert refresh.status.status_code.name == "ERROR"
    assert [event.attributes["exception.type"] for event in refresh.events] == ["django_liveness.exceptions.Throttled"]
    assert http_span(finished, "GET", session.provider_session_id).attributes["http.response.status_code"] == 429
    assert_nothing_secret(finished, session.auth_token, emulator_server.key)


def test_the_sync_threads_calls_are_under_its_span(locmem, spans):
    session = services.start_session(SubjectFactory(), verify=False)
    locmem.complete(session)
    spans_before = len(spans())

    assert services.sync_sessions()["changed"] == 1
    finished = spans()[spans_before:]

    assert chain(finished, named(finished, "liveness.provider.get_result")) == [
        "liveness.provider.get_result",
        "liveness.sync_sessions",
    ]
    delete = named(finished, "liveness.provider.delete")
    assert chain(finished, delete) == ["liveness.provider.delete", "liveness.sync_sessions"]


class Subclassed(LocMemBackend):
    """A backend that overrides a call and calls the base class's."""

    def get_result(self, session_id, *, verify):
        return super().get_result(session_id, verify=verify)


def test_an_overriding_backend_is_traced_once_per_call(settings, spans):
    settings.LIVENESS = {**settings.LIVENESS, "BACKEND": f"{__name__}.Subclassed"}
    session = services.start_session(SubjectFactory(), verify=False)
    services.refresh_session(session)
    assert [span.name for span in spans()].count("liveness.provider.get_result") == 1


def test_no_spans_when_tracing_is_off(settings, locmem, spans):
    settings.LIVENESS = {**settings.LIVENESS, "TRACING": False}
    session = services.start_session(SubjectFactory(), verify=False)
    services.refresh_session(session)
    assert spans() == ()
