"""Face API v1.2 (GA) on top of the emulator's session core.

Reads GA's create parameters (JSON for liveness, flat multipart fields for liveness with verify)
and writes its JSON: the whole session at create and on every GET, ``{sessionId, authToken,
status, modelVersion, results: {attempts, verifyReferences}}``.
"""

from .core import FAILED, RUNNING, SUCCEEDED, CreateParams, bad_argument

API_VERSION = "v1.2"
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
BOOLEANS = ("deviceCorrelationIdSetInClient", "enableSessionImage", "returnVerifyImageHash")


def create_params(values, *, verify):
    """CreateLivenessSessionContent (JSON) or the verify create's form fields -> CreateParams.

    ``values`` of a form are strings; they are read as the booleans and numbers the spec names.
    """
    if not isinstance(values, dict):
        raise bad_argument("Invalid request body.")
    unknown = sorted(set(values) - set(VERIFY_FIELDS if verify else JSON_FIELDS))
    if unknown:
        raise bad_argument(f"Unknown parameter: {unknown[0]}.")
    values = {name: _typed(name, value) for name, value in values.items()}
    model = values.get("livenessModelVersion")
    if model is not None and model not in MODEL_VERSIONS:
        raise bad_argument(f"Invalid livenessModelVersion: {model!r}.")
    return CreateParams(
        operation_mode=values.get("livenessOperationMode"),
        device_correlation_id=values.get("deviceCorrelationId"),
        device_correlation_id_set_in_client=values.get("deviceCorrelationIdSetInClient", False),
        ttl=values.get("authTokenTimeToLiveInSeconds", 600),
        enable_session_image=values.get("enableSessionImage", False),
        model_version=model or DEFAULT_MODEL_VERSION,
        verify_confidence_threshold=values.get("verifyConfidenceThreshold"),
        return_verify_image_hash=values.get("returnVerifyImageHash", False),
    )


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
        if name == "authTokenTimeToLiveInSeconds":
            return int(value)
        if name == "verifyConfidenceThreshold":
            return float(value)
    except ValueError:
        raise bad_argument(f"{name} must be a number.") from None
    return value


class GaApi:
    """GA's operations over one ``Emulator``; every method returns GA's JSON."""

    def __init__(self, emulator):
        self.emulator = emulator

    def create_session(self, kind, values, verify_image=None):
        params = create_params(values, verify=verify_image is not None)
        return self._session(self.emulator.create_session(kind, params, verify_image))

    def get_session(self, kind, session_id):
        return self._session(self.emulator.get_session(kind, session_id))

    def delete_session(self, kind, session_id):
        self.emulator.delete_session(kind, session_id)

    def session_image(self, session_image_id):
        return self.emulator.session_image(session_image_id)

    def detect(self, token, kind, image, *, api_version=API_VERSION, **choices):
        """The frontend's call; returns the attempt it made (LivenessSessionAttempt)."""
        session, attempt = self.emulator.detect(token, kind, image, api_version=api_version, **choices)
        return _attempt(session, attempt)

    def _session(self, session):
        """LivenessSession / LivenessWithVerifySession."""
        results = {"attempts": [_attempt(session, attempt) for attempt in session.attempts]}
        if session.is_verify:
            reference = session.verify_reference
            results["verifyReferences"] = [{"referenceType": "Color", **reference}] if reference else []
        return {
            "sessionId": session.id,
            "authToken": session.auth_token,
            "status": _status(session),
            "modelVersion": session.params.model_version,
            "results": results,
        }


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

