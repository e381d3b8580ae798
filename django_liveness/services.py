"""The session state machine: the only place where liveness sessions change state.

Each transition runs in a transaction on a locked row (``select_for_update``), so a result
fetched twice (two tabs, a retry, the sync job) changes the session and fires the signals once.
Provider calls happen outside those transactions; signals are sent on commit with
``send_robust``, so a failing receiver never undoes a stored result.
"""

import logging
import uuid
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from . import signals
from .backends import get_backend
from .backends.base import AUDIT_ENTRIES, AuditEntry, ProviderStatus
from .conf import liveness_settings
from .exceptions import (
    BackendError,
    ConsentRequired,
    InvalidSessionState,
    NoReferenceImage,
    ServiceError,
    SessionNotFound,
    StorageUnavailable,
    SubjectConflict,
    SubjectErased,
)
from .images import read_image_bytes, validate_reference_image
from .models import Consent, LivenessAttempt, LivenessEvent, LivenessSession, ReferenceImage, Subject

logger = logging.getLogger("django_liveness")

Status = LivenessSession.Status
Outcome = LivenessSession.Outcome
Decision = LivenessSession.Decision
Review = LivenessSession.ReviewStatus
Event = LivenessEvent.Kind

# A session row that never reached the provider (the process died mid-request) is failed after this.
STALE_CREATED_AFTER = timedelta(minutes=15)


# --- helpers ------------------------------------------------------------------------------


def log_event(kind, *, session=None, subject=None, actor=None, from_status="", to_status="", message="", data=None):
    """Append one row to the event log."""
    return LivenessEvent.objects.create(
        kind=kind,
        session=session,
        subject=subject if subject is not None else getattr(session, "subject", None),
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        from_status=from_status,
        to_status=to_status,
        message=message,
        data=data or {},
    )


def _send_on_commit(signal, name, **kwargs):
    def send():
        for receiver, response in signal.send_robust(sender=LivenessSession, **kwargs):
            if isinstance(response, Exception):
                logger.error("A receiver of %s raised; the stored state is kept.", name, exc_info=response)

    transaction.on_commit(send)


def _lock(session):
    return LivenessSession.objects.select_for_update().select_related("subject").get(pk=session.pk)


def _set_status(session, status, *, actor=None, message="", data=None):
    log_event(
        Event.STATUS_CHANGED,
        session=session,
        actor=actor,
        from_status=session.status,
        to_status=status,
        message=message,
        data=data,
    )
    session.status = status


def has_valid_consent(subject):
    return Consent.objects.filter(subject=subject, withdrawn_at__isnull=True).exists()


def _check_subject_may_proceed(subject):
    if subject.erased_at is not None:
        raise SubjectErased("This subject's biometric data was erased; no new sessions or images are accepted.")
    if liveness_settings.REQUIRE_CONSENT and not has_valid_consent(subject):
        raise ConsentRequired("The subject has not given (or has withdrawn) consent to biometric processing.")


def compute_outcome(decision, *, verify, is_identical=None, match_confidence=None):
    """Return (outcome, reason) for a stored result; reason names why it did not pass."""
    if decision == Decision.SPOOFFACE:
        return Outcome.FAILED, "spoof"
    if decision != Decision.REALFACE:
        return Outcome.NEEDS_REVIEW, "uncertain"
    if not verify:
        return Outcome.PASSED, ""
    if not is_identical:
        return Outcome.FAILED, "not_identical"
    if match_confidence is None or match_confidence < liveness_settings.VERIFY_CONFIDENCE_THRESHOLD:
        return Outcome.FAILED, "low_confidence"
    return Outcome.PASSED, ""


# --- subjects -----------------------------------------------------------------------------


