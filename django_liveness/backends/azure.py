"""AzureFaceBackend: the Azure AI Face liveness service, Face API v1.2 (GA) by default.

``OPTIONS["api_version"]`` picks the version: ``"v1.2"`` (GA, on azure-core's ``PipelineClient``,
``azure_ga.py``), ``"v1.3-preview.1"`` (the same client: GA's paths and bodies plus new fields) or
``"v1.2-preview.1"`` (the ``azure-ai-vision-face`` SDK, ``azure_preview.py``).
One client per backend instance (and so per process: ``get_backend`` memoizes the backend),
created on first use. Timeouts and retries are set for a request path: a user waits on these
calls, so seconds, not azure-core's 300-second read timeout.
"""

import os
import threading
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.utils import timezone

from ..conf import liveness_settings
from ..exceptions import LivenessConfigurationError
from . import ga_wire, preview_wire
from .base import (
    AUDIT_ENTRIES,
    CLIENT_IP_BINDING,
    LIST_SESSIONS,
    LIVENESS_SETTINGS,
    SESSION_IMAGES,
    USER_CORRELATION,
    BaseLivenessBackend,
)

GA = "v1.2"
PREVIEW = "v1.2-preview.1"
V13_PREVIEW = "v1.3-preview.1"
API_VERSIONS = (GA, PREVIEW, V13_PREVIEW)
PREVIEWS = (PREVIEW, V13_PREVIEW)
# GA and v1.3 have no session list and no audit endpoint; only v1.3 takes a user correlation id and a
# client address, and has the liveness settings.
CAPABILITIES = {
    GA: frozenset({SESSION_IMAGES}),
    PREVIEW: frozenset({LIST_SESSIONS, AUDIT_ENTRIES, SESSION_IMAGES}),
    V13_PREVIEW: frozenset({SESSION_IMAGES, USER_CORRELATION, CLIENT_IP_BINDING, LIVENESS_SETTINGS}),
}
LIST_PAGE_SIZE = 1000


