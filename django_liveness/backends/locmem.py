"""LocMemBackend: an in-memory Face liveness service for your own tests.

It runs the emulator's rules in process (no HTTP) and reads the emulator's answers with the
same parsers as AzureFaceBackend, in the API version of ``OPTIONS["api_version"]`` (GA v1.2 by
default; v1.3-preview.1 includes the resource's liveness settings, kept per backend and reset by
``reset``). It records every call it receives in ``calls``, and lets a test choose a session's
outcome (``complete``) or make the next calls fail (``fail_next``). See docs/testing.md.
"""

import threading

from django.conf import settings
from django.core import checks
from django.utils import timezone

from ..emulator.core import LIVENESS, LIVENESS_WITH_VERIFY, Emulator, EmulatorError
from ..emulator.ga import GaApi
from ..emulator.preview import PreviewApi
from ..exceptions import LivenessConfigurationError
from ..images import sample_face_image
from . import ga_wire, preview_wire
from .azure import (
    CAPABILITIES,
    GA,
    PREVIEW,
    V13_PREVIEW,
    check_client_attempts,
    check_client_ip_binding,
    create_fields,
    liveness_fields,
    token_expiry,
    version_fields,
)
from .base import AUDIT_ENTRIES, LIST_SESSIONS, LIVENESS_SETTINGS, BaseLivenessBackend, error_for

_KIND = {False: LIVENESS, True: LIVENESS_WITH_VERIFY}


