"""OpenTelemetry spans of the service operations and the provider calls (the ``tracing`` extra).

opentelemetry-api is imported at the first span, and only when it is installed and
``LIVENESS['TRACING']`` is on; otherwise every helper here does nothing. The spans go to the
host's tracer provider (none configured: OpenTelemetry drops them). A span carries ids, kinds,
statuses and error codes: never an auth token, a key, an image or face data (docs/operations.md).
"""

import contextlib
import functools

from .. import __version__
from ..conf import liveness_settings

_NOT_LOADED = object()
_trace_api = _NOT_LOADED


def _api():
    """``opentelemetry.trace``, or None when opentelemetry-api is not installed (looked up once)."""
    global _trace_api
    if _trace_api is _NOT_LOADED:
        try:
            from opentelemetry import trace
        except ImportError:
            trace = None
        _trace_api = trace
    return _trace_api


def enabled():
    return liveness_settings.TRACING and _api() is not None


@contextlib.contextmanager
def span(name, attributes=None):
    """A span ``name`` with ``attributes`` (a dict) around the block, child of the current span; yields it
    (None when tracing is off).

    An exception leaving the block is recorded on the span (its type and message) and re-raised."""
    if not enabled():
        yield None
        return
    tracer = _api().get_tracer("django_liveness", __version__)
    with tracer.start_as_current_span(name, attributes=_present(attributes or {})) as current:
        yield current


def set_attributes(current, attributes):
    """Add ``attributes`` (a dict; those not None or empty) to the span ``current`` (None: nothing)."""
    if current is not None:
        current.set_attributes(_present(attributes))


def traced(name):
    """Decorate a service function: a span ``name`` around it, with the ids of its first argument (a
    session or a subject) and, when it returns a session, that session's ids, kind and status."""

    def decorate(function):
        @functools.wraps(function)
        def run(*args, **kwargs):
            if not enabled():
                return function(*args, **kwargs)
            with span(name, record_attributes(args[0] if args else None)) as current:
                result = function(*args, **kwargs)
                set_attributes(current, record_attributes(result))
                return result

        return run

    return decorate


def propagating(function):
    """``function``, to be run in another thread (a pool's), with the current span as its spans' parent."""
    if not enabled():
        return function
    from opentelemetry import context

    parent = context.get_current()

    @functools.wraps(function)
    def run(*args, **kwargs):
        token = context.attach(parent)
        try:
            return function(*args, **kwargs)
        finally:
            context.detach(token)

    return run


def record_attributes(record):
    """The span attributes of a session or a subject: ids and states. Nothing secret, and no result (the
    outcome, decision or confidence of a check is personal data, which traces kept elsewhere could not erase)."""
    meta = getattr(record, "_meta", None)
    if meta is None or meta.app_label != "django_liveness":
        return {}
    if meta.model_name == "livenesssession":
        return {
            "liveness.session_id": str(record.pk),
            "liveness.provider_session_id": record.provider_session_id,
            "liveness.kind": record.kind,
            "liveness.status": record.status,
        }
    if meta.model_name == "subject":
        return {"liveness.subject_id": str(record.pk)}
    return {}


def azure_options():
    """Keyword arguments that turn azure-core's tracing on for one call of ours (its HTTP span, and the
    SDK method's span), without changing the process-wide ``azure.core.settings`` other clients follow.
    Empty when tracing is off or azure-core predates per-call tracing options (1.33)."""
    if not enabled():
        return {}
    try:
        import azure.core.instrumentation  # noqa: F401  (azure-core >= 1.33: native OpenTelemetry tracing)
    except ImportError:
        return {}
    return {"tracing_options": {"enabled": True}}


def _present(attributes):
    return {key: value for key, value in attributes.items() if value is not None and value != ""}