class AzureFaceBackend(BaseLivenessBackend):
    default_options = {
        "api_version": GA,  # or "v1.3-preview.1", or "v1.2-preview.1" (through the azure-ai-vision-face SDK)
        "endpoint": None,  # default: environment variable VISION_ENDPOINT
        "key": None,  # default: environment variable VISION_KEY
        "connection_timeout": 5,  # seconds to connect
        "read_timeout": 20,  # seconds to wait for an answer
        "retry_total": 3,  # retries of 429, 5xx and connection errors
        "retry_backoff_factor": 0.5,
        "retry_backoff_max": 10,  # longest backoff between retries, seconds
        "max_retry_after": 5,  # seconds; a longer Retry-After is not waited for: Throttled at once
    }

    def __init__(self, **options):
        super().__init__(**options)
        _check_options(self.options)
        check_client_attempts(self.api_version)
        check_client_ip_binding(self.api_version)
        self.endpoint = (self.options["endpoint"] or os.environ.get("VISION_ENDPOINT", "")).rstrip("/")
        self.key = self.options["key"] or os.environ.get("VISION_KEY", "")
        self._client = None
        self._client_lock = threading.Lock()

    def __repr__(self):
        return f"<AzureFaceBackend endpoint={self.endpoint!r} api_version={self.api_version!r}>"  # never the key

    @property
    def api_version(self):
        return self.options["api_version"]

    @property
    def capabilities(self):
        return CAPABILITIES[self.api_version]

    def check(self):
        messages = []
        missing = [name for name, value in (("endpoint", self.endpoint), ("key", self.key)) if not value]
        if missing:
            # A Warning: migrate and the other commands run on a host that has no key yet; under
            # `check --deploy` it is the Error django_liveness.E004 (checks.check_deployment).
            messages.append(
                checks.Warning(
                    f"AzureFaceBackend has no {' and no '.join(missing)}.",
                    hint="Set LIVENESS['OPTIONS'] endpoint and key, or the VISION_ENDPOINT and VISION_KEY "
                    "environment variables.",
                    id="django_liveness.W005",
                )
            )
        if self.uses_emulator and not settings.DEBUG:
            messages.append(
                checks.Warning(
                    "AzureFaceBackend points at the liveness emulator while DEBUG is False.",
                    hint="The emulator is for development and tests; set VISION_ENDPOINT and VISION_KEY of your "
                    "Azure Face resource in production.",
                    id="django_liveness.W001",
                )
            )
        if self.api_version in PREVIEWS:
            messages.append(
                checks.Warning(
                    f"AzureFaceBackend speaks the preview Face API {self.api_version}, which Azure can retire.",
                    hint=f"Remove LIVENESS['OPTIONS']['api_version'] to use the generally available {GA}. "
                    "See docs/backends.md, 'Face API versions'.",
                    id="django_liveness.W002",
                )
            )
        return messages

    @property
    def uses_emulator(self):
        """True when configured with the emulator's key or a loopback endpoint."""
        host = urlsplit(self.endpoint).hostname or ""
        return self.key == liveness_settings.EMULATOR_KEY or host in ("127.0.0.1", "localhost", "::1")

    @property
    def client(self):
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._build_client()
        return self._client

    def _build_client(self):
        if not self.endpoint or not self.key:
            raise LivenessConfigurationError(
                "AzureFaceBackend needs an endpoint and a key: set LIVENESS['OPTIONS'] or VISION_ENDPOINT / VISION_KEY."
            )
        if self.api_version == PREVIEW:
            from .azure_preview import PreviewClient as Client
        else:
            from .azure_ga import GaClient as Client
        return Client(endpoint=self.endpoint, key=self.key, options=self.options)

    def close(self):
        """Close the client (its connection pool); the next call builds a new one."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    @property
    def _wire(self):
        return preview_wire if self.api_version == PREVIEW else ga_wire

    # --- calls -------------------------------------------------------------------------

    def create_session(
        self,
        *,
        operation_mode,
        device_correlation_id,
        auth_token_ttl_seconds,
        enable_session_image=False,
        user_correlation_id="",
        expected_client_ip="",
    ):
        body = create_fields(operation_mode, device_correlation_id, auth_token_ttl_seconds, enable_session_image)
        body.update(version_fields(self.api_version))
        body.update(liveness_fields(self.api_version, user_correlation_id, expected_client_ip))
        return self._wire.created_session(self.client.create_session(body), expires_at=token_expiry(auth_token_ttl_seconds))

    def create_verify_session(
        self, *, reference_image, operation_mode, device_correlation_id, auth_token_ttl_seconds, enable_session_image=False
    ):
        fields = create_fields(operation_mode, device_correlation_id, auth_token_ttl_seconds, enable_session_image)
        fields.update(version_fields(self.api_version))
        body = self.client.create_verify_session(fields, reference_image)
        return self._wire.created_session(body, expires_at=token_expiry(auth_token_ttl_seconds))

    def get_result(self, session_id, *, verify):
        return self._wire.session_result(self.client.get_session(session_id, verify=verify))

    def delete_session(self, session_id, *, verify):
        self.client.delete_session(session_id, verify=verify)

    def get_session_image(self, session_image_id):
        return self.client.get_session_image(session_image_id)

    def list_audit_entries(self, session_id, *, verify):
        self.require(AUDIT_ENTRIES)
        return [preview_wire.audit_entry(entry) for entry in self.client.list_audit_entries(session_id, verify=verify)]

    def list_sessions(self, *, verify):
        self.require(LIST_SESSIONS)
        sessions, start = [], None
        while True:
            page = self.client.list_sessions(verify=verify, start=start, top=LIST_PAGE_SIZE)
            sessions.extend(preview_wire.remote_session(item) for item in page)
            if len(page) < LIST_PAGE_SIZE:
                return sessions
            start = sessions[-1].session_id

    def get_liveness_settings(self):
        self.require(LIVENESS_SETTINGS)
        return ga_wire.liveness_settings(self.client.get_settings())

    def set_abuse_monitoring(self, enabled):
        self.require(LIVENESS_SETTINGS)
        return ga_wire.liveness_settings(self.client.patch_settings(ga_wire.settings_update(abuse_monitoring=enabled)))

    def get_client_assets_token(self):
        self.require(LIVENESS_SETTINGS)
        return ga_wire.client_assets_token(self.client.get_client_assets_token())


def create_fields(operation_mode, device_correlation_id, ttl, enable_session_image=False):
    """The create call's fields, in both API versions. ``device_correlation_id=None``: the frontend's
    SDK sets it (deviceCorrelationIdSetInClient), and the id must then be left out."""
    fields = {"livenessOperationMode": operation_mode, "authTokenTimeToLiveInSeconds": ttl}
    if device_correlation_id is None:
        fields["deviceCorrelationIdSetInClient"] = True
    elif device_correlation_id:
        fields["deviceCorrelationId"] = device_correlation_id
    if enable_session_image:  # both versions' create (JSON and multipart) take it; absent means false
        fields["enableSessionImage"] = True
    return fields


def version_fields(api_version):
    """The create fields only ``api_version`` knows (both kinds): v1.3's numberOfClientAttemptsAllowed."""
    if api_version == V13_PREVIEW:
        return {"numberOfClientAttemptsAllowed": liveness_settings.CLIENT_ATTEMPTS}
    return {}