class LocMemBackend(BaseLivenessBackend):
    default_options = {"api_version": GA}
    uses_emulator = True  # the hosted capture page offers the test-mode capture
    endpoint = ""  # in process: no browser can reach it

    @property
    def api_version(self):
        return self.options["api_version"]

    def __init__(self, **options):
        super().__init__(**options)
        if self.options["api_version"] not in (GA, PREVIEW, V13_PREVIEW):
            raise LivenessConfigurationError(
                f"LIVENESS['OPTIONS']['api_version'] must be {GA!r}, {V13_PREVIEW!r} or {PREVIEW!r}, "
                f"got {self.options['api_version']!r}."
            )
        check_client_attempts(self.api_version)
        check_client_ip_binding(self.api_version)
        self.calls = []  # (operation, kwargs) in order; image bytes are replaced by their length
        self._failures = []
        self._lock = threading.Lock()
        self._start()

    def __repr__(self):
        return f"<{type(self).__name__} api_version={self.api_version!r}>"

    def _start(self):
        # timezone.now honours time-machine/freezegun, so tests can move the clock.
        self.emulator = Emulator(clock=timezone.now)
        preview = self.options["api_version"] == PREVIEW
        self._api = PreviewApi(self.emulator) if preview else GaApi(self.emulator, self.api_version)
        self._wire = preview_wire if preview else ga_wire

    @property
    def capabilities(self):
        return CAPABILITIES[self.options["api_version"]]

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

    def complete(
        self,
        session,
        *,
        decision="realface",
        same_person=True,
        match_confidence=None,
        finish=True,
        error_code="",
        client_ip="",
        abuse_flagged_with=None,
    ):
        """Play the frontend: one capture of ``session`` (a LivenessSession or provider session id).

        ``error_code`` (``"FaceWithMaskDetected"`` ...) makes this attempt fail; the session then
        allows another, up to three in all (v1.3-preview.1: ``LIVENESS["CLIENT_ATTEMPTS"]``). ``finish=False`` leaves the attempt running.
        v1.3-preview.1: ``client_ip`` is the address the capture comes from (one outside the session's
        expected address fails ``ClientIpAddressMismatch``; none: not checked); ``abuse_flagged_with``
        (provider session ids, or LivenessSessions; ``[]`` for none) has the abuse monitoring flag it.
        """
        flagged = None
        if abuse_flagged_with is not None:
            flagged = [getattr(other, "provider_session_id", other) for other in abuse_flagged_with]
        session_id = getattr(session, "provider_session_id", session)
        token, kind = self.emulator.token_for(session_id)
        self.emulator.detect(
            token,
            kind,
            sample_face_image(),
            api_version=self.options["api_version"],
            decision=decision,
            same_person=same_person,
            match_confidence=match_confidence,
            finish=finish,
            error_code=error_code,
            request={"clientIp": client_ip} if client_ip else None,
            abuse_flagged_with=flagged,
        )

    def fail_next(self, error, times=1):
        """Make the next ``times`` calls raise ``error`` (a BackendError instance)."""
        with self._lock:
            self._failures.extend([error] * times)

    def reset(self):
        """Forget all sessions, recorded calls and pending failures."""
        with self._lock:
            self._start()
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
            raise error_for(error.status, error.code, error.message, error.retry_after) from None

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
        params = create_fields(operation_mode, device_correlation_id, auth_token_ttl_seconds, enable_session_image)
        params.update(version_fields(self.api_version))
        v13 = liveness_fields(self.api_version, user_correlation_id, expected_client_ip)
        params.update(v13)
        body = self._call(
            "create_session",
            lambda: self._api.create_session(LIVENESS, params),
            operation_mode=operation_mode,
            device_correlation_id=device_correlation_id,
            auth_token_ttl_seconds=auth_token_ttl_seconds,
            enable_session_image=enable_session_image,
            **({"user_correlation_id": user_correlation_id, "expected_client_ip": expected_client_ip} if v13 else {}),
        )
        return self._wire.created_session(body, expires_at=token_expiry(auth_token_ttl_seconds))

    def create_verify_session(
        self, *, reference_image, operation_mode, device_correlation_id, auth_token_ttl_seconds, enable_session_image=False
    ):
        params = create_fields(operation_mode, device_correlation_id, auth_token_ttl_seconds, enable_session_image)
        params.update(version_fields(self.api_version))
        body = self._call(
            "create_verify_session",
            lambda: self._api.create_session(LIVENESS_WITH_VERIFY, params, reference_image),
            reference_image=reference_image,
            operation_mode=operation_mode,
            device_correlation_id=device_correlation_id,
            auth_token_ttl_seconds=auth_token_ttl_seconds,
            enable_session_image=enable_session_image,
        )
        return self._wire.created_session(body, expires_at=token_expiry(auth_token_ttl_seconds))

    def get_result(self, session_id, *, verify):
        body = self._call("get_result", lambda: self._api.get_session(_KIND[verify], session_id), session_id=session_id)
        return self._wire.session_result(body)

    def delete_session(self, session_id, *, verify):
        self._call(
            "delete_session", lambda: self._api.delete_session(_KIND[verify], session_id), session_id=session_id
        )

    def get_session_image(self, session_image_id):
        return self._call(
            "get_session_image", lambda: self._api.session_image(session_image_id), session_image_id=session_image_id
        )

    def list_audit_entries(self, session_id, *, verify):
        self.require(AUDIT_ENTRIES)
        entries = self._call(
            "list_audit_entries",
            lambda: self._api.audit_entries(_KIND[verify], session_id),
            session_id=session_id,
        )
        return [preview_wire.audit_entry(entry) for entry in entries]

    def list_sessions(self, *, verify):
        self.require(LIST_SESSIONS)
        items = self._call("list_sessions", lambda: self._api.list_sessions(_KIND[verify]), verify=verify)
        return [preview_wire.remote_session(item) for item in items]

    def get_liveness_settings(self):
        self.require(LIVENESS_SETTINGS)
        return ga_wire.liveness_settings(self._call("get_liveness_settings", self._api.settings))

    def set_abuse_monitoring(self, enabled):
        self.require(LIVENESS_SETTINGS)
        body = ga_wire.settings_update(abuse_monitoring=enabled)
        return ga_wire.liveness_settings(
            self._call("set_abuse_monitoring", lambda: self._api.patch_settings(body), enabled=enabled)
        )

    def get_client_assets_token(self):
        self.require(LIVENESS_SETTINGS)
        return ga_wire.client_assets_token(self._call("get_client_assets_token", self._api.client_assets_token))
