"""Face API v1.2-preview.1 JSON (camelCase dicts) to the contract's typed results.

The preview reports one result per session: the audit entry of the frontend call that gave it.
It becomes the result's single attempt.
"""

from datetime import datetime

from .base import (
    Attempt,
    AuditEntry,
    CreatedSession,
    ProviderStatus,
    ReferenceFace,
    RemoteSession,
    SessionResult,
    Verification,
    sanitized,
)

STATUSES = {
    "NotStarted": ProviderStatus.NOT_STARTED,
    "Started": ProviderStatus.RUNNING,
    "ResultAvailable": ProviderStatus.SUCCEEDED,
}


def parse_datetime(value):
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _reference(verify_image):
    if not verify_image:
        return None
    quality = verify_image.get("qualityForRecognition")
    return ReferenceFace(verify_image.get("faceRectangle"), quality.lower() if quality else None)


def created_session(body, *, expires_at):
    """CreateLivenessSessionResult / CreateLivenessWithVerifySessionResult -> CreatedSession."""
    return CreatedSession(
        session_id=body["sessionId"],
        auth_token=body["authToken"],
        expires_at=expires_at,
        reference=_reference(body.get("verifyImage")),
        payload=sanitized(body),
    )


def session_result(body):
    """LivenessSession / LivenessWithVerifySession -> SessionResult."""
    entry = body.get("result") or {}
    response = entry.get("response") or {}
    answer = response.get("body") or {}
    status = STATUSES.get(body.get("status"), ProviderStatus.RUNNING)
    attempts = ()
    verify = answer.get("verifyResult")
    decision = answer.get("livenessDecision")
    if status == ProviderStatus.SUCCEEDED and decision:
        attempts = (
            Attempt(
                attempt_id=1,
                status=ProviderStatus.SUCCEEDED,
                # The service has written both "realface" and "realFace"; keep one spelling.
                liveness_decision=decision.lower(),
                verification=Verification(bool(verify["isIdentical"]), float(verify["matchConfidence"])) if verify else None,
                face_rectangle=(answer.get("target") or {}).get("faceRectangle"),
                session_image_id=entry.get("sessionImageId") or "",
                digest=entry.get("digest") or "",
            ),
        )
    return SessionResult(
        session_id=body["id"],
        status=status,
        expired=bool(body.get("sessionExpired")),
        started_at=parse_datetime(body.get("sessionStartDateTime")),
        attempts=attempts,
        reference=_reference((verify or {}).get("verifyImage")),
        model_version=answer.get("modelVersionUsed") or "",
        latency_ms=response.get("latencyInMilliseconds"),
        payload=sanitized(body),
    )


def audit_entry(entry):
    return AuditEntry(
        id=int(entry["id"]),
        session_id=entry["sessionId"],
        request_id=entry.get("requestId", ""),
        client_request_id=entry.get("clientRequestId", ""),
        received_at=parse_datetime(entry.get("receivedDateTime")),
        request=sanitized(entry.get("request") or {}),
        response=sanitized(entry.get("response") or {}),
        digest=entry.get("digest") or "",
    )


def remote_session(item):
    return RemoteSession(
        session_id=item["id"],
        created_at=parse_datetime(item.get("createdDateTime")),
        expired=bool(item.get("sessionExpired")),
        device_correlation_id=item.get("deviceCorrelationId") or "",
    )
