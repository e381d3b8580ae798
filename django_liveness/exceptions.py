"""Errors raised by django-liveness.

Backends raise the ``Backend*`` errors below and nothing else, so the service layer and the
REST API can act on a provider fault without knowing which provider it was.
"""

from django.core.exceptions import ImproperlyConfigured


class LivenessError(Exception):
    """Base class of every error django-liveness raises on purpose."""

    code = "liveness_error"

    def __init__(self, message="", *, code=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class LivenessConfigurationError(ImproperlyConfigured, LivenessError):
    """The ``LIVENESS`` setting (or an optional dependency) is wrong; the message says how to fix it."""

    code = "configuration_error"


class UnsupportedOperation(LivenessError, NotImplementedError):
    """The configured backend (or its Face API version) has no such operation: ``capability`` names
    it (``backends.base.LIST_SESSIONS`` ...), and the message says where to get it."""

    code = "unsupported_operation"

    def __init__(self, message="", *, capability=""):
        super().__init__(message)
        self.capability = capability


# --- Provider (backend) errors -------------------------------------------------------------


class BackendError(LivenessError):
    """The provider refused or failed a call. ``status`` is the HTTP status when there was one."""

    code = "provider_error"
    transient = False  # True when the same call may succeed later

    def __init__(self, message="", *, code=None, status=None, retry_after=None):
        super().__init__(message, code=code)
        self.status = status
        self.retry_after = retry_after


class SessionNotFound(BackendError):
    """The provider has no such session (deleted, or never created there)."""

    code = "not_found"


class Throttled(BackendError):
    """The provider asked us to slow down; ``retry_after`` is in seconds when it said."""

    code = "throttled"
    transient = True


class ProviderUnavailable(BackendError):
    """Timeout, dropped connection or 5xx: the provider may answer later."""

    code = "unavailable"
    transient = True


class InvalidImage(BackendError):
    """The provider rejected the reference image (no face, unsupported, too large ...)."""

    code = "invalid_image"


class Unauthorized(BackendError):
    """The subscription key or endpoint is wrong (401/403)."""

    code = "unauthorized"


class StorageUnavailable(LivenessError):
    """The storage of reference images failed a write (disk, network, permissions); nothing was kept."""

    code = "storage_unavailable"
    transient = True


class StorageMisconfigured(StorageUnavailable):
    """The storage of reference images cannot be written at all (its folder cannot be created, or
    is not writable): a configuration error that trying again does not cure (check id W007)."""

    code = "storage_misconfigured"
    transient = False


# --- Service-layer rule violations ---------------------------------------------------------


class ServiceError(LivenessError):
    """A request that the session state machine refuses; the API turns these into a 4xx."""

    code = "invalid"


class NoReferenceImage(ServiceError):
    code = "no_reference_image"


class ReferenceQualityLow(ServiceError):
    """REQUIRE_REFERENCE_QUALITY: the service rated the reference image "low" for recognition."""

    code = "reference_quality_low"


class ConsentRequired(ServiceError):
    code = "consent_required"


class SubjectErased(ServiceError):
    code = "subject_erased"


class SubjectLocked(ServiceError):
    """Too many failed checks in LIVENESS['LOCKOUT']'s window: no new sessions until ``locked_until``.
    ``retry_after`` is the seconds left, for the API's Retry-After."""

    code = "subject_locked"

    def __init__(self, message="", *, locked_until, retry_after):
        super().__init__(message)
        self.locked_until = locked_until
        self.retry_after = retry_after


class SubjectConflict(ServiceError):
    """The external_id and the user asked for belong to two different subjects."""

    code = "unique"


class SubjectHasSessions(ServiceError):
    """A subject with sessions is erased, not deleted: its sessions are the audit trail."""

    code = "subject_has_sessions"


class InvalidSessionState(ServiceError):
    code = "invalid_state"


# --- Webhooks ------------------------------------------------------------------------------


class WebhookURLRefused(ServiceError):
    """A webhook URL that may not be called: not HTTPS, or an address inside the network
    (loopback, private, link-local, metadata) that LIVENESS['WEBHOOKS']['ALLOWED_PRIVATE_HOSTS']
    does not exempt."""

    code = "webhook_url_refused"
