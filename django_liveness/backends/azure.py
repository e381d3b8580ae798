"""AzureFaceBackend: the Face liveness service through the ``azure-ai-vision-face`` SDK.

One ``FaceSessionClient`` per backend instance (and so per process: ``get_backend`` memoizes
the backend), created on first use. Timeouts and retries are set for a request path: a user
waits on these calls, so seconds, not azure-core's 300-second read timeout.
"""

import os
import threading
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

from ..conf import liveness_settings
from ..exceptions import (
    BackendError,
    InvalidImage,
    LivenessConfigurationError,
    ProviderUnavailable,
    SessionNotFound,
    Throttled,
    Unauthorized,
)
from . import wire
from .base import BaseLivenessBackend

API_VERSION = "v1.2-preview.1"
IMAGE_ERROR_CODES = {"InvalidImage", "InvalidImageSize", "InvalidImageFormat", "NoFaceDetected"}


def _import_sdk():
    try:
        from azure.ai.vision.face import FaceSessionClient, models
        from azure.core import exceptions
        from azure.core.credentials import AzureKeyCredential
    except ImportError as error:
        raise LivenessConfigurationError(
            'AzureFaceBackend needs the Azure SDK: pip install "django-liveness[azure]" '
            f"(could not import it: {error})."
        ) from error
    return FaceSessionClient, models, exceptions, AzureKeyCredential


class AzureFaceBackend(BaseLivenessBackend):
    default_options = {
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
        self.endpoint = (self.options["endpoint"] or os.environ.get("VISION_ENDPOINT", "")).rstrip("/")
        self.key = self.options["key"] or os.environ.get("VISION_KEY", "")
        self._client = None
        self._client_lock = threading.Lock()

    def __repr__(self):
        return f"<AzureFaceBackend endpoint={self.endpoint!r}>"  # never the key

    def check(self):
        messages = []
        missing = [name for name, value in (("endpoint", self.endpoint), ("key", self.key)) if not value]
        if missing:
            messages.append(
                checks.Error(
                    f"AzureFaceBackend has no {' and no '.join(missing)}.",
                    hint="Set LIVENESS['OPTIONS'] endpoint and key, or the VISION_ENDPOINT and VISION_KEY "
                    "environment variables.",
                    id="django_liveness.E004",
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
        FaceSessionClient, _models, _exceptions, AzureKeyCredential = _import_sdk()
        if not self.endpoint or not self.key:
            raise LivenessConfigurationError(
                "AzureFaceBackend needs an endpoint and a key: set LIVENESS['OPTIONS'] or VISION_ENDPOINT / VISION_KEY."
            )
        from .azure_retry import CappedRetryPolicy

        options = self.options
        return FaceSessionClient(
            endpoint=self.endpoint,
            credential=AzureKeyCredential(self.key),
            api_version=API_VERSION,
            connection_timeout=options["connection_timeout"],
            read_timeout=options["read_timeout"],
            retry_policy=CappedRetryPolicy(
                max_retry_after=options["max_retry_after"],
                retry_total=options["retry_total"],
                retry_backoff_factor=options["retry_backoff_factor"],
                retry_backoff_max=options["retry_backoff_max"],
            ),
        )

    def close(self):
        """Close the SDK client (its connection pool); the next call builds a new one."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # --- calls -------------------------------------------------------------------------

    def _call(self, function, *args, **kwargs):
        _FaceSessionClient, _models, exceptions, _credential = _import_sdk()
        try:
            return function(*args, **kwargs)
        except exceptions.HttpResponseError as error:
            raise _translate(error) from None
        except (exceptions.ServiceRequestError, exceptions.ServiceResponseError) as error:
            raise ProviderUnavailable(f"The Face service could not be reached: {type(error).__name__}.") from None

    def create_session(self, *, operation_mode, device_correlation_id, auth_token_ttl_seconds):
        body = {
            "livenessOperationMode": operation_mode,
            "deviceCorrelationId": device_correlation_id,
            "authTokenTimeToLiveInSeconds": auth_token_ttl_seconds,
        }
        result = self._call(self.client.create_liveness_session, body)
        return wire.created_session(result.as_dict())

    def create_verify_session(self, *, reference_image, operation_mode, device_correlation_id, auth_token_ttl_seconds):
        _FaceSessionClient, models, _exceptions, _credential = _import_sdk()
        # SDK 1.0.0b2 sends the multipart create only for this model class, not for a dict.
        content = models.CreateLivenessWithVerifySessionContent(
            liveness_operation_mode=operation_mode,
            device_correlation_id=device_correlation_id,
            auth_token_time_to_live_in_seconds=auth_token_ttl_seconds,
        )
        result = self._call(self.client.create_liveness_with_verify_session, content, verify_image=reference_image)
        return wire.created_session(result.as_dict())

    def get_result(self, session_id, *, verify):
        get = self.client.get_liveness_with_verify_session_result if verify else self.client.get_liveness_session_result
        return wire.session_result(self._call(get, session_id).as_dict())

    def delete_session(self, session_id, *, verify):
        delete = self.client.delete_liveness_with_verify_session if verify else self.client.delete_liveness_session
        self._call(delete, session_id)

    def list_audit_entries(self, session_id, *, verify):
        client = self.client
        audit = (
            client.get_liveness_with_verify_session_audit_entries if verify else client.get_liveness_session_audit_entries
        )
        return [wire.audit_entry(entry.as_dict()) for entry in self._call(audit, session_id)]

    def list_sessions(self, *, verify):
        client = self.client
        list_page = client.get_liveness_with_verify_sessions if verify else client.get_liveness_sessions
        sessions, start = [], None
        while True:
            page = self._call(list_page, start=start, top=1000)
            sessions.extend(wire.remote_session(item.as_dict()) for item in page)
            if len(page) < 1000:
                return sessions
            start = sessions[-1].session_id


def _check_options(options):
    """Refuse option values of the wrong type now, not at the first request."""

    def refuse(name, expected):
        raise LivenessConfigurationError(f"LIVENESS['OPTIONS'][{name!r}] must be {expected}, got {options[name]!r}.")

    def is_number(value):
        return isinstance(value, (int, float)) and not isinstance(value, bool)

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


def _translate(error):
    """An azure-core HttpResponseError as one of our BackendErrors."""
    status = error.status_code
    code, message = str(status), str(error.message or "")
    response = error.response
    try:
        body = response.json()["error"]
        code, message = body.get("code") or code, body.get("message") or message
    except Exception:  # not the service's error body (a proxy, a gateway ...)
        pass
    if status == 404:
        return SessionNotFound(message, status=status)
    if status == 429:
        return Throttled(message, status=status, retry_after=_retry_after(response))
    if status in (401, 403):
        return Unauthorized(message, status=status)
    if status >= 500:
        return ProviderUnavailable(message, status=status, retry_after=_retry_after(response))
    if code in IMAGE_ERROR_CODES:
        return InvalidImage(message, status=status)
    return BackendError(message, code=code, status=status)


def _retry_after(response):
    try:
        return int(float(response.headers.get("Retry-After")))
    except (TypeError, ValueError):
        return None