def find_or_create_subject(*, external_id=None, user=None, **fields):
    """Return ``(subject, created)``: the subject with ``external_id``, else the one linked to
    ``user``, else a new one with ``fields``.

    Raises SubjectConflict when the external_id and the user belong to two different subjects.
    """

    def existing():
        if external_id:
            subject = Subject.objects.filter(external_id=external_id).first()
            if subject is not None:
                if user is not None and subject.user_id != user.pk:
                    raise SubjectConflict("A subject with this external_id exists, linked to another user.")
                return subject
        if user is not None:
            subject = Subject.objects.filter(user=user).first()
            if subject is not None and external_id:
                raise SubjectConflict("This user already has a subject, with another external_id.")
            return subject
        return None

    subject = existing()
    if subject is not None:
        return subject, False
    new = {**fields, "user": user} | ({"external_id": external_id} if external_id else {})
    try:
        with transaction.atomic():
            return Subject.objects.create(**new), True
    except IntegrityError:  # created concurrently since we looked
        subject = existing()
        if subject is None:
            raise
        return subject, False


# --- reference images ---------------------------------------------------------------------


def add_reference_image(subject, source, *, actor=None):
    """Validate and store a new active reference image (the previous one is deactivated).

    Raises ValidationError for a bad image, StorageUnavailable when the storage fails (nothing
    stored in either case), SubjectErased or ConsentRequired.
    """
    _check_subject_may_proceed(subject)
    validated = validate_reference_image(source)
    image = ReferenceImage(
        subject=subject,
        content_type=validated.content_type,
        size=validated.size,
        width=validated.width,
        height=validated.height,
        sha256=validated.sha256,
        is_active=True,
    )
    try:
        with transaction.atomic():
            # Serialises uploads per subject, so "one active image" holds under concurrency.
            Subject.objects.select_for_update().filter(pk=subject.pk).exists()
            ReferenceImage.objects.filter(subject=subject, is_active=True).update(is_active=False)
            _store_file(image, validated)
            image.save()
            log_event(
                Event.IMAGE_UPLOADED,
                subject=subject,
                actor=actor,
                data={"reference_image": str(image.pk), "sha256": image.sha256, "size": image.size},
            )
    except Exception:
        # The database write failed after the file was stored: leave no orphan file behind.
        if image.file.name:
            image.file.storage.delete(image.file.name)
        raise
    return image


def _store_file(image, validated):
    try:
        image.file.save(f"upload{validated.extension}", ContentFile(validated.data), save=False)
    except Exception as error:
        # Each storage backend fails in its own way (OSError, Azure or S3 errors): one error for callers.
        logger.error("Storing a reference image failed (%s); nothing was kept.", type(error).__name__)
        raise StorageUnavailable("The image could not be stored; try again later.") from error


def delete_reference_image(image, *, actor=None):
    """Delete a reference image's row and its file from storage."""
    name, storage, subject = image.file.name, image.file.storage, image.subject
    with transaction.atomic():
        log_event(Event.IMAGE_DELETED, subject=subject, actor=actor, data={"reference_image": str(image.pk)})
        image.delete()
        transaction.on_commit(lambda: storage.delete(name))


def delete_subject(subject, *, actor=None):
    """Delete a subject, its sessions and consents, and its reference images' files from storage.

    Its sessions are deleted at the provider first; one the provider cannot delete now is left
    to ``liveness_sync``, which removes provider sessions with no local row.
    """
    remote = subject.sessions.exclude(provider_session_id="").filter(remote_deleted_at__isnull=True)
    for session in remote.select_related("subject"):
        delete_remote_session(session, actor=actor)
    files = [(image.file.storage, image.file.name) for image in subject.reference_images.all()]
    with transaction.atomic():
        log_event(Event.IMAGE_DELETED, actor=actor, data={"subject_deleted": str(subject.pk), "images": len(files)})
        subject.delete()
        transaction.on_commit(lambda: [storage.delete(name) for storage, name in files])


def record_image_view(image, *, actor):
    """Note in the event log that ``actor`` looked at a reference image."""
    log_event(Event.IMAGE_VIEWED, subject=image.subject, actor=actor, data={"reference_image": str(image.pk)})


# --- sessions -----------------------------------------------------------------------------


