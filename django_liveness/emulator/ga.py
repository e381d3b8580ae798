"""Face API v1.2 (GA) and v1.3-preview.1 on top of the emulator's session core.

Reads GA's create parameters (JSON for liveness, flat multipart fields for liveness with verify)
and writes its JSON: the whole session at create and on every GET, ``{sessionId, authToken,
status, modelVersion, results: {attempts, verifyReferences}}``. v1.3-preview.1 has the same paths
and bodies and adds ``expectedClientIpAddress`` (liveness create), ``isAbuseMonitoringEnabled`` and
``expectedClientIpAddress`` on the session, ``clientInformation`` and ``abuseMonitoringResult`` on
each attempt, and the resource's liveness settings (``GET``/``PATCH /settings``,
``GET /settings/getClientAssetsAccessToken``), which the older versions answer with 404.
"""

import base64
import ipaddress

from .core import FAILED, RUNNING, SUCCEEDED, CreateParams, EmulatorError, bad_argument, isoformat

API_VERSION = "v1.2"
V13_API_VERSION = "v1.3-preview.1"
API_VERSIONS = (API_VERSION, V13_API_VERSION)
MODEL_VERSIONS = ("2024-11-15",)
DEFAULT_MODEL_VERSION = "2024-11-15"
JSON_FIELDS = (
    "livenessOperationMode",
    "deviceCorrelationIdSetInClient",
    "enableSessionImage",
    "livenessModelVersion",
    "deviceCorrelationId",
    "authTokenTimeToLiveInSeconds",
)
VERIFY_FIELDS = JSON_FIELDS + ("returnVerifyImageHash", "verifyConfidenceThreshold")
# What v1.3-preview.1 adds to each create (the verify create is multipart: no client address).
V13_JSON_FIELDS = JSON_FIELDS + (
    "numberOfClientAttemptsAllowed",
    "userCorrelationId",
    "userCorrelationIdSetInClient",
    "expectedClientIpAddress",
)
V13_VERIFY_FIELDS = VERIFY_FIELDS + ("numberOfClientAttemptsAllowed",)
BOOLEANS = ("deviceCorrelationIdSetInClient", "enableSessionImage", "returnVerifyImageHash", "userCorrelationIdSetInClient")


def create_params(values, *, verify, api_version=API_VERSION):
    """CreateLivenessSessionContent (JSON) or the verify create's form fields -> CreateParams.

    ``values`` of a form are strings; they are read as the booleans and numbers the spec names.
    """
    if not isinstance(values, dict):
        raise bad_argument("Invalid request body.")
    if api_version == V13_API_VERSION:
        known = V13_VERIFY_FIELDS if verify else V13_JSON_FIELDS
    else:
        known = VERIFY_FIELDS if verify else JSON_FIELDS
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise bad_argument(f"Unknown parameter: {unknown[0]}.")
    values = {name: _typed(name, value) for name, value in values.items()}
    model = values.get("livenessModelVersion")
    if model is not None and model not in MODEL_VERSIONS:
        raise bad_argument(f"Invalid livenessModelVersion: {model!r}.")
    return CreateParams.read(
        values,
        model_version=model or DEFAULT_MODEL_VERSION,
        expected_client_ip=_client_address(values.get("expectedClientIpAddress")),
        user_correlation_id=values.get("userCorrelationId"),
        user_correlation_id_set_in_client=values.get("userCorrelationIdSetInClient", False),
        # v1.3: "Default value is 1"; older versions cannot say, and allow MAX_CLIENT_CALLS.
        client_attempts=values.get("numberOfClientAttemptsAllowed", 1) if api_version == V13_API_VERSION else None,
    )


def _client_address(value):
    """expectedClientIpAddress: an IP address or a CIDR block, kept as given."""
    if value is None:
        return None
    try:
        ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        raise bad_argument("expectedClientIpAddress must be an IP address or a CIDR block.") from None
    return value


def _typed(name, value):
    if not isinstance(value, str):
        if name in BOOLEANS and not isinstance(value, bool):
            raise bad_argument(f"{name} must be a boolean.")
        return value
    # A form field: every value arrives as text.
    if name in BOOLEANS:
        if value.lower() not in ("true", "false"):
            raise bad_argument(f"{name} must be a boolean.")
        return value.lower() == "true"
    try:
        if name in ("authTokenTimeToLiveInSeconds", "numberOfClientAttemptsAllowed"):
            return int(value)
        if name == "verifyConfidenceThreshold":
            return float(value)
    except ValueError:
        raise bad_argument(f"{name} must be a number.") from None
    return value


