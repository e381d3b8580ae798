"""The rules of the emulated Face liveness service, shared by the HTTP emulator and LocMemBackend.

One session core for every API version: sessions and their attempts are plain objects here, and
``ga.py`` (v1.2) and ``preview.py`` (v1.2-preview.1, v1.1-preview.1) read each version's create
parameters and write each version's JSON. No Django, no HTTP: plain data in, plain data out.
"""

import base64
import copy
import hashlib
import json
import io
import ipaddress
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

LIVENESS = "liveness"
LIVENESS_WITH_VERIFY = "liveness_with_verify"

OPERATION_MODES = ("Passive", "PassiveActive")
# "Ability to call /detectLiveness/singleModal for up to 3 retries" (the preview's create operations).
# Read here as 3 calls in all, for v1.2 and the previews; GA drops the line, so the real limit is unsure.
# v1.3-preview.1 lets the create say (numberOfClientAttemptsAllowed, 1..3, default 1).
MAX_CLIENT_CALLS = 3
DECISIONS = ("realface", "spoofface", "uncertain")
MAX_VERIFY_IMAGE_BYTES = 6 * 1024 * 1024
# The service's own threshold for isIdentical when the session does not set one.
DEFAULT_VERIFY_THRESHOLD = 0.5
# Emulator-only defaults for the frontend's test-mode fields: well above and below any usual threshold.
SAME_PERSON_CONFIDENCE = 0.92
OTHER_PERSON_CONFIDENCE = 0.12
LIST_TOP_MAX = 1000
# The emulator's client-assets access token lives this long (the service does not document its lifetime).
CLIENT_ASSETS_TOKEN_LIFETIME = timedelta(hours=24)
# Test mode: an attempt that fails with this code (any word the service might use is accepted).
ERROR_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")
CLIENT_IP_MISMATCH = "ClientIpAddressMismatch"
ERROR_MESSAGES = {
    CLIENT_IP_MISMATCH: "The capture came from an address outside the session's expectedClientIpAddress.",
    "FaceWithMaskDetected": "Mask detected on face image.",
    "FaceNotFound": "No face detected in the image.",
    "TooManyFaces": "More than one face detected in the image.",
    "FaceTooSmall": "The face is too small.",
    "ImageBlurry": "The image is too blurry.",
}

# Attempt states (the service's OperationState spelling, the emulator's own vocabulary too).
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"


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


def _base64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _utcnow():
    return datetime.now(timezone.utc)


@dataclass
class CreateParams:
    """A session's create parameters, read from either version's request by its serializer."""

    operation_mode: str
    device_correlation_id: str | None = None
    device_correlation_id_set_in_client: bool = False
    ttl: int = 600
    enable_session_image: bool = False
    model_version: str | None = None
    verify_confidence_threshold: float | None = None
    return_verify_image_hash: bool = False
    send_results_to_client: bool = False  # preview only
    expected_client_ip: str | None = None  # v1.3-preview.1: an address or CIDR block the capture must come from
    user_correlation_id: str | None = None  # v1.3-preview.1 (liveness create only)
    user_correlation_id_set_in_client: bool = False
    client_attempts: int | None = None  # v1.3-preview.1's numberOfClientAttemptsAllowed; None: MAX_CLIENT_CALLS

    @classmethod
    def read(cls, values, **version_fields):
        """The parameters every version names alike, read from a create's ``values`` (Azure's keys),
        plus the ``version_fields`` its own serializer read."""
        return cls(
            operation_mode=values.get("livenessOperationMode"),
            device_correlation_id=values.get("deviceCorrelationId"),
            device_correlation_id_set_in_client=values.get("deviceCorrelationIdSetInClient", False),
            ttl=values.get("authTokenTimeToLiveInSeconds", 600),
            enable_session_image=values.get("enableSessionImage", False),
            verify_confidence_threshold=values.get("verifyConfidenceThreshold"),
            return_verify_image_hash=values.get("returnVerifyImageHash", False),
            **version_fields,
        )

    def validate(self, *, verify):
        if self.operation_mode is None:
            raise bad_argument("Missing required parameter: livenessOperationMode.")
        if self.operation_mode not in OPERATION_MODES:
            raise bad_argument(f"Invalid livenessOperationMode: {self.operation_mode!r}.")
        ttl = self.ttl
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 60 <= ttl <= 86400:
            raise bad_argument("authTokenTimeToLiveInSeconds must be an integer between 60 and 86400.")
        correlation = self.device_correlation_id
        if correlation is not None and (not isinstance(correlation, str) or len(correlation) > 64):
            raise bad_argument("deviceCorrelationId must be a string of at most 64 characters.")
        if not self.device_correlation_id_set_in_client and not correlation:
            raise bad_argument("deviceCorrelationId is required when deviceCorrelationIdSetInClient is false.")
        user = self.user_correlation_id
        if user is not None and (not isinstance(user, str) or not user or len(user) > 64):
            raise bad_argument("userCorrelationId must be a string of 1 to 64 characters.")
        if user is not None and self.user_correlation_id_set_in_client:
            raise bad_argument("userCorrelationId must be null when userCorrelationIdSetInClient is true.")
        attempts = self.client_attempts
        if attempts is not None and (isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 3):
            raise bad_argument("numberOfClientAttemptsAllowed must be an integer between 1 and 3.")
        threshold = self.verify_confidence_threshold
        if threshold is not None:
            if not verify:
                raise bad_argument("verifyConfidenceThreshold is only valid for liveness with verify sessions.")
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
                raise bad_argument("verifyConfidenceThreshold must be a number between 0 and 1.")