def start_session(subject, *, verify, operation_mode=None, device_correlation_id="", started_by=None):
    """Create a session at the provider and return it, with ``auth_token`` for the frontend.

    Raises ServiceError subclasses (nothing stored) when the subject may not start a session,
    and BackendError subclasses when the provider fails (the session is then stored as failed).
    """
    _check_subject_may_proceed(subject)
    reference = None
    if verify:
        reference = subject.reference_images.filter(is_active=True).first()
        if reference is None:
            raise NoReferenceImage(
                "The subject has no active reference image; upload one before a liveness-with-verify session."
            )
    session = LivenessSession.objects.create(
        subject=subject,
        kind=LivenessSession.Kind.LIVENESS_WITH_VERIFY if verify else LivenessSession.Kind.LIVENESS,
        reference_image=reference,
        operation_mode=operation_mode or liveness_settings.OPERATION_MODE,
        device_correlation_id=device_correlation_id or str(uuid.uuid4()),
        started_by=started_by if getattr(started_by, "is_authenticated", False) else None,
    )
    ttl = liveness_settings.AUTH_TOKEN_TTL_SECONDS
    options = {
        "operation_mode": session.operation_mode,
        "device_correlation_id": session.device_correlation_id,
        "auth_token_ttl_seconds": ttl,
    }
    backend = get_backend()
    try:
        if verify:
            created = backend.create_verify_session(reference_image=read_image_bytes(reference), **options)
        else:
            created = backend.create_session(**options)
    except BackendError as error:
        _fail(session, error, operation="create")
        raise
    with transaction.atomic():
        session.provider_session_id = created.session_id
        session.auth_token = created.auth_token
        session.auth_token_expires_at = created.expires_at or timezone.now() + timedelta(seconds=ttl)
        session.save(update_fields=["provider_session_id", "auth_token", "auth_token_expires_at", "updated_at"])
        if reference is not None:
            _store_reference_facts(reference, created.reference)
        log_event(
            Event.SESSION_CREATED,
            session=session,
            actor=started_by,
            to_status=session.status,
            data={"kind": session.kind, "provider_session_id": created.session_id, "operation_mode": session.operation_mode},
        )
        _send_on_commit(signals.session_created, "session_created", session=session, subject=subject)
    return session


def refresh_session(session, *, actor=None):
    """Fetch the provider's view of ``session`` and apply it; return the updated session.

    A final session is returned as it is, without calling the provider. Transient provider
    errors (Throttled, ProviderUnavailable) are recorded as events and re-raised; the session
    keeps its status.
    """
    if session.is_final:
        return session
    if not session.provider_session_id:
        if timezone.now() - session.created_at > STALE_CREATED_AFTER:
            return _end_without_result(session, Status.FAILED, "not_created", "The session never reached the provider.")
        return session
    try:
        result = get_backend().get_result(session.provider_session_id, verify=session.is_verify)
    except SessionNotFound as error:
        return _end_without_result(session, Status.FAILED, error.code, "The provider no longer has this session.")
    except BackendError as error:
        _record_remote_error(session, error, operation="get_result", actor=actor)
        raise
    return _apply_result(session, result, actor=actor)


def _apply_result(session, result, *, actor):
    with transaction.atomic():
        locked = _lock(session)
        if locked.is_final:
            return locked
        now = timezone.now()
        token_expired = result.expired or (locked.auth_token_expires_at and now >= locked.auth_token_expires_at)
        ended = result.status in (ProviderStatus.SUCCEEDED, ProviderStatus.FAILED, ProviderStatus.CANCELED)
        if result.result_attempt is not None:
            _store_result(locked, result, now, actor=actor)
            _delete_remote_on_commit(locked)
        elif ended or (token_expired and result.last_failed_attempt):
            # Every attempt failed (or the provider ended the session without one that counts).
            failed = result.last_failed_attempt
            code = failed.error_code if failed else f"provider_{result.status}"
            message = failed.error_message if failed else "The provider ended the session without a result."
            _store_attempts(locked, result)
            _end_locked(locked, Status.FAILED, code, message, actor=actor, result=result)
            _delete_remote_on_commit(locked)
        elif token_expired:
            _end_locked(locked, Status.EXPIRED, "", "The auth token expired before a result.", actor=actor)
            _delete_remote_on_commit(locked)
        elif result.status == ProviderStatus.RUNNING and locked.status == Status.CREATED:
            _set_status(locked, Status.STARTED, actor=actor)
            locked.started_at = result.started_at or now
            locked.save(update_fields=["status", "started_at", "updated_at"])
    return locked


