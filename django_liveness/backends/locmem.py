"""LocMemBackend: an in-memory Face liveness service for your own tests.

It runs the emulator's rules in process (no HTTP), records every call it receives in
``calls``, and lets a test choose a session's outcome (``complete``) or make the next calls
fail (``fail_next``). See docs/testing.md.
"""

import threading
import uuid

from django.conf import settings
from django.core import checks
from django.utils import timezone

from ..emulator.core import LIVENESS, LIVENESS_WITH_VERIFY, Emulator, EmulatorError
from ..exceptions import BackendError, InvalidImage, SessionNotFound, Throttled, Unauthorized
from ..images import sample_face_image
from . import wire
from .base import BaseLivenessBackend

_KIND = {False: LIVENESS, True: LIVENESS_WITH_VERIFY}


def backend_error(error):
    """The BackendError the Azure backend would raise for the same service error."""
    if error.status == 404:
        return SessionNotFound(error.message, status=404)
    if error.status == 429:
        return Throttled(error.message, status=429, retry_after=error.retry_after)
    if error.status in (401, 403):
        return Unauthorized(error.message, status=error.status)
    if error.code in ("InvalidImage", "InvalidImageSize"):
        return InvalidImage(error.message, status=error.status)
    return BackendError(error.message, code=error.code, status=error.status)


class LocMemBackend(BaseLivenessBackend):
    default_options = {}

    def __init__(self, **options):
        super().__init__(**options)
        # timezone.now honours time-machine/freezegun, so tests can move the clock.
        self.emulator = Emulator(clock=timezone.now)
        self.calls = []  # (operation, kwargs) in order; image bytes are replaced by their length
        self._failures = []
        self._lock = threading.Lock()

    def check(self):
        if not settings.DEBUG:
            return [
                checks.Warning(
                    "LIVENESS['BACKEND'] is the in-memory LocMemBackend while DEBUG is False.",
                    hint="It never talks to Azure. Use django_liveness.backends.azure.AzureFaceBackend in production.",
                    id="django_liveness.W001",
                )
            ]
        return []

    # --- test helpers ------------------------------------------------------------------

    def complete(self, session, *, decision="realface", same_person=True, match_confidence=None, finish=True):
        """Play the frontend: finish ``session`` (a LivenessSession or provider session id).

        Returns the LivenessResponseBody the service records (``{}`` with ``finish=False``).
        """
        session_id = getattr(session, "provider_session_id", session)
        token, kind = self.emulator.token_for(session_id)
        entry = self.emulator.detect(
            token,
            kind,
            sample_face_image(),
            decision=decision,
            same_person=same_person,
            match_confidence=match_confidence,
            finish=finish,
        )
        return entry["response"]["body"]

    def fail_next(self, error, times=1):
        """Make the next ``times`` calls raise ``error`` (a BackendError instance)."""
        with self._lock:
            self._failures.extend([error] * times)

    def reset(self):
        """Forget all sessions, recorded calls and pending failures."""
        with self._lock:
            self.emulator = Emulator(clock=timezone.now)
            self.calls.clear()
            self._failures.clear()

    # --- the backend interface ---------------------------------------------------------

    def _call(self, operation, function, **kwargs):
        with self._lock:
            self.calls.append((operation, {k: len(v) if isinstance(v, bytes) else v for k, v in kwargs.items()}))
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            raise failure
        try:
            return function()
        except EmulatorError as error:
            raise backend_error(error) from None

    @staticmethod
    def _params(operation_mode, device_correlation_id, auth_token_ttl_seconds):
        return {
            "livenessOperationMode": operation_mode,
            "deviceCorrelationId": device_correlation_id or str(uuid.uuid4()),
            "authTokenTimeToLiveInSeconds": auth_token_ttl_seconds,
        }

    def create_session(self, *, operation_mode, device_correlation_id, auth_token_ttl_seconds):
        params = self._params(operation_mode, device_correlation_id, auth_token_ttl_seconds)
        body = self._call(
            "create_session",
            lambda: self.emulator.create_session(LIVENESS, params),
            operation_mode=operation_mode,
            device_correlation_id=device_correlation_id,
            auth_token_ttl_seconds=auth_token_ttl_seconds,
        )
        return wire.created_session(body)

    def create_verify_session(self, *, reference_image, operation_mode, device_correlation_id, auth_token_ttl_seconds):
        params = self._params(operation_mode, device_correlation_id, auth_token_ttl_seconds)
        body = self._call(
            "create_verify_session",
            lambda: self.emulator.create_session(LIVENESS_WITH_VERIFY, params, reference_image),
            reference_image=reference_image,
            operation_mode=operation_mode,
            device_correlation_id=device_correlation_id,
            auth_token_ttl_seconds=auth_token_ttl_seconds,
        )
        return wire.created_session(body)

    def get_result(self, session_id, *, verify):
        body = self._call(
            "get_result", lambda: self.emulator.get_session(_KIND[verify], session_id), session_id=session_id
        )
        return wire.session_result(body)

    def delete_session(self, session_id, *, verify):
        self._call(
            "delete_session", lambda: self.emulator.delete_session(_KIND[verify], session_id), session_id=session_id
        )

    def list_audit_entries(self, session_id, *, verify):
        entries = self._call(
            "list_audit_entries",
            lambda: self.emulator.audit_entries(_KIND[verify], session_id),
            session_id=session_id,
        )
        return [wire.audit_entry(entry) for entry in entries]

    def list_sessions(self, *, verify):
        items = self._call("list_sessions", lambda: self.emulator.list_sessions(_KIND[verify]), verify=verify)
        return [wire.remote_session(item) for item in items]