@dataclass
class Attempt:
    """One frontend call of a session: a result, an error, or (test mode) nothing yet."""

    number: int  # attemptId: 1, 2, 3 within the session
    entry_id: int  # the audit entry id, unique across the service
    status: str  # RUNNING | SUCCEEDED | FAILED
    received: datetime
    api_version: str
    request_id: str
    client_request_id: str
    content_length: int
    user_agent: str
    latency_ms: int
    digest: str
    face_rectangle: dict
    model_version: str
    decision: str | None = None
    match_confidence: float | None = None
    is_identical: bool | None = None
    error_code: str = ""
    error_message: str = ""
    session_image_id: str = ""
    client_ip: str = ""  # the address the capture came from (v1.3's clientInformation)
    abuse_detected: bool = False  # test mode: v1.3's abuseMonitoringResult flags this attempt
    flagged_sessions: list = field(default_factory=list)  # OtherFlaggedSessions, when it does


@dataclass
class Session:
    id: str
    kind: str
    auth_token: str
    created: datetime
    params: CreateParams
    verify_reference: dict | None = None  # {"faceRectangle", "qualityForRecognition"} of the verify image
    verify_image_hash: str = ""
    started: datetime | None = None
    attempts: list = field(default_factory=list)
    abuse_monitoring: bool = True  # the resource's setting when the session was created (v1.3)

    @property
    def is_verify(self):
        return self.kind == LIVENESS_WITH_VERIFY

    def expired(self, now):
        return now >= self.created + timedelta(seconds=self.params.ttl)

    @property
    def succeeded(self):
        """The attempt that gave the result, if one did."""
        return next((attempt for attempt in self.attempts if attempt.status == SUCCEEDED), None)

    @property
    def allowed_calls(self):
        return self.params.client_attempts or MAX_CLIENT_CALLS

    @property
    def used_up(self):
        return len(self.attempts) >= self.allowed_calls


def _address_allowed(address, expected):
    """True when no address is expected, ``address`` is it or inside its CIDR block, or no address was
    seen (an in-process capture: ``LocMemBackend.complete`` without ``client_ip``)."""
    if not expected or not address:
        return True
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(expected, strict=False)
    except ValueError:  # not an address: not the expected one
        return False


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


def check_top(top):
    if top in (None, ""):
        return LIST_TOP_MAX
    try:
        top = int(top)
    except (TypeError, ValueError):
        raise bad_argument("top must be an integer between 1 and 1000.") from None
    if not 1 <= top <= LIST_TOP_MAX:
        raise bad_argument("top must be an integer between 1 and 1000.")
    return top