def _delete_remote_on_commit(session):
    # Only once the result is safely stored: were the caller's transaction rolled back, the
    # provider's copy is the only one left, and the next refresh must still find it.
    if liveness_settings.DELETE_REMOTE_SESSION_ON_RESULT:
        transaction.on_commit(lambda: delete_remote_session(session))


def _store_attempts(session, result):
    LivenessAttempt.objects.bulk_create(
        [
            LivenessAttempt(
                session=session,
                attempt_id=attempt.attempt_id,
                status=attempt.status,
                liveness_decision=attempt.liveness_decision or "",
                is_identical=attempt.verification.is_identical if attempt.verification else None,
                match_confidence=attempt.verification.match_confidence if attempt.verification else None,
                face_rectangle=attempt.face_rectangle,
                error_code=attempt.error_code,
                error_message=attempt.error_message,
                session_image_id=attempt.session_image_id,
                digest=attempt.digest,
            )
            for attempt in result.attempts
        ],
        ignore_conflicts=True,  # stored once per session: the session row is locked and final after this
    )


def _store_result(session, result, now, *, actor):
    attempt = result.result_attempt
    verification = attempt.verification
    outcome, reason = compute_outcome(
        attempt.liveness_decision,
        verify=session.is_verify,
        is_identical=verification.is_identical if verification else None,
        match_confidence=verification.match_confidence if verification else None,
    )
    _set_status(session, Status.COMPLETED, actor=actor)
    session.liveness_decision = attempt.liveness_decision
    session.is_identical = verification.is_identical if verification else None
    session.match_confidence = verification.match_confidence if verification else None
    session.outcome = outcome
    session.face_rectangle = attempt.face_rectangle
    session.model_version = result.model_version
    session.result_digest = attempt.digest
    session.result_payload = result.payload
    session.provider_latency_ms = result.latency_ms
    session.started_at = session.started_at or result.started_at or now
    session.completed_at = now
    session.auth_token = ""
    if outcome == Outcome.NEEDS_REVIEW and not session.review_status:
        session.review_status = Review.PENDING
    verified = session.is_verify and outcome == Outcome.PASSED
    if verified:
        _mark_verified(session, now)
    session.save()
    _store_attempts(session, result)
    if session.reference_image_id and result.reference:
        _store_reference_facts(session.reference_image, result.reference)
    log_event(
        Event.RESULT_STORED,
        session=session,
        actor=actor,
        to_status=session.status,
        data={
            "liveness_decision": session.liveness_decision,
            "is_identical": session.is_identical,
            "match_confidence": session.match_confidence,
            "outcome": outcome,
            "model_version": session.model_version,
            "attempts": len(result.attempts),
        },
    )
    subject = session.subject
    _send_on_commit(signals.session_completed, "session_completed", session=session, subject=subject, outcome=outcome)
    if verified:
        _send_on_commit(signals.liveness_verified, "liveness_verified", session=session, subject=subject)
    elif outcome == Outcome.FAILED:
        _send_on_commit(signals.liveness_failed, "liveness_failed", session=session, subject=subject, reason=reason)


def _mark_verified(session, now):
    session.verified_at = now
    Subject.objects.filter(pk=session.subject_id).update(verified_at=now, updated_at=now)
    session.subject.verified_at = now


def _store_reference_facts(reference, facts):
    """Keep what the provider found in the reference image; no write when nothing changed."""
    if facts is None or not facts.face_rectangle:
        return
    quality = facts.quality_for_recognition or ""
    if (reference.face_rectangle, reference.quality_for_recognition) == (facts.face_rectangle, quality):
        return
    ReferenceImage.objects.filter(pk=reference.pk).update(face_rectangle=facts.face_rectangle, quality_for_recognition=quality)
    reference.face_rectangle, reference.quality_for_recognition = facts.face_rectangle, quality


