"""The provider-neutral contract every liveness backend implements.

A backend only talks to its provider and returns the small typed objects below; the state
machine, the database and the signals belong to ``django_liveness.services``. Provider JSON,
status strings and error codes stay inside ``backends/``: each backend maps its provider's
states to ``ProviderStatus``, its results to ``SessionResult``, and its errors (through
``error_for``, the one mapping every backend shares) to the ``BackendError`` subclasses of
``django_liveness.exceptions``.
"""

import contextvars
import functools
import json
import time
from dataclasses import dataclass, field
from datetime import datetime

from ..common import costly_work
from ..observability import metrics, tracing
from ..exceptions import (
    BackendError,
    InvalidImage,
    LivenessConfigurationError,
    ProviderUnavailable,
    SessionNotFound,
    Throttled,
    Unauthorized,
    UnsupportedOperation,
)


class ProviderStatus:
    """A provider session's (or attempt's) state, in every provider's and version's terms."""

    NOT_STARTED = "not_started"  # created, nobody has used the token yet
    RUNNING = "running"  # the frontend has called; no result yet
    SUCCEEDED = "succeeded"  # a result is there
    FAILED = "failed"  # ended without a result (every allowed attempt failed)
    CANCELED = "canceled"


# Optional capabilities a backend declares in ``capabilities``.
LIST_SESSIONS = "list_sessions"  # list_sessions(): find provider sessions with no local row
AUDIT_ENTRIES = "audit_entries"  # list_audit_entries(): the provider's log of the frontend's calls
SESSION_IMAGES = "session_images"  # get_session_image(): the captured frame
# create_session() takes user_correlation_id (a str; None: the frontend's SDK sets it), and
# expected_client_ip (an address the capture must come from); liveness sessions only.
USER_CORRELATION = "user_correlation"
CLIENT_IP_BINDING = "client_ip_binding"
# get_liveness_settings(), set_abuse_monitoring(), get_client_assets_token(): the resource's
# liveness settings and the web capture package's feed token (Face API v1.3-preview.1 and later).
LIVENESS_SETTINGS = "liveness_settings"
# What a backend without a capability says besides "has no ...": where to get it.
CAPABILITY_HINTS = {
    LIVENESS_SETTINGS: "the Face API has them from v1.3-preview.1 (GET/PATCH /settings, "
    "GET /settings/getClientAssetsAccessToken): set LIVENESS['OPTIONS']['api_version'] = 'v1.3-preview.1'",
}

# The contract's provider calls, by the operation name their metrics and spans carry.
OPERATIONS = {
    "create_session": "create",
    "create_verify_session": "create_verify",
    "get_result": "get_result",
    "delete_session": "delete",
    "list_audit_entries": "list_audit_entries",
    "list_sessions": "list_sessions",
    "get_session_image": "get_session_image",
    "get_liveness_settings": "get_settings",
    "set_abuse_monitoring": "set_settings",
    "get_client_assets_token": "get_client_assets_token",
}

IMAGE_ERROR_CODES = frozenset({"InvalidImage", "InvalidImageSize", "InvalidImageFormat", "NoFaceDetected"})
# Keys never kept in a stored payload (compared lower-case, without "_" and "-").
SECRET_KEY_PARTS = ("token", "key", "secret", "password", "credential")


@dataclass(frozen=True)
class Verification:
    is_identical: bool
    match_confidence: float


@dataclass(frozen=True)
class ReferenceFace:
    """What the provider found in a verify session's reference image."""

    face_rectangle: dict | None
    quality_for_recognition: str | None = None  # "low" | "medium" | "high"


@dataclass(frozen=True)
class FlaggedSession:
    """Another session's attempt that the service's abuse monitoring flagged with this one (v1.3)."""

    session_id: str
    attempt_id: int
    session_image_id: str = ""


@dataclass(frozen=True)
class AbuseMonitoring:
    """The service's abuse-monitoring verdict on one attempt (Face API v1.3-preview.1 and later)."""

    is_abuse_detected: bool
    other_flagged_sessions: tuple = ()  # FlaggedSession


@dataclass(frozen=True)
class Attempt:
    """One frontend call of a session, as the provider reports it."""

    attempt_id: int
    status: str  # ProviderStatus
    liveness_decision: str | None = None  # "realface" | "spoofface" | "uncertain"
    verification: Verification | None = None
    face_rectangle: dict | None = None
    error_code: str = ""
    error_message: str = ""
    session_image_id: str = ""
    digest: str = ""
    client_ips: tuple = ()  # the addresses the service saw the capture come from (v1.3)
    abuse_monitoring: AbuseMonitoring | None = None  # None: the version or the resource has none


