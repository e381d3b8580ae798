"""Prometheus metrics (the ``metrics`` extra): counters and histograms recorded as things happen.

Nothing here imports prometheus_client until a metric is first recorded, and nothing is recorded
when it is not installed: a host without the extra pays one lookup of the package, once. The
counters of sessions and reviews follow the app's own signals (sent once, after commit), connected
in ``AppConfig.ready`` only when prometheus_client is there; the provider calls are timed by the
backend base class (``backends.base``). The metric objects live in prometheus_client's default
registry, so its multiprocess mode (PROMETHEUS_MULTIPROC_DIR, gunicorn) works as documented, and a
host that already exposes that registry sees them too. The gauges are computed when the view is
scraped (``collector``); the view is ``django_liveness.observability.metrics.views.metrics_view``.
"""

import importlib.util
import threading

from ... import signals
from ...exceptions import LivenessConfigurationError

# Provider calls: a few milliseconds (the emulator) to the read timeout (20 s by default) and retries.
PROVIDER_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40)
# From a session's creation to its result: seconds (an app that completes at once) to a day (the sync).
TIME_TO_RESULT_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)

_lock = threading.Lock()
_metrics = None
_available = None


def available():
    """True when prometheus_client can be imported (found once, without importing it)."""
    global _available
    if _available is None:
        try:
            _available = importlib.util.find_spec("prometheus_client") is not None
        except (ImportError, ValueError):  # ValueError: sys.modules holds None for it (import blocked)
            _available = False
    return _available


def import_prometheus_client():
    """prometheus_client, or a configuration error that says how to install it."""
    try:
        import prometheus_client
    except ImportError as error:
        raise LivenessConfigurationError(
            'django-liveness\'s metrics need prometheus_client: pip install "django-liveness[metrics]" '
            f"(could not import it: {error})."
        ) from error
    return prometheus_client


class Metrics:
    """The metric objects, created once per process in prometheus_client's default registry."""

    def __init__(self):
        from prometheus_client import Counter, Histogram

        self.sessions_created = Counter(
            "liveness_sessions_created", "Sessions created at the provider, by kind.", ["kind"]
        )
        self.sessions_completed = Counter(
            "liveness_sessions_completed", "Sessions that got a result, by kind and outcome.", ["kind", "outcome"]
        )
        self.sessions_ended = Counter(
            "liveness_sessions_ended",
            "Sessions that ended without a result (expired, canceled, failed), by kind and status.",
            ["kind", "status"],
        )
        self.abuse_flagged = Counter(
            "liveness_abuse_flagged_sessions",
            "Sessions the Face service's abuse monitoring flagged (v1.3-preview.1), by kind.",
            ["kind"],
        )
        self.reviews = Counter("liveness_reviews", "Staff reviews of completed sessions, by decision.", ["decision"])
        self.provider_errors = Counter(
            "liveness_provider_errors",
            "Provider calls that failed, by operation and error code (throttled, unavailable, not_found ...).",
            ["operation", "code"],
        )
        self.provider_duration = Histogram(
            "liveness_provider_request_duration_seconds",
            "Time of one provider call (retries included), failed or not, by operation.",
            ["operation"],
            buckets=PROVIDER_BUCKETS,
        )
        self.time_to_result = Histogram(
            "liveness_time_to_result_seconds",
            "Time from a session's creation to its stored result, by kind.",
            ["kind"],
            buckets=TIME_TO_RESULT_BUCKETS,
        )


def get_metrics():
    """The process's ``Metrics`` (created at the first call), or None without prometheus_client."""
    global _metrics
    if _metrics is None and available():
        with _lock:
            if _metrics is None:
                _metrics = Metrics()
    return _metrics


def observe_provider_call(operation, seconds, error_code=None):
    """Record one provider call ``operation`` that took ``seconds`` (and failed with ``error_code``)."""
    metrics = get_metrics()
    if metrics is None:
        return
    metrics.provider_duration.labels(operation=operation).observe(seconds)
    if error_code is not None:
        metrics.provider_errors.labels(operation=operation, code=error_code).inc()


# --- the app's signals -------------------------------------------------------------------------


def count_created(sender, *, session, **kwargs):
    get_metrics().sessions_created.labels(kind=session.kind).inc()


def count_completed(sender, *, session, outcome, **kwargs):
    metrics = get_metrics()
    metrics.sessions_completed.labels(kind=session.kind, outcome=outcome).inc()
    _count_abuse(metrics, session)
    if session.completed_at and session.created_at:
        seconds = max((session.completed_at - session.created_at).total_seconds(), 0)
        metrics.time_to_result.labels(kind=session.kind).observe(seconds)


def count_ended(sender, *, session, status, **kwargs):
    metrics = get_metrics()
    metrics.sessions_ended.labels(kind=session.kind, status=status).inc()
    _count_abuse(metrics, session)


def _count_abuse(metrics, session):
    """A session flagged by the service's abuse monitoring, counted once: when it got its result or ended."""
    if session.abuse_detected:
        metrics.abuse_flagged.labels(kind=session.kind).inc()


def count_reviewed(sender, *, decision, **kwargs):
    get_metrics().reviews.labels(decision=decision).inc()


RECEIVERS = (
    (signals.session_created, count_created),
    (signals.session_completed, count_completed),
    (signals.session_ended, count_ended),
    (signals.session_reviewed, count_reviewed),
)


def connect():
    """Count the app's signals (called by ``AppConfig.ready``); nothing without prometheus_client."""
    if not available():
        return
    for signal, receiver in RECEIVERS:
        signal.connect(receiver, dispatch_uid=f"liveness-metrics-{receiver.__name__}")