def _end_without_result(session, status, code, message, *, actor=None):
    """Move a non-final session to expired/canceled/failed, once."""
    with transaction.atomic():
        locked = _lock(session)
        if not locked.is_final:
            _end_locked(locked, status, code, message, actor=actor)
    return locked


def _end_locked(locked, status, code, message, *, actor=None, result=None):
    """End the locked, open session ``locked`` without a result (keeping the provider's answer, if any)."""
    _set_status(locked, status, actor=actor, message=message, data={"error_code": code} if code else None)
    if status == Status.FAILED:
        locked.error_code, locked.error_message = code, message
    if result is not None:
        locked.result_payload = result.payload
        locked.model_version = result.model_version
    locked.auth_token = ""
    locked.save()
    _send_on_commit(signals.session_ended, "session_ended", session=locked, subject=locked.subject, status=status)


def _record_remote_error(session, error, *, operation, actor=None):
    log_event(
        LivenessEvent.Kind.REMOTE_ERROR,
        session=session,
        actor=actor,
        message=error.message,
        data={"operation": operation, "code": error.code, "status": error.status, "retry_after": error.retry_after},
    )
    logger.warning("Provider error on %s of session %s: %s (%s)", operation, session.pk, error.code, error.status)


def _fail(session, error, *, operation):
    _record_remote_error(session, error, operation=operation)
    _end_without_result(session, Status.FAILED, error.code, error.message or "The provider refused the session.")


def cancel_session(session, *, actor=None):
    """Cancel a session that has no result yet and delete it at the provider.

    Cancelling a canceled session does nothing; a session with another final status raises
    InvalidSessionState.
    """
    canceled = _end_without_result(session, Status.CANCELED, "", "Canceled by the application.", actor=actor)
    if canceled.status != Status.CANCELED:
        raise InvalidSessionState(f"The session is already {canceled.status}; only open sessions can be canceled.")
    delete_remote_session(canceled, actor=actor)
    return canceled


def delete_remote_session(session, *, actor=None):
    """Delete the session at the provider; a provider 404 counts as done. Returns True when gone."""
    if not session.provider_session_id or session.remote_deleted_at:
        return True
    try:
        get_backend().delete_session(session.provider_session_id, verify=session.is_verify)
    except SessionNotFound:
        pass
    except BackendError as error:
        _record_remote_error(session, error, operation="delete", actor=actor)
        return False
    now = timezone.now()
    LivenessSession.objects.filter(pk=session.pk).update(remote_deleted_at=now)
    session.remote_deleted_at = now
    log_event(Event.REMOTE_DELETED, session=session, actor=actor)
    return True


def effective_outcome(session):
    """The outcome that counts: a staff review overrides what the provider decided."""
    if session.review_status == Review.APPROVED:
        return Outcome.PASSED
    if session.review_status == Review.REJECTED:
        return Outcome.FAILED
    return session.outcome


def review_session(session, *, reviewer, decision, note):
    """Approve or reject a completed session. A later review replaces the earlier one; both stay in the log.

    Signals follow the change of the outcome that counts: an approval of a verify session that
    was not verified sends ``liveness_verified``; a rejection of a session that was not already
    failed sends ``liveness_failed`` and withdraws the verification it gave the subject.
    """
    if decision not in (Review.APPROVED, Review.REJECTED):
        raise ServiceError("The review decision must be 'approved' or 'rejected'.", code="invalid_decision")
    if not (note or "").strip():
        raise ServiceError("A review needs a note that explains the decision.", code="note_required")
    with transaction.atomic():
        locked = _lock(session)
        if locked.status != Status.COMPLETED:
            raise InvalidSessionState("Only completed sessions can be reviewed.")
        now = timezone.now()
        previous = locked.review_status
        was_failed = effective_outcome(locked) == Outcome.FAILED
        locked.review_status = decision
        locked.reviewed_by = reviewer
        locked.reviewed_at = now
        locked.review_note = note.strip()
        verified = decision == Review.APPROVED and locked.is_verify and locked.verified_at is None
        if verified:
            _mark_verified(locked, now)
        elif decision == Review.REJECTED and locked.verified_at is not None:
            _withdraw_verification(locked)
        locked.save()
        log_event(
            Event.REVIEWED,
            session=locked,
            actor=reviewer,
            message=locked.review_note,
            data={"decision": decision, "previous": previous},
        )
        subject = locked.subject
        _send_on_commit(
            signals.session_reviewed,
            "session_reviewed",
            session=locked,
            subject=subject,
            reviewer=reviewer,
            decision=decision,
            note=locked.review_note,
        )
        if verified:
            _send_on_commit(signals.liveness_verified, "liveness_verified", session=locked, subject=subject)
        elif decision == Review.REJECTED and not was_failed:
            _send_on_commit(signals.liveness_failed, "liveness_failed", session=locked, subject=subject, reason="rejected_by_review")
    return locked


