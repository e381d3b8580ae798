"""Face API v1.2 (GA) and v1.3-preview.1 JSON (camelCase dicts) to the contract's typed results.

v1.3-preview.1 keeps every v1.2 body and adds, on each attempt, ``clientInformation`` (the
addresses the capture came from) and ``abuseMonitoringResult``; v1.2 answers have neither.
The spec types ``isAbuseDetected`` as ``object``; its examples send a boolean. v1.3 also has the
resource's liveness settings (``Settings``, ``SettingsUpdate``, whose ``enabled`` is typed ``object``
too and is a boolean in the examples) and ``ClientAssetsAccessTokenResponse``.

GA answers the whole session at create and on every GET, with all its attempts. The spec's own
example lists attempt 2 before attempt 1 and a top-level ``NotStarted`` beside a ``Succeeded``
attempt, so attempts are read by ``attemptId`` and ``attemptStatus``, never by list order, and a
succeeded attempt wins over the top-level status. Every body carries the ``authToken``: the
stored payload is sanitized.
"""

from datetime import datetime

from .base import (
    AbuseMonitoring,
    Attempt,
    ClientAssetsToken,
    CreatedSession,
    FlaggedSession,
    LivenessSettings,
    ProviderStatus,
    ReferenceFace,
    SessionResult,
    Verification,
    sanitized,
)

STATUSES = {
    "NotStarted": ProviderStatus.NOT_STARTED,
    "Running": ProviderStatus.RUNNING,
    "Succeeded": ProviderStatus.SUCCEEDED,
    "Failed": ProviderStatus.FAILED,
    "Canceled": ProviderStatus.CANCELED,
}


def _face_rectangle(part):
    return (((part or {}).get("targets") or {}).get("color") or {}).get("faceRectangle")


def _reference(results):
    for reference in results.get("verifyReferences") or []:
        quality = reference.get("qualityForRecognition")
        return ReferenceFace(reference.get("faceRectangle"), quality.lower() if quality else None)
    return None


def attempt(item):
    """LivenessSessionAttempt / LivenessWithVerifySessionAttempt -> Attempt."""
    result, error = item.get("result") or {}, item.get("error") or {}
    verify = result.get("verifyResult")
    decision = result.get("livenessDecision")
    return Attempt(
        attempt_id=int(item["attemptId"]),
        status=STATUSES.get(item.get("attemptStatus"), ProviderStatus.RUNNING),
        # The spec's examples write both "realface" and "realFace"; keep one spelling.
        liveness_decision=decision.lower() if decision else None,
        verification=Verification(bool(verify["isIdentical"]), float(verify["matchConfidence"])) if verify else None,
        face_rectangle=_face_rectangle(result) or _face_rectangle(error),
        error_code=error.get("code") or "",
        error_message=error.get("message") or "",
        session_image_id=result.get("sessionImageId") or "",
        digest=result.get("digest") or "",
        client_ips=tuple(client["ip"] for client in item.get("clientInformation") or [] if client.get("ip")),
        abuse_monitoring=_abuse_monitoring(item.get("abuseMonitoringResult")),
    )


def _abuse_monitoring(monitoring):
    """AbuseMonitoringResult (v1.3) -> AbuseMonitoring, or None when the answer has none."""
    if not monitoring:
        return None
    flagged = tuple(
        FlaggedSession(
            session_id=other["sessionId"],
            attempt_id=int(other["attemptId"]),
            session_image_id=other.get("sessionImageId") or "",
        )
        for other in monitoring.get("otherFlaggedSessions") or []
    )
    return AbuseMonitoring(is_abuse_detected=monitoring.get("isAbuseDetected") is True, other_flagged_sessions=flagged)


def created_session(body, *, expires_at):
    """LivenessSession / LivenessWithVerifySession as create answers it -> CreatedSession."""
    return CreatedSession(
        session_id=body["sessionId"],
        auth_token=body["authToken"],
        expires_at=expires_at,
        reference=_reference(body.get("results") or {}),
        payload=sanitized(body),
    )


def session_result(body):
    """LivenessSession / LivenessWithVerifySession -> SessionResult."""
    results = body.get("results") or {}
    attempts = tuple(sorted((attempt(item) for item in results.get("attempts") or []), key=lambda a: a.attempt_id))
    status = STATUSES.get(body.get("status"), ProviderStatus.RUNNING)
    if any(a.status == ProviderStatus.SUCCEEDED and a.liveness_decision for a in attempts):
        status = ProviderStatus.SUCCEEDED
    elif status == ProviderStatus.NOT_STARTED and attempts:
        status = ProviderStatus.RUNNING
    return SessionResult(
        session_id=body["sessionId"],
        status=status,
        attempts=attempts,
        reference=_reference(results),
        model_version=body.get("modelVersion") or "",
        payload=sanitized(body),
    )


def liveness_settings(body):
    """Settings (v1.3: ``{"livenessAbuseMonitoring": {"enabled": true}}``) -> LivenessSettings."""
    monitoring = body.get("livenessAbuseMonitoring") or {}
    return LivenessSettings(abuse_monitoring=monitoring.get("enabled") is True, payload=sanitized(body))


def settings_update(*, abuse_monitoring):
    """SettingsUpdate: the body of ``PATCH /settings``."""
    return {"livenessAbuseMonitoring": {"enabled": bool(abuse_monitoring)}}


def client_assets_token(body):
    """ClientAssetsAccessTokenResponse -> ClientAssetsToken."""
    return ClientAssetsToken(
        access_token=body["accessToken"],
        base64_access_token=body["base64AccessToken"],
        expires_at=_date_time(body.get("expiry")),
    )


def _date_time(value):
    """An RFC 3339 date-time ("2025-07-03T15:30:00.000Z") as an aware datetime, or None."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