class Emulator:
    """In-memory Face liveness service. Thread-safe; ``clock`` returns an aware UTC datetime.

    Methods return copies of the session objects, so a serializer reads them without the lock.
    """

    def __init__(self, *, clock=_utcnow):
        self.clock = clock
        self._lock = threading.Lock()
        self._sessions = {}  # id -> Session
        self._images = {}  # sessionImageId -> bytes
        self._next_entry_id = 1
        # The resource's liveness abuse monitoring (v1.3's isAbuseMonitoringEnabled); Azure's examples show it on.
        self.abuse_monitoring = True

    # --- app-server operations (subscription key) ---------------------------------------

    def create_session(self, kind, params, verify_image=None):
        verify = kind == LIVENESS_WITH_VERIFY
        params.validate(verify=verify)
        if not verify and verify_image is not None:
            raise bad_argument("A verify image is only accepted for liveness with verify sessions.")
        session = Session(
            id=str(uuid.uuid4()),
            kind=kind,
            auth_token=secrets.token_urlsafe(48),
            created=self.clock(),
            params=params,
            abuse_monitoring=self.abuse_monitoring,
        )
        if verify_image is not None:
            _format, width, height = inspect_image(verify_image)
            session.verify_reference = {
                "faceRectangle": face_rectangle_for(width, height),
                "qualityForRecognition": quality_for(width, height),
            }
            session.verify_image_hash = hashlib.sha256(verify_image).hexdigest().upper()
        with self._lock:
            self._sessions[session.id] = session
            return copy.deepcopy(session)

    def get_session(self, kind, session_id):
        with self._lock:
            return copy.deepcopy(self._get(kind, session_id))

    def delete_session(self, kind, session_id):
        with self._lock:
            self._get(kind, session_id)
            del self._sessions[session_id]

    def list_sessions(self, kind, start=None, top=None):
        top = check_top(top)
        with self._lock:
            sessions = sorted((s for s in self._sessions.values() if s.kind == kind), key=lambda s: s.id)
            return copy.deepcopy([s for s in sessions if not start or s.id > start][:top])

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

    # --- the resource's liveness settings (v1.3-preview.1) --------------------------------

    def set_abuse_monitoring(self, enabled):
        """Turn the resource's abuse monitoring on or off: sessions created after carry it."""
        with self._lock:
            self.abuse_monitoring = bool(enabled)
            return self.abuse_monitoring

    def client_assets_token(self):
        """(access token, its expiry): a fake but well-formed JWT, unsigned, new on every call."""
        expires = self.clock() + CLIENT_ASSETS_TOKEN_LIFETIME
        header = {"alg": "HS256", "typ": "JWT"}
        claims = {"iss": "liveness-emulator", "aud": "client-assets", "exp": int(expires.timestamp()), "jti": str(uuid.uuid4())}
        parts = [_base64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)]
        parts.append(_base64url(secrets.token_bytes(32)))
        return ".".join(parts), expires

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
        api_version,
        decision="realface",
        same_person=True,
        match_confidence=None,
        finish=True,
        error_code="",
        request=None,
        latency_ms=0,
        abuse_flagged_with=None,
    ):
        """Play the frontend's capture for the session of ``token``; return (session, attempt) copies.

        ``decision``, ``same_person``, ``match_confidence``, ``finish`` and ``error_code`` are the
        emulator's test-mode choices (``error_code`` makes the attempt fail with that code;
        ``finish=False`` leaves it running); ``abuse_flagged_with`` (a list of session ids, possibly
        empty) makes v1.3's abuse monitoring flag the attempt together with those sessions;
        ``request`` holds the caller's ``contentLength``, ``userAgent``, ``clientRequestId`` and
        ``clientIp``, ``latency_ms`` the time the server took. A capture from outside the session's
        ``expectedClientIpAddress`` is a failed attempt ``ClientIpAddressMismatch``.
        """
        session_id, token_kind = self.session_for_token(token)
        if token_kind != kind:
            raise EmulatorError(401, "Unauthorized", "The session token is not valid for this operation.")
        if decision not in DECISIONS:
            raise bad_argument(f"decision must be one of {', '.join(DECISIONS)}.")
        if match_confidence is not None and not 0 <= match_confidence <= 1:
            raise bad_argument("match_confidence must be between 0 and 1.")
        if error_code and not ERROR_CODE.match(error_code):
            raise bad_argument("error_code must be a word of letters and digits, at most 64 characters.")
        _format, width, height = inspect_image(image)
        request = request or {}
        now = self.clock()
        with self._lock:
            session = self._get(kind, session_id)
            if session.expired(now):
                raise EmulatorError(401, "TokenExpired", "The session token has expired.")
            # The spec names no error code for these; see docs/testing.md.
            if session.succeeded:
                raise EmulatorError(400, "SessionAlreadyUsed", "This session already has a result.")
            if session.used_up:
                raise EmulatorError(400, "SessionAlreadyUsed", f"This session allows {session.allowed_calls} calls.")
            session.started = session.started or now
            request_id = str(uuid.uuid4())
            attempt = Attempt(
                number=len(session.attempts) + 1,
                entry_id=self._next_entry_id,
                status=FAILED if error_code else SUCCEEDED if finish else RUNNING,
                received=now,
                api_version=api_version,
                request_id=request_id,
                client_request_id=request.get("clientRequestId") or request_id,
                content_length=request.get("contentLength", len(image)),
                user_agent=request.get("userAgent", ""),
                latency_ms=latency_ms,
                digest=hashlib.sha256(session.id.encode() + image).hexdigest().upper(),
                face_rectangle=face_rectangle_for(width, height),
                model_version=session.params.model_version or "",
                client_ip=request.get("clientIp", ""),
            )
            self._next_entry_id += 1
            if not error_code and not _address_allowed(attempt.client_ip, session.params.expected_client_ip):
                error_code = CLIENT_IP_MISMATCH  # the spec names no code for it: docs/testing.md
                attempt.status = FAILED
            if abuse_flagged_with is not None:
                attempt.abuse_detected = True
                attempt.flagged_sessions = [self._flagged(other) for other in abuse_flagged_with]
            if error_code:
                attempt.error_code = error_code
                attempt.error_message = ERROR_MESSAGES.get(error_code, "The liveness check failed.")
            elif finish:
                attempt.decision = decision
                if session.is_verify:
                    if match_confidence is None:
                        match_confidence = SAME_PERSON_CONFIDENCE if same_person else OTHER_PERSON_CONFIDENCE
                    threshold = session.params.verify_confidence_threshold
                    attempt.match_confidence = float(match_confidence)
                    attempt.is_identical = match_confidence >= (DEFAULT_VERIFY_THRESHOLD if threshold is None else threshold)
                    if session.verify_reference is None:
                        # The frontend sends the reference image itself when the preview's JSON-only create was used.
                        session.verify_reference = {
                            "faceRectangle": face_rectangle_for(width, height),
                            "qualityForRecognition": "high",
                        }
            if session.params.enable_session_image and not error_code:
                attempt.session_image_id = str(uuid.uuid4())
                self._images[attempt.session_image_id] = image
            session.attempts.append(attempt)
            return copy.deepcopy(session), copy.deepcopy(attempt)

    # --- helpers -----------------------------------------------------------------------

    def _flagged(self, session_id):
        """OtherFlaggedSessions for ``session_id``: its last attempt and image when the emulator has it."""
        other = self._sessions.get(session_id)
        last = other.attempts[-1] if other is not None and other.attempts else None
        flagged = {"attemptId": last.number if last else 1, "sessionId": session_id}
        if last is not None and last.session_image_id:
            flagged["sessionImageId"] = last.session_image_id
        return flagged

    def _get(self, kind, session_id):
        session = self._sessions.get(session_id)
        if session is None or session.kind != kind:
            raise EmulatorError(404, "SessionNotFound", "Session ID is not found.")
        return session