class GaApi:
    """GA's (or v1.3-preview.1's) operations over one ``Emulator``; every method returns its JSON."""

    def __init__(self, emulator, api_version=API_VERSION):
        self.emulator = emulator
        self.api_version = api_version

    @property
    def is_v13(self):
        return self.api_version == V13_API_VERSION

    def create_session(self, kind, values, verify_image=None):
        params = create_params(values, verify=verify_image is not None, api_version=self.api_version)
        return self._session(self.emulator.create_session(kind, params, verify_image))

    def get_session(self, kind, session_id):
        return self._session(self.emulator.get_session(kind, session_id))

    def delete_session(self, kind, session_id):
        self.emulator.delete_session(kind, session_id)

    def session_image(self, session_image_id):
        return self.emulator.session_image(session_image_id)

    def detect(self, token, kind, image, *, api_version=None, **choices):
        """The frontend's call; returns the attempt it made (LivenessSessionAttempt)."""
        session, attempt = self.emulator.detect(token, kind, image, api_version=api_version or self.api_version, **choices)
        return self._attempt(session, attempt)

    # --- v1.3-preview.1: the resource's liveness settings -----------------------------------

    def _require_v13(self):
        if not self.is_v13:
            raise EmulatorError(404, "404", "Resource not found")

    def settings(self):
        """Settings: ``{"livenessAbuseMonitoring": {"enabled": ...}}``."""
        self._require_v13()
        return {"livenessAbuseMonitoring": {"enabled": self.emulator.abuse_monitoring}}

    def patch_settings(self, body):
        """SettingsUpdate in, Settings out. ``enabled`` is a boolean, as the spec's examples send it
        (the spec types it ``object``); the data-plane example's flat ``{"enabled": ...}`` is refused."""
        self._require_v13()
        if not isinstance(body, dict):
            raise bad_argument("Invalid request body.")
        unknown = sorted(set(body) - {"livenessAbuseMonitoring"})
        if unknown:
            raise bad_argument(f"Unknown parameter: {unknown[0]}.")
        monitoring = body.get("livenessAbuseMonitoring")
        if monitoring is not None:
            if not isinstance(monitoring, dict) or sorted(set(monitoring) - {"enabled"}):
                raise bad_argument("livenessAbuseMonitoring must be an object with 'enabled'.")
            enabled = monitoring.get("enabled")
            if enabled is not None:
                if not isinstance(enabled, bool):
                    raise bad_argument("livenessAbuseMonitoring.enabled must be a boolean.")
                self.emulator.set_abuse_monitoring(enabled)
        return self.settings()

    def client_assets_token(self):
        """ClientAssetsAccessTokenResponse: ``{expiry, accessToken, base64AccessToken}``."""
        self._require_v13()
        token, expires = self.emulator.client_assets_token()
        return {"expiry": isoformat(expires), "accessToken": token, "base64AccessToken": base64.b64encode(token.encode()).decode()}

    def _session(self, session):
        """LivenessSession / LivenessWithVerifySession."""
        results = {"attempts": [self._attempt(session, attempt) for attempt in session.attempts]}
        if session.is_verify:
            reference = session.verify_reference
            results["verifyReferences"] = [{"referenceType": "Color", **reference}] if reference else []
        body = {
            "sessionId": session.id,
            "authToken": session.auth_token,
            "status": _status(session),
            "modelVersion": session.params.model_version,
            "results": results,
        }
        if self.is_v13:
            body["isAbuseMonitoringEnabled"] = session.abuse_monitoring
            if session.params.expected_client_ip:
                body["expectedClientIpAddress"] = session.params.expected_client_ip
        return body

    def _attempt(self, session, attempt):
        body = _attempt(session, attempt)
        if self.is_v13:
            if attempt.client_ip:
                body["clientInformation"] = [{"ip": attempt.client_ip}]
            if session.abuse_monitoring and attempt.status != RUNNING:
                # The verdict of a monitored, finished attempt: a flag only when the test asked for one.
                body["abuseMonitoringResult"] = {
                    "isAbuseDetected": attempt.abuse_detected,
                    "otherFlaggedSessions": [dict(other) for other in attempt.flagged_sessions],
                }
        return body


def _status(session):
    """OperationState of the session: it succeeds with one attempt, fails when every allowed call failed."""
    if session.succeeded:
        return SUCCEEDED
    if session.used_up and all(attempt.status == FAILED for attempt in session.attempts):
        return FAILED
    return RUNNING if session.attempts else "NotStarted"


def _attempt(session, attempt):
    """LivenessSessionAttempt / LivenessWithVerifySessionAttempt."""
    body = {"attemptId": attempt.number, "attemptStatus": attempt.status}
    targets = {"color": {"faceRectangle": attempt.face_rectangle}}
    if attempt.status == FAILED:
        body["error"] = {"code": attempt.error_code, "message": attempt.error_message, "targets": targets}
    elif attempt.status == SUCCEEDED:
        result = {"livenessDecision": attempt.decision, "targets": targets, "digest": attempt.digest}
        if attempt.session_image_id:
            result["sessionImageId"] = attempt.session_image_id
        if session.is_verify:
            result["verifyResult"] = {"matchConfidence": attempt.match_confidence, "isIdentical": attempt.is_identical}
            if session.params.return_verify_image_hash and session.verify_image_hash:
                result["verifyImageHash"] = session.verify_image_hash
        body["result"] = result
    return body