def liveness_fields(api_version, user_correlation_id, expected_client_ip):
    """The liveness create's v1.3 fields (the verify create has no such form field): the user correlation
    id, or ``userCorrelationIdSetInClient`` when it is None, and the expected client address."""
    if api_version != V13_PREVIEW:
        return {}  # an older version never gets them (it answers 400 Unknown parameter)
    fields = {}
    if user_correlation_id is None:
        fields["userCorrelationIdSetInClient"] = True
    elif user_correlation_id:
        fields["userCorrelationId"] = user_correlation_id
    if expected_client_ip:
        fields["expectedClientIpAddress"] = expected_client_ip
    return fields


def check_client_ip_binding(api_version):
    """LIVENESS['BIND_CLIENT_IP'] needs a version that can be told the address: refuse it at startup."""
    if liveness_settings.BIND_CLIENT_IP and api_version != V13_PREVIEW:
        raise LivenessConfigurationError(
            f"LIVENESS['BIND_CLIENT_IP'] needs Face API {V13_PREVIEW}, but api_version is {api_version!r}: set "
            f"LIVENESS['OPTIONS']['api_version'] = {V13_PREVIEW!r}, or BIND_CLIENT_IP to False."
        )


def client_attempts_allowed(api_version):
    """How many captures a new session allows, when the version lets the create say it (v1.3's
    numberOfClientAttemptsAllowed); None when it cannot (the older versions do not document theirs)."""
    return liveness_settings.CLIENT_ATTEMPTS if api_version == V13_PREVIEW else None


def check_client_attempts(api_version):
    """More than one client attempt needs a version that can be told so: refuse it at startup."""
    attempts = liveness_settings.CLIENT_ATTEMPTS
    if attempts > 1 and api_version != V13_PREVIEW:
        raise LivenessConfigurationError(
            f"LIVENESS['CLIENT_ATTEMPTS'] = {attempts} needs Face API {V13_PREVIEW}, but api_version is "
            f"{api_version!r}: set LIVENESS['OPTIONS']['api_version'] = {V13_PREVIEW!r}, or CLIENT_ATTEMPTS to 1."
        )


def token_expiry(ttl):
    """When a token created now stops working: neither version says, it lives ``ttl`` seconds."""
    return timezone.now() + timedelta(seconds=ttl)


def _check_options(options):
    """Refuse option values of the wrong type now, not at the first request."""

    def refuse(name, expected):
        raise LivenessConfigurationError(f"LIVENESS['OPTIONS'][{name!r}] must be {expected}, got {options[name]!r}.")

    def is_number(value):
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    if options["api_version"] not in API_VERSIONS:
        refuse("api_version", " or ".join(repr(version) for version in API_VERSIONS))
    for name in ("endpoint", "key"):
        if options[name] is not None and not isinstance(options[name], str):
            refuse(name, "a string")
    for name in ("connection_timeout", "read_timeout"):
        if not is_number(options[name]) or options[name] <= 0:
            refuse(name, "a number of seconds > 0")
    for name in ("retry_backoff_factor", "retry_backoff_max", "max_retry_after"):
        if not is_number(options[name]) or options[name] < 0:
            refuse(name, "a number of seconds >= 0")
    retry_total = options["retry_total"]
    if not isinstance(retry_total, int) or isinstance(retry_total, bool) or retry_total < 0:
        refuse("retry_total", "a whole number >= 0")
