"""The interface every liveness provider backend implements.

A backend only talks to its provider and returns the small typed objects below; the state
machine, the database and the signals belong to ``django_liveness.services``. Backends raise
only the ``BackendError`` subclasses of ``django_liveness.exceptions``.
"""

from dataclasses import dataclass, field
from datetime import datetime

from ..exceptions import LivenessConfigurationError

# Provider session status values (Face API v1.2-preview.1 ``FaceSessionStatus``).
NOT_STARTED = "NotStarted"
STARTED = "Started"
RESULT_AVAILABLE = "ResultAvailable"


@dataclass(frozen=True)
class CreatedSession:
    session_id: str
    auth_token: str = field(repr=False)  # a secret: keep it out of reprs and logs
    # What the provider found in the reference image of a verify session, when it said.
    reference_face_rectangle: dict | None = None
    reference_quality_for_recognition: str | None = None  # "low" | "medium" | "high"


@dataclass(frozen=True)
class VerifyResult:
    is_identical: bool
    match_confidence: float
    # What the provider reported about the reference image, when it did.
    reference_face_rectangle: dict | None = None
    reference_quality_for_recognition: str | None = None  # "low" | "medium" | "high"


@dataclass(frozen=True)
class SessionResult:
    session_id: str
    status: str  # NOT_STARTED | STARTED | RESULT_AVAILABLE
    expired: bool = False
    created_at: datetime | None = None
    started_at: datetime | None = None
    liveness_decision: str | None = None  # "realface" | "spoofface" | "uncertain", lower-cased
    verify: VerifyResult | None = None
    face_rectangle: dict | None = None  # target face in the capture
    model_version: str = ""
    digest: str = ""
    payload: dict = field(default_factory=dict, repr=False)  # the provider's body, as JSON


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


class BaseLivenessBackend:
    """Template for a provider backend.

    ``default_options`` lists every option the backend accepts; ``LIVENESS['OPTIONS']`` is
    merged over it and unknown keys are refused, so a typo does not pass silently.
    """

    default_options: dict = {}

    def __init__(self, **options):
        unknown = sorted(set(options) - set(self.default_options))
        if unknown:
            raise LivenessConfigurationError(
                f"LIVENESS['OPTIONS'] has an unknown key {unknown[0]!r} for {type(self).__name__}; "
                f"known: {', '.join(self.default_options) or 'none'}."
            )
        self.options = {**self.default_options, **options}

    def check(self):
        """Return a list of django.core.checks messages about this backend's configuration."""
        return []

    def close(self):
        """Release what the backend holds open (connections); called when it is replaced."""

    def create_session(
        self, *, operation_mode: str, device_correlation_id: str | None, auth_token_ttl_seconds: int
    ) -> CreatedSession:
        raise NotImplementedError

    def create_verify_session(
        self,
        *,
        reference_image: bytes,
        operation_mode: str,
        device_correlation_id: str | None,
        auth_token_ttl_seconds: int,
    ) -> CreatedSession:
        raise NotImplementedError

    def get_result(self, session_id: str, *, verify: bool) -> SessionResult:
        raise NotImplementedError

    def delete_session(self, session_id: str, *, verify: bool) -> None:
        raise NotImplementedError

    def list_audit_entries(self, session_id: str, *, verify: bool) -> list[AuditEntry]:
        raise NotImplementedError

    def list_sessions(self, *, verify: bool) -> list[RemoteSession]:
        raise NotImplementedError