@dataclass(frozen=True)
class CreatedSession:
    session_id: str
    auth_token: str = field(repr=False)  # a secret for the frontend: keep it out of reprs and logs
    expires_at: datetime | None = None  # when the token stops working, as the backend knows it
    reference: ReferenceFace | None = None
    payload: dict = field(default_factory=dict, repr=False)  # sanitized: no token, key or image


@dataclass(frozen=True)
class SessionResult:
    session_id: str
    status: str  # ProviderStatus
    expired: bool = False  # the provider says the token expired (when it says)
    started_at: datetime | None = None
    attempts: tuple = ()  # Attempt, in attempt_id order
    reference: ReferenceFace | None = None
    model_version: str = ""
    latency_ms: int | None = None  # the provider's processing time of the result, when known
    payload: dict = field(default_factory=dict, repr=False)  # sanitized: no token, key or image

    @property
    def result_attempt(self):
        """The latest succeeded attempt: the one whose decision counts."""
        succeeded = [a for a in self.attempts if a.status == ProviderStatus.SUCCEEDED and a.liveness_decision]
        return succeeded[-1] if succeeded else None

    @property
    def last_failed_attempt(self):
        failed = [a for a in self.attempts if a.status == ProviderStatus.FAILED]
        return failed[-1] if failed else None

    @property
    def liveness_decision(self):
        return self.result_attempt.liveness_decision if self.result_attempt else None

    @property
    def verification(self):
        return self.result_attempt.verification if self.result_attempt else None


@dataclass(frozen=True)
class LivenessSettings:
    """The Face resource's liveness settings (v1.3-preview.1's ``GET /settings``)."""

    abuse_monitoring: bool  # sessions created while it is on are watched (isAbuseMonitoringEnabled)
    payload: dict = field(default_factory=dict, repr=False)  # sanitized


@dataclass(frozen=True)
class ClientAssetsToken:
    """Access to the gated web capture package's private npm feed (``getClientAssetsAccessToken``).

    Both tokens are secrets: kept out of reprs, and never logged."""

    access_token: str = field(repr=False)
    base64_access_token: str = field(repr=False)  # what an .npmrc's ``_password`` takes
    expires_at: datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    session_id: str
    request_id: str
    client_request_id: str
    received_at: datetime | None
    request: dict
    response: dict
    digest: str = ""


@dataclass(frozen=True)
class RemoteSession:
    """One row of the provider's session list (used to find orphans)."""

    session_id: str
    created_at: datetime | None
    expired: bool
    device_correlation_id: str = ""


def error_for(status, code="", message="", retry_after=None):
    """The one mapping of a provider's answer (HTTP status, error code) to a BackendError."""
    code = code or (str(status) if status else "")
    if status == 404:
        return SessionNotFound(message, status=status)
    if status == 429:
        return Throttled(message, status=status, retry_after=retry_after)
    if status in (401, 403):
        return Unauthorized(message, status=status)
    if status is None or status >= 500:
        return ProviderUnavailable(message, status=status, retry_after=retry_after)
    if code in IMAGE_ERROR_CODES:
        return InvalidImage(message, status=status)
    return BackendError(message, code=code, status=status)


def parse_retry_after(value):
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def sanitized(payload):
    """``payload`` as JSON-safe data without secrets or bytes, fit to store and show."""

    def clean(value):
        if isinstance(value, dict):
            return {
                str(key): clean(item)
                for key, item in value.items()
                if not _is_secret_key(str(key)) and not isinstance(item, (bytes, bytearray))
            }
        if isinstance(value, (list, tuple)):
            return [clean(item) for item in value if not isinstance(item, (bytes, bytearray))]
        return value

    return json.loads(json.dumps(clean(payload), default=str))


def _is_secret_key(key):
    folded = key.lower().replace("_", "").replace("-", "")
    return any(part in folded for part in SECRET_KEY_PARTS)


_in_provider_call = contextvars.ContextVar("liveness_in_provider_call", default=False)