def _withdraw_verification(session):
    """A rejected session no longer verifies its subject: fall back to the subject's last other verification."""
    session.verified_at = None
    others = LivenessSession.objects.filter(subject_id=session.subject_id, verified_at__isnull=False).exclude(pk=session.pk)
    last = others.aggregate(last=Max("verified_at"))["last"]
    Subject.objects.filter(pk=session.subject_id).update(verified_at=last, updated_at=timezone.now())
    session.subject.verified_at = last


def flag_for_review(session, *, actor=None, note=""):
    """Put a session in the review queue (unless it is already waiting there)."""
    with transaction.atomic():
        locked = _lock(session)
        if locked.review_status == Review.PENDING:
            return locked
        locked.review_status = Review.PENDING
        locked.save(update_fields=["review_status", "updated_at"])
        log_event(Event.FLAGGED, session=locked, actor=actor, message=note)
    return locked


def get_audit_entries(session):
    """The provider's audit entries of a session, or, where the provider keeps none (GA) or no
    longer has the session, one entry per stored attempt."""
    backend = get_backend()
    if backend.supports(AUDIT_ENTRIES) and session.provider_session_id and not session.remote_deleted_at:
        try:
            return backend.list_audit_entries(session.provider_session_id, verify=session.is_verify)
        except SessionNotFound:
            pass
    return [_audit_entry_of(attempt, session) for attempt in session.attempts.all()]


def _audit_entry_of(attempt, session):
    return AuditEntry(
        id=attempt.attempt_id,
        session_id=session.provider_session_id,
        request_id="",
        client_request_id="",
        received_at=None,
        request={},
        response={
            "attempt_status": attempt.status,
            "liveness_decision": attempt.liveness_decision or None,
            "is_identical": attempt.is_identical,
            "match_confidence": attempt.match_confidence,
            "error_code": attempt.error_code or None,
        },
        digest=attempt.digest,
    )


def sync_sessions(*, limit=500):
    """Refresh open sessions and retry failed remote deletions; return a summary dict.

    Used by ``manage.py liveness_sync`` (run it from cron for sessions nobody completed).
    """
    summary = {"refreshed": 0, "changed": 0, "errors": 0, "remote_deleted": 0}
    open_sessions = LivenessSession.objects.filter(status__in=LivenessSession.OPEN_STATUSES).order_by("created_at")
    for session in open_sessions[:limit]:
        before = session.status
        try:
            after = refresh_session(session)
        except BackendError:
            summary["errors"] += 1
            continue
        summary["refreshed"] += 1
        summary["changed"] += after.status != before
    if liveness_settings.DELETE_REMOTE_SESSION_ON_RESULT:
        leftovers = LivenessSession.objects.filter(
            status__in=list(LivenessSession.FINAL_STATUSES), remote_deleted_at__isnull=True
        ).exclude(provider_session_id="")
        for session in leftovers.select_related("subject")[:limit]:
            summary["remote_deleted"] += delete_remote_session(session)
    return summary


def validation_messages(error):
    """Flatten a ValidationError into a list of messages (for commands and the API)."""
    if isinstance(error, ValidationError):
        return error.messages
    return [str(error)]
