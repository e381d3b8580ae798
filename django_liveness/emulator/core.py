"""The rules of the emulated Face liveness service, shared by the HTTP emulator and LocMemBackend.

Everything here speaks the wire format of Face API v1.2-preview.1 (camelCase JSON dicts) so that
the HTTP layer only has to serialize it, and ``LocMemBackend`` parses it exactly as the Azure
backend parses the real service's answers. No Django, no HTTP: plain data in, plain data out.
"""

import hashlib
import io
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

LIVENESS = "liveness"
LIVENESS_WITH_VERIFY = "liveness_with_verify"

OPERATION_MODES = ("Passive", "PassiveActive")
MODEL_VERSIONS = ("2022-10-15-preview.04", "2023-12-20-preview.06")
DEFAULT_MODEL_VERSION = "2023-12-20-preview.06"
API_VERSION = "v1.2-preview.1"
# "Ability to call /detectLiveness/singleModal for up to 3 retries" (the preview's create operations).
# Read here as 3 calls in all; the newer preview text drops the line, so the real limit is unsure.
MAX_CLIENT_CALLS = 3
DECISIONS = ("realface", "spoofface", "uncertain")
MAX_VERIFY_IMAGE_BYTES = 6 * 1024 * 1024
# The service's own threshold for isIdentical when the session does not set one.
DEFAULT_VERIFY_THRESHOLD = 0.5
# Emulator-only defaults for the frontend's test-mode fields: well above and below any usual threshold.
SAME_PERSON_CONFIDENCE = 0.92
OTHER_PERSON_CONFIDENCE = 0.12
LIST_TOP_MAX = 1000