def observed(operation, method):
    """``method`` (a provider call of the contract) timed, counted and traced as one ``operation``.

    Once per call: an override that calls ``super()`` is observed at the outer level only."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        if _in_provider_call.get():
            return method(self, *args, **kwargs)
        reset = _in_provider_call.set(True)
        costly_work.spend()  # the rate limits count a request that got this far (api/throttling.py)
        attributes = {
            "liveness.operation": operation,
            "liveness.backend": type(self).__name__,
            "liveness.verify": kwargs.get("verify"),
        }
        if operation in ("get_result", "delete", "list_audit_entries"):
            attributes["liveness.provider_session_id"] = kwargs.get("session_id", args[0] if args else None)
        started = time.perf_counter()
        try:
            with tracing.span(f"liveness.provider.{operation}", attributes) as span:
                try:
                    result = method(self, *args, **kwargs)
                except BackendError as error:
                    tracing.set_attributes(
                        span, {"liveness.error_code": error.code, "http.response.status_code": error.status}
                    )
                    metrics.observe_provider_call(operation, time.perf_counter() - started, error.code)
                    raise
            metrics.observe_provider_call(operation, time.perf_counter() - started)
            return result
        finally:
            _in_provider_call.reset(reset)

    return call


class BaseLivenessBackend:
    """Template for a provider backend.

    ``default_options`` lists every option the backend accepts; ``LIVENESS['OPTIONS']`` is
    merged over it and unknown keys are refused, so a typo does not pass silently.
    ``capabilities`` names the optional operations the backend has; the layers above check it
    (``supports``) and adapt when one is missing.

    Every provider call a subclass defines (``OPERATIONS``) is wrapped once, here, in ``observed``:
    its latency and errors go to the metrics and a span to the traces, when those extras are there.
    """

    default_options: dict = {}
    capabilities: frozenset = frozenset()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, operation in OPERATIONS.items():
            if name in cls.__dict__:
                setattr(cls, name, observed(operation, cls.__dict__[name]))

    def __init__(self, **options):
        unknown = sorted(set(options) - set(self.default_options))
        if unknown:
            raise LivenessConfigurationError(
                f"LIVENESS['OPTIONS'] has an unknown key {unknown[0]!r} for {type(self).__name__}; "
                f"known: {', '.join(self.default_options) or 'none'}."
            )
        self.options = {**self.default_options, **options}

    def supports(self, capability):
        return capability in self.capabilities

    def require(self, capability):
        """Raise UnsupportedOperation (a NotImplementedError) unless the backend has ``capability``."""
        if not self.supports(capability):
            hint = CAPABILITY_HINTS.get(capability)
            raise UnsupportedOperation(
                f"{self!r} has no {capability.replace('_', ' ')}" + (f"; {hint}." if hint else "."),
                capability=capability,
            )

    def check(self):
        """Return a list of django.core.checks messages about this backend's configuration."""
        return []

    def close(self):
        """Release what the backend holds open (connections); called when it is replaced."""

    def create_session(
        self,
        *,
        operation_mode: str,
        device_correlation_id: str | None,
        auth_token_ttl_seconds: int,
        enable_session_image: bool = False,
    ) -> CreatedSession:
        raise NotImplementedError

    def create_verify_session(
        self,
        *,
        reference_image: bytes,
        operation_mode: str,
        device_correlation_id: str | None,
        auth_token_ttl_seconds: int,
        enable_session_image: bool = False,
    ) -> CreatedSession:
        raise NotImplementedError

    def get_result(self, session_id: str, *, verify: bool) -> SessionResult:
        raise NotImplementedError

    def delete_session(self, session_id: str, *, verify: bool) -> None:
        raise NotImplementedError

    # --- optional (see ``capabilities``) -------------------------------------------------

    def list_audit_entries(self, session_id: str, *, verify: bool) -> list[AuditEntry]:
        raise NotImplementedError(f"{type(self).__name__} has no audit entries.")

    def list_sessions(self, *, verify: bool) -> list[RemoteSession]:
        raise NotImplementedError(f"{type(self).__name__} cannot list sessions.")

    def get_session_image(self, session_image_id: str) -> bytes:
        raise NotImplementedError(f"{type(self).__name__} has no session images.")

    def get_liveness_settings(self) -> LivenessSettings:
        self.require(LIVENESS_SETTINGS)
        raise NotImplementedError

    def set_abuse_monitoring(self, enabled: bool) -> LivenessSettings:
        """Turn the resource's liveness abuse monitoring on or off (for sessions created after)."""
        self.require(LIVENESS_SETTINGS)
        raise NotImplementedError

    def get_client_assets_token(self) -> ClientAssetsToken:
        self.require(LIVENESS_SETTINGS)
        raise NotImplementedError
