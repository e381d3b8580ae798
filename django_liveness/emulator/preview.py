"""Face API v1.2-preview.1 (and v1.1-preview.1) on top of the emulator's session core.

Reads the preview's create parameters (JSON, or the multipart ``Parameters`` string) and writes
its JSON: ``{sessionId, authToken}`` at create, a session whose ``result`` is the audit entry of
the call that gave the result, session lists and audit entries.
"""

from .core import FAILED, SUCCEEDED, CreateParams, bad_argument, check_top, isoformat

API_VERSION = "v1.2-preview.1"
MODEL_VERSIONS = ("2022-10-15-preview.04", "2023-12-20-preview.06")
DEFAULT_MODEL_VERSION = "2023-12-20-preview.06"
FLAGS = ("sendResultsToClient", "deviceCorrelationIdSetInClient", "enableSessionImage", "returnVerifyImageHash")


def create_params(body):
    """CreateLivenessSessionContent / CreateLivenessWithVerifySessionJsonContent -> CreateParams."""
    if not isinstance(body, dict):
        raise bad_argument("Invalid request body.")
    for flag in FLAGS:
        if flag in body and not isinstance(body[flag], bool):
            raise bad_argument(f"{flag} must be a boolean.")
    model = body.get("livenessSingleModalModel")
    if model is not None and model not in MODEL_VERSIONS:
        raise bad_argument(f"Invalid livenessSingleModalModel: {model!r}.")
    return CreateParams.read(
        body, model_version=model or DEFAULT_MODEL_VERSION, send_results_to_client=body.get("sendResultsToClient", False)
    )


class PreviewApi:
    """The preview's operations over one ``Emulator``; every method returns the preview's JSON."""

    def __init__(self, emulator):
        self.emulator = emulator

    def create_session(self, kind, body, verify_image=None):
        session = self.emulator.create_session(kind, create_params(body), verify_image)
        result = {"sessionId": session.id, "authToken": session.auth_token}
        if verify_image is not None:
            result["verifyImage"] = session.verify_reference
        return result

    def get_session(self, kind, session_id):
        """LivenessSession / LivenessWithVerifySession."""
        session = self.emulator.get_session(kind, session_id)
        body = {**self._item(session), "status": _status(session)}
        if session.succeeded:
            body["result"] = self._entry(session, session.succeeded)
        return body

    def delete_session(self, kind, session_id):
        self.emulator.delete_session(kind, session_id)

    def list_sessions(self, kind, start=None, top=None):
        return [self._item(session) for session in self.emulator.list_sessions(kind, start, top)]

    def audit_entries(self, kind, session_id, start=None, top=None):
        top = check_top(top)
        try:
            after = int(start) if start not in (None, "") else 0
        except ValueError:
            raise bad_argument("start must be an integer entry id.") from None
        session = self.emulator.get_session(kind, session_id)
        return [self._entry(session, attempt) for attempt in session.attempts if attempt.entry_id > after][:top]

    def session_image(self, session_image_id):
        return self.emulator.session_image(session_image_id)

    def detect(self, token, kind, image, *, api_version=API_VERSION, **choices):
        """The frontend's call; returns its audit entry (``response`` is what the client gets)."""
        session, attempt = self.emulator.detect(token, kind, image, api_version=api_version, **choices)
        return self._entry(session, attempt)

    # --- JSON ---------------------------------------------------------------------------

    def _item(self, session):
        """LivenessSessionItem."""
        body = {
            "id": session.id,
            "createdDateTime": isoformat(session.created),
            "sessionExpired": session.expired(self.emulator.clock()),
            "authTokenTimeToLiveInSeconds": session.params.ttl,
        }
        if session.started:
            body["sessionStartDateTime"] = isoformat(session.started)
        if session.params.device_correlation_id:
            body["deviceCorrelationId"] = session.params.device_correlation_id
        return body

    def _entry(self, session, attempt):
        """LivenessSessionAuditEntry of one frontend call."""
        if attempt.status == FAILED:
            body, status = {"error": {"code": attempt.error_code, "message": attempt.error_message}}, 400
        else:
            body = _response_body(session, attempt) if attempt.status == SUCCEEDED else {}
            # The full body is always recorded; the client sees it only with sendResultsToClient.
            status = 200 if session.params.send_results_to_client else 204
        path = "detectlivenesswithverify/singlemodal" if session.is_verify else "detectliveness/singlemodal"
        entry = {
            "id": attempt.entry_id,
            "sessionId": session.id,
            "requestId": attempt.request_id,
            "clientRequestId": attempt.client_request_id,
            "receivedDateTime": isoformat(attempt.received),
            "request": {
                # As the service records it: no mount prefix, lower case.
                "url": f"/face/{attempt.api_version.lower()}/{path}",
                "method": "POST",
                "contentLength": attempt.content_length,
                "contentType": "multipart/form-data",
                "userAgent": attempt.user_agent,
            },
            "response": {"body": body, "statusCode": status, "latencyInMilliseconds": attempt.latency_ms},
            "digest": attempt.digest,
        }
        if attempt.session_image_id:
            entry["sessionImageId"] = attempt.session_image_id
        if session.params.return_verify_image_hash and session.verify_image_hash:
            entry["verifyImageHash"] = session.verify_image_hash
        return entry


def _status(session):
    """FaceSessionStatus."""
    if session.succeeded:
        return "ResultAvailable"
    return "Started" if session.attempts else "NotStarted"


def _response_body(session, attempt):
    """LivenessResponseBody."""
    body = {
        "livenessDecision": attempt.decision,
        "target": {
            "faceRectangle": attempt.face_rectangle,
            "fileName": "content",
            "timeOffsetWithinFile": 0,
            "imageType": "Color",
        },
        "modelVersionUsed": attempt.model_version,
    }
    if session.is_verify:
        body["verifyResult"] = {
            "verifyImage": session.verify_reference,
            "matchConfidence": attempt.match_confidence,
            "isIdentical": attempt.is_identical,
        }
    return body