class EmulatorError(Exception):
    """An error the service would answer with ``{"error": {"code", "message"}}``."""

    def __init__(self, status, code, message, *, retry_after=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def body(self):
        return {"error": {"code": self.code, "message": self.message}}


def bad_argument(message):
    return EmulatorError(400, "BadArgument", message)


def isoformat(moment):
    """Date-time as the service writes it: UTC, milliseconds, 'Z'."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _utcnow():
    return datetime.now(timezone.utc)


@dataclass
class _Session:
    id: str
    kind: str
    auth_token: str
    created: datetime
    ttl: int
    params: dict
    verify_image: dict | None = None  # LivenessWithVerifyImage
    verify_image_hash: str = ""
    started: datetime | None = None
    status: str = "NotStarted"
    entries: list = field(default_factory=list)  # LivenessSessionAuditEntry of each client call

    def expired(self, now):
        return now >= self.created + timedelta(seconds=self.ttl)

    def item(self, now):
        """LivenessSessionItem."""
        body = {
            "id": self.id,
            "createdDateTime": isoformat(self.created),
            "sessionExpired": self.expired(now),
            "authTokenTimeToLiveInSeconds": self.ttl,
        }
        if self.started:
            body["sessionStartDateTime"] = isoformat(self.started)
        if self.params.get("deviceCorrelationId"):
            body["deviceCorrelationId"] = self.params["deviceCorrelationId"]
        return body


def inspect_image(data):
    """Return (format, width, height) of a JPEG/PNG/GIF/BMP, or raise EmulatorError like the service."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_VERIFY_IMAGE_BYTES:
        raise EmulatorError(400, "InvalidImageSize", "Image size is too big.")
    if not data:
        raise EmulatorError(400, "InvalidImage", "Image is empty.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("JPEG", "PNG", "GIF", "BMP"):
                raise EmulatorError(400, "InvalidImage", "Decoding error, image format unsupported.")
            image.verify()
            return image.format, image.width, image.height
    except EmulatorError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise EmulatorError(400, "InvalidImage", "Decoding error, image format unsupported.") from None


def face_rectangle_for(width, height):
    """A plausible, deterministic face box: the middle of the image."""
    side = max(1, min(width, height) // 2)
    return {"top": (height - side) // 2, "left": (width - side) // 2, "width": side, "height": side}


def quality_for(width, height):
    short = min(width, height)
    return "high" if short >= 400 else "medium" if short >= 200 else "low"


def _check_create_params(params, *, verify):
    if not isinstance(params, dict):
        raise bad_argument("Invalid request body.")
    mode = params.get("livenessOperationMode")
    if mode is None:
        raise bad_argument("Missing required parameter: livenessOperationMode.")
    if mode not in OPERATION_MODES:
        raise bad_argument(f"Invalid livenessOperationMode: {mode!r}.")
    ttl = params.get("authTokenTimeToLiveInSeconds", 600)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 60 <= ttl <= 86400:
        raise bad_argument("authTokenTimeToLiveInSeconds must be an integer between 60 and 86400.")
    for flag in ("sendResultsToClient", "deviceCorrelationIdSetInClient", "enableSessionImage", "returnVerifyImageHash"):
        if flag in params and not isinstance(params[flag], bool):
            raise bad_argument(f"{flag} must be a boolean.")
    model = params.get("livenessSingleModalModel")
    if model is not None and model not in MODEL_VERSIONS:
        raise bad_argument(f"Invalid livenessSingleModalModel: {model!r}.")
    correlation = params.get("deviceCorrelationId")
    if correlation is not None and (not isinstance(correlation, str) or len(correlation) > 64):
        raise bad_argument("deviceCorrelationId must be a string of at most 64 characters.")
    if not params.get("deviceCorrelationIdSetInClient") and not correlation:
        raise bad_argument("deviceCorrelationId is required when deviceCorrelationIdSetInClient is false.")
    threshold = params.get("verifyConfidenceThreshold")
    if threshold is not None:
        if not verify:
            raise bad_argument("verifyConfidenceThreshold is only valid for liveness with verify sessions.")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            raise bad_argument("verifyConfidenceThreshold must be a number between 0 and 1.")
    return ttl


class Emulator:
    """In-memory Face liveness service. Thread-safe; ``clock`` returns an aware UTC datetime."""

    def __init__(self, *, clock=_utcnow):
        self.clock = clock
        self._lock = threading.Lock()
        self._sessions = {}  # id -> _Session
        self._images = {}  # sessionImageId -> bytes
        self._next_entry_id = 1

    # --- app-server operations (subscription key) ---------------------------------------

    def create_session(self, kind, params, verify_image=None):
        """CreateLivenessSession / CreateLivenessWithVerifySession[WithVerifyImage]."""
        verify = kind == LIVENESS_WITH_VERIFY
        ttl = _check_create_params(params, verify=verify)
        if not verify and verify_image is not None:
            raise bad_argument("A verify image is only accepted for liveness with verify sessions.")
        session = _Session(
            id=str(uuid.uuid4()),
            kind=kind,
            auth_token=secrets.token_urlsafe(48),
            created=self.clock(),
            ttl=ttl,
            params=dict(params),
        )
        result = {"sessionId": session.id, "authToken": session.auth_token}
        if verify_image is not None:
            self._attach_verify_image(session, verify_image)
            result["verifyImage"] = session.verify_image
        with self._lock:
            self._sessions[session.id] = session
        return result

    def get_session(self, kind, session_id):
        """LivenessSession / LivenessWithVerifySession."""
        with self._lock:
            session = self._get(kind, session_id)
            body = {**session.item(self.clock()), "status": session.status}
            if session.status == "ResultAvailable":
                body["result"] = session.entries[-1]
            return body

    def delete_session(self, kind, session_id):
        with self._lock:
            self._get(kind, session_id)
            del self._sessions[session_id]

    def list_sessions(self, kind, start=None, top=None):
        top = _check_top(top)
        now = self.clock()
        with self._lock:
            sessions = sorted((s for s in self._sessions.values() if s.kind == kind), key=lambda s: s.id)
            return [s.item(now) for s in sessions if not start or s.id > start][:top]

    def audit_entries(self, kind, session_id, start=None, top=None):
        top = _check_top(top)
        try:
            after = int(start) if start not in (None, "") else 0
        except ValueError:
            raise bad_argument("start must be an integer entry id.") from None
        with self._lock:
            session = self._get(kind, session_id)
            return [entry for entry in session.entries if entry["id"] > after][:top]

    def session_image(self, session_image_id):
        with self._lock:
            try:
                return self._images[session_image_id]
            except KeyError:
                raise EmulatorError(404, "NotFound", "Session image not found.") from None

    def token_for(self, session_id):
        """(auth token, kind) of a session: lets in-process tests play the frontend."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise EmulatorError(404, "SessionNotFound", "Session ID is not found.")
            return session.auth_token, session.kind

    # --- the frontend's call (session auth token) ---------------------------------------

    def session_for_token(self, token):
        """The session a Bearer auth token belongs to, or 401 like the service."""
        with self._lock:
            for session in self._sessions.values():
                if token and secrets.compare_digest(session.auth_token, token):
                    return session.id, session.kind
        raise EmulatorError(401, "Unauthorized", "Access denied due to invalid session token.")

    def detect(
        self,
        token,
        kind,
        image,
        *,
        decision="realface",
        same_person=True,
        match_confidence=None,
        finish=True,
        api_version=API_VERSION,
        request=None,
        latency_ms=0,
    ):
        """Play the frontend's capture for the session of ``token``; return its audit entry.

        The entry's ``response`` says what the client gets: ``statusCode`` 204 and no body unless
        the session was created with ``sendResultsToClient``. ``decision``, ``same_person``,
        ``match_confidence`` and ``finish`` are the emulator's test-mode choices; ``request`` holds
        the caller's ``contentLength``, ``userAgent`` and ``clientRequestId``, ``latency_ms`` the
        time the server took.
        """
        session_id, token_kind = self.session_for_token(token)
        if token_kind != kind:
            raise EmulatorError(401, "Unauthorized", "The session token is not valid for this operation.")
        if decision not in DECISIONS:
            raise bad_argument(f"decision must be one of {', '.join(DECISIONS)}.")
        if match_confidence is not None and not 0 <= match_confidence <= 1:
            raise bad_argument("match_confidence must be between 0 and 1.")
        image_format, width, height = inspect_image(image)
        now = self.clock()
        with self._lock:
            session = self._get(kind, session_id)
            if session.expired(now):
                raise EmulatorError(401, "TokenExpired", "The session token has expired.")
            # The spec names no error code for these; see docs/testing.md.
            if session.status == "ResultAvailable":
                raise EmulatorError(400, "SessionAlreadyUsed", "This session already has a result.")
            if len(session.entries) >= MAX_CLIENT_CALLS:
                raise EmulatorError(400, "SessionAlreadyUsed", f"This session allows {MAX_CLIENT_CALLS} calls.")
            session.started = session.started or now
            body = {}  # a call without a result (finish=False)
            if finish:
                body = self._response_body(session, decision, same_person, match_confidence, width, height)
            entry = self._audit_entry(session, now, image, body, request or {}, api_version, latency_ms)
            session.entries.append(entry)
            session.status = "ResultAvailable" if finish else "Started"
            return entry

    # --- helpers -----------------------------------------------------------------------

    def _get(self, kind, session_id):
        session = self._sessions.get(session_id)
        if session is None or session.kind != kind:
            raise EmulatorError(404, "SessionNotFound", "Session ID is not found.")
        return session

    def _attach_verify_image(self, session, data):
        _format, width, height = inspect_image(data)
        session.verify_image = {
            "faceRectangle": face_rectangle_for(width, height),
            "qualityForRecognition": quality_for(width, height),
        }
        session.verify_image_hash = hashlib.sha256(data).hexdigest()

    def _response_body(self, session, decision, same_person, match_confidence, width, height):
        body = {
            "livenessDecision": decision,
            "target": {
                "faceRectangle": face_rectangle_for(width, height),
                "fileName": "content",
                "timeOffsetWithinFile": 0,
                "imageType": "Color",
            },
            "modelVersionUsed": session.params.get("livenessSingleModalModel", DEFAULT_MODEL_VERSION),
        }
        if session.kind == LIVENESS_WITH_VERIFY:
            if match_confidence is None:
                match_confidence = SAME_PERSON_CONFIDENCE if same_person else OTHER_PERSON_CONFIDENCE
            threshold = session.params.get("verifyConfidenceThreshold", DEFAULT_VERIFY_THRESHOLD)
            body["verifyResult"] = {
                # The frontend sends the reference image itself when the JSON-only create was used.
                "verifyImage": session.verify_image
                or {"faceRectangle": face_rectangle_for(width, height), "qualityForRecognition": "high"},
                "matchConfidence": float(match_confidence),
                "isIdentical": match_confidence >= threshold,
            }
        return body

    def _audit_entry(self, session, now, image, body, request, api_version, latency_ms):
        request_id = str(uuid.uuid4())
        entry = {
            "id": self._next_entry_id,
            "sessionId": session.id,
            "requestId": request_id,
            "clientRequestId": request.get("clientRequestId") or request_id,
            "receivedDateTime": isoformat(now),
            "request": {
                # As the service records it: no mount prefix, lower case.
                "url": f"/face/{api_version.lower()}/{_client_path(session.kind)}",
                "method": "POST",
                "contentLength": request.get("contentLength", len(image)),
                "contentType": "multipart/form-data",
                "userAgent": request.get("userAgent", ""),
            },
            "response": {
                # The full body is always recorded; the client sees it only with sendResultsToClient.
                "body": body,
                "statusCode": 200 if session.params.get("sendResultsToClient") else 204,
                "latencyInMilliseconds": latency_ms,
            },
            "digest": hashlib.sha256(session.id.encode() + image).hexdigest().upper(),
        }
        self._next_entry_id += 1
        if session.params.get("enableSessionImage"):
            image_id = str(uuid.uuid4())
            self._images[image_id] = image
            entry["sessionImageId"] = image_id
        if session.params.get("returnVerifyImageHash") and session.verify_image_hash:
            entry["verifyImageHash"] = session.verify_image_hash
        return entry


def _client_path(kind):
    return "detectlivenesswithverify/singlemodal" if kind == LIVENESS_WITH_VERIFY else "detectliveness/singlemodal"


def _check_top(top):
    if top in (None, ""):
        return LIST_TOP_MAX
    try:
        top = int(top)
    except (TypeError, ValueError):
        raise bad_argument("top must be an integer between 1 and 1000.") from None
    if not 1 <= top <= LIST_TOP_MAX:
        raise bad_argument("top must be an integer between 1 and 1000.")
    return top
