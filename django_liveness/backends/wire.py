"""Face API v1.2-preview.1 JSON (camelCase dicts) to the backends' typed results.

Both the Azure backend (from the SDK's models, as dicts) and LocMemBackend (from the emulator
core) go through these functions, so they report results in exactly the same way.
"""

from datetime import datetime

from .base import AuditEntry, CreatedSession, RemoteSession, SessionResult, VerifyResult


def parse_datetime(value):
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _quality(verify_image):
    quality = (verify_image or {}).get("qualityForRecognition")
    return quality.lower() if quality else None


def created_session(body):
    """CreateLivenessSessionResult / CreateLivenessWithVerifySessionResult -> CreatedSession."""
    verify_image = body.get("verifyImage") or {}
    return CreatedSession(
        session_id=body["sessionId"],
        auth_token=body["authToken"],
        reference_face_rectangle=verify_image.get("faceRectangle"),
        reference_quality_for_recognition=_quality(verify_image),
    )


def session_result(body):
    """LivenessSession / LivenessWithVerifySession -> SessionResult."""
    entry = body.get("result") or {}
    response = ((entry.get("response") or {}).get("body")) or {}
    verify = response.get("verifyResult")
    verify_result = None
    if verify:
        verify_image = verify.get("verifyImage") or {}
        verify_result = VerifyResult(
            is_identical=bool(verify["isIdentical"]),
            match_confidence=float(verify["matchConfidence"]),
            reference_face_rectangle=verify_image.get("faceRectangle"),
            reference_quality_for_recognition=_quality(verify_image),
        )
    decision = response.get("livenessDecision")
    return SessionResult(
        session_id=body["id"],
        status=body["status"],
        expired=bool(body.get("sessionExpired")),
        created_at=parse_datetime(body.get("createdDateTime")),
        started_at=parse_datetime(body.get("sessionStartDateTime")),
        # The service has written both "realface" and "realFace"; store one spelling.
        liveness_decision=decision.lower() if decision else None,
        verify=verify_result,
        face_rectangle=(response.get("target") or {}).get("faceRectangle"),
        model_version=response.get("modelVersionUsed") or "",
        digest=entry.get("digest") or "",
        payload=body,
    )


def audit_entry(entry):
    return AuditEntry(
        id=int(entry["id"]),
        session_id=entry["sessionId"],
        request_id=entry.get("requestId", ""),
        client_request_id=entry.get("clientRequestId", ""),
        received_at=parse_datetime(entry.get("receivedDateTime")),
        request=entry.get("request") or {},
        response=entry.get("response") or {},
        digest=entry.get("digest") or "",
    )


def remote_session(item):
    return RemoteSession(
        session_id=item["id"],
        created_at=parse_datetime(item.get("createdDateTime")),
        expired=bool(item.get("sessionExpired")),
        device_correlation_id=item.get("deviceCorrelationId") or "",
    )
