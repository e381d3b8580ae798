"""The session state machine: the only place where liveness sessions change state.

Each transition runs in a transaction on locked rows (``base.lock_session``: the subject, then
the session), so a result fetched twice (two tabs, a retry, the sync job) changes the session and
fires the signals once. Provider calls happen outside those transactions; signals are sent on
commit with ``send_robust``, so a failing receiver never undoes a stored result.
"""

import contextlib
import contextvars
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import signals
from ..observability import tracing
from . import after_answer, session_images
from ..backends import get_backend
from ..backends.base import AUDIT_ENTRIES, AuditEntry, ProviderStatus
from ..common.client_platform import client_platform
from ..conf import liveness_settings
from ..exceptions import BackendError, InvalidSessionState, NoReferenceImage, ReferenceQualityLow, SessionNotFound
from ..images import read_image_bytes
from ..models import Consent, LivenessAttempt, LivenessEvent, LivenessSession, ReferenceImage, Subject
from ..webhook_protocol.events import LIVENESS_FAILED, LIVENESS_VERIFIED, SESSION_COMPLETED, SESSION_CREATED, SESSION_ENDED
from . import abuse, devices, lockout, result_batch
from .base import (
    STALE_CREATED_AFTER,
    atomic_with_retry,
    check_subject_may_proceed,
    emit,
    events_in_one_statement,
    lock_session,
    lock_sessions,
    lock_subject,
    log_event,
    record_remote_error,
    set_status,
)

ATTEMPT_SUMMARY_FIELDS = ("attempt_id", "status", "liveness_decision", "is_identical", "match_confidence", "error_code", "error_message")
# What storing a result writes of the session; what ending one without a result writes.
RESULT_FIELDS = (
    "status", "liveness_decision", "is_identical", "match_confidence", "outcome", "face_rectangle", "session_image_id",
    "model_version", "result_digest", "result_payload", "provider_latency_ms", "started_at", "completed_at", "auth_token",
    "review_status", "verified_at", "attempts_summary", "abuse_detected",
)
END_FIELDS = ("status", "error_code", "error_message", "result_payload", "model_version", "auth_token", "attempts_summary", "abuse_detected")


def compute_outcome(decision, *, verify, is_identical=None, match_confidence=None):
    """Return (outcome, reason) for a stored result; reason names why it did not pass."""
    if decision == LivenessSession.Decision.SPOOFFACE:
        return LivenessSession.Outcome.FAILED, "spoof"
    if decision != LivenessSession.Decision.REALFACE:
        return LivenessSession.Outcome.NEEDS_REVIEW, "uncertain"
    if not verify:
        return LivenessSession.Outcome.PASSED, ""
    threshold, band = liveness_settings.VERIFY_CONFIDENCE_THRESHOLD, liveness_settings.VERIFY_REVIEW_BAND
    if match_confidence is not None and abs(match_confidence - threshold) < band:
        return LivenessSession.Outcome.NEEDS_REVIEW, "borderline"  # too close to call either way: a person decides
    if not is_identical:
        return LivenessSession.Outcome.FAILED, "not_identical"
    if match_confidence is None or match_confidence < threshold:
        return LivenessSession.Outcome.FAILED, "low_confidence"
    return LivenessSession.Outcome.PASSED, ""


# --- sessions -----------------------------------------------------------------------------


@tracing.traced("liveness.start_session")
def start_session(
    subject,
    *,
    verify,
    operation_mode=None,
    device_correlation_id="",
    device_correlation_id_set_in_client=False,
    return_url="",
    started_by=None,
    user_agent="",
    user_correlation_id_set_in_client=False,
    client_ip=None,
):
    """Create a session at the provider and return it, with ``auth_token`` for the frontend.

    The provider gets ``device_correlation_id`` when given, else the subject's own (``devices``);
    with ``device_correlation_id_set_in_client`` it gets none and the frontend's SDK sets it.
    ``user_agent`` (the person's browser's) is kept as its browser and OS family only.
    Under Face API v1.3-preview.1 a liveness session also sends the subject's user correlation id
    (with ``user_correlation_id_set_in_client``: none, the frontend's SDK sets it), and, with
    ``LIVENESS["BIND_CLIENT_IP"]``, ``client_ip`` as the address the capture must come from
    (``services.abuse``; None: not bound).

    Raises ServiceError subclasses (nothing stored) when the subject may not start a session,
    and BackendError subclasses when the provider fails (the session is then stored as failed).
    A session canceled while the provider created it (an erasure, a withdrawn consent) is deleted
    there at once, and the reason is raised.
    """
    browser, system = client_platform(user_agent)
    backend = get_backend()
    correlate, expected_client_ip = abuse.plan(
        backend, verify=verify, user_correlation_id_set_in_client=user_correlation_id_set_in_client, client_ip=client_ip
    )
    session = _new_session(
        subject,
        verify=verify,
        user_correlation=correlate and not user_correlation_id_set_in_client,
        expected_client_ip=expected_client_ip,
        operation_mode=operation_mode or liveness_settings.OPERATION_MODE,
        device_correlation_id=device_correlation_id,
        set_in_client=device_correlation_id_set_in_client,
        return_url=return_url,
        started_by=started_by if getattr(started_by, "is_authenticated", False) else None,
        client_browser=browser,
        client_os=system,
    )
    options = {
        "operation_mode": session.operation_mode,
        # None asks the provider to take the id from the frontend (deviceCorrelationIdSetInClient).
        "device_correlation_id": None if device_correlation_id_set_in_client else session.device_correlation_id,
        "auth_token_ttl_seconds": liveness_settings.AUTH_TOKEN_TTL_SECONDS,
    }
    if session_images.wanted(verify=verify):  # only then: a backend without session images lacks the keyword
        options["enable_session_image"] = True
    options.update(abuse.create_options(session, correlate=correlate, set_in_client=user_correlation_id_set_in_client))
    try:
        if verify:
            created = backend.create_verify_session(reference_image=read_image_bytes(session.reference_image), **options)
        else:
            created = backend.create_session(**options)
    except BackendError as error:
        _fail(session, error, operation="create")
        raise
    session = _record_created(session, created, started_by=started_by)
    if session.reference_image_id and not session.is_final:
        try:
            check_reference_quality(session.reference_image)  # the service rates it when it first sees it
        except ReferenceQualityLow:
            cancel_session(session)
            raise
    if session.is_final:
        delete_remote_session(session)
        check_subject_may_proceed(Subject.objects.get(pk=session.subject_id))  # raises the reason, if it is the subject's
        raise InvalidSessionState(_("The session was canceled while it was being created."))
    return session


@atomic_with_retry
def _new_session(subject, *, verify, device_correlation_id, set_in_client, user_correlation=False, **fields):
    locked = lock_subject(subject.pk)  # an erasure, a withdrawn consent or a lock committed meanwhile counts
    reference = _active_reference(locked) if verify else None
    check_subject_may_proceed(locked)
    if verify:
        if reference is None:
            raise NoReferenceImage(
                _("The subject has no active reference image; upload one before a liveness-with-verify session.")
            )
        check_reference_quality(reference)
    if not (device_correlation_id or set_in_client):
        device_correlation_id = devices.device_correlation_id(locked)
    if user_correlation:
        abuse.user_correlation_id(locked)
    kind = LivenessSession.Kind.LIVENESS_WITH_VERIFY if verify else LivenessSession.Kind.LIVENESS
    return LivenessSession.objects.create(
        subject=locked, kind=kind, reference_image=reference, device_correlation_id=device_correlation_id, **fields
    )


def _active_reference(locked):
    """The active reference image of the subject ``locked`` (locked by the caller), or None; with
    REQUIRE_CONSENT, whether the subject has a valid consent comes in the same statement (read
    after the lock, so a withdrawal committed while it waited counts)."""
    references = locked.reference_images.filter(is_active=True)
    if liveness_settings.REQUIRE_CONSENT:
        references = references.annotate(
            subject_has_valid_consent=Exists(Consent.objects.filter(subject=OuterRef("subject_id"), withdrawn_at__isnull=True))
        )
    reference = references.first()
    if reference is not None and liveness_settings.REQUIRE_CONSENT:
        locked.has_valid_consent = reference.subject_has_valid_consent  # check_subject_may_proceed asks no more
    return reference


@atomic_with_retry
def _record_created(session, created, *, started_by):
    """Store what the provider created for ``session`` (as ``_new_session`` stored it: open, no
    provider id yet, so nothing but a cancel can have changed it since)."""
    now = timezone.now()
    fields = {
        "provider_session_id": created.session_id,
        "auth_token": created.auth_token,
        "auth_token_expires_at": created.expires_at or now + timedelta(seconds=liveness_settings.AUTH_TOKEN_TTL_SECONDS),
        "updated_at": now,
    }
    # One conditional UPDATE, no lock before it: the row is written only while still open, and a
    # cancel (an erasure, a withdrawn consent) that wins the race is seen by the other branch.
    if not LivenessSession.objects.filter(pk=session.pk, status__in=LivenessSession.OPEN_STATUSES).update(**fields):
        locked = lock_session(session)  # canceled while the provider was creating it: keep the id, for the deletion
        locked.provider_session_id = created.session_id
        locked.save(update_fields=["provider_session_id", "updated_at"])
        return locked
    for name, value in fields.items():
        setattr(session, name, value)
    if session.reference_image_id and created.reference:
        _store_reference_facts(session.reference_image, created.reference)
    log_event(
        LivenessEvent.Kind.SESSION_CREATED,
        session=session,
        actor=started_by,
        to_status=session.status,
        data={"kind": session.kind, "provider_session_id": created.session_id, "operation_mode": session.operation_mode},
    )
    emit(SESSION_CREATED, signals.session_created, session=session)
    return session


@tracing.traced("liveness.refresh_session")
def refresh_session(session, *, actor=None):
    """Fetch the provider's view of ``session`` and apply it; return the updated session.

    A final session is returned as it is, without calling the provider, and so is an open one
    fetched less than COMPLETE_MIN_INTERVAL_SECONDS ago (by any process): however often complete/ is
    called, a session costs the provider's shared quota at most one call per interval. Transient
    provider errors (Throttled, ProviderUnavailable) are recorded as events and re-raised; the
    session keeps its status.
    """
    if session.is_final or not session.provider_session_id:
        return apply_fetched(session, None, actor=actor)
    if not _claim_fetch(session):
        # The last fetch's answer, as stored now (another process may have stored a result since
        # ``session`` was read).
        return LivenessSession.objects.select_related("subject").get(pk=session.pk)
    try:
        result = fetch_result(session)
    except BackendError as error:
        return apply_fetched(session, error, actor=actor)
    return apply_fetched(session, result, actor=actor)


@atomic_with_retry
def _claim_fetch(session):
    """True when the provider may be asked about ``session`` now; it is then noted as fetched.

    One conditional UPDATE on the session row, which every process shares (a cache may be each
    process's own): of several requests or workers at once exactly one wins, and none again
    within the interval."""
    interval = liveness_settings.COMPLETE_MIN_INTERVAL_SECONDS
    now = timezone.now()
    due = Q(last_fetch_at__isnull=True) | Q(last_fetch_at__lte=now - timedelta(seconds=interval))
    if not LivenessSession.objects.filter(due, pk=session.pk).update(last_fetch_at=now):
        return False
    session.last_fetch_at = now
    return True


def fetch_result(session):
    """The provider's view of ``session`` (a provider call, no database): a SessionResult, or it raises."""
    return get_backend().get_result(session.provider_session_id, verify=session.is_verify)


def apply_fetched(session, fetched, *, actor=None):
    """Apply what ``fetch_result`` gave (a SessionResult, or the BackendError it raised); return the session.

    Split from the provider call so that the sync can fetch many sessions at once and store their
    results together (``apply_fetched_many``). A transient error is recorded and raised again.
    """
    (applied,) = apply_fetched_many([(session, fetched)], actor=actor)
    if isinstance(applied, BackendError):
        raise applied
    return applied


def apply_fetched_many(pairs, *, actor=None):
    """Apply ``(session, fetched)`` pairs; return, for each, the session as stored, or the transient
    BackendError that was fetched (recorded as an event; the session keeps its status).

    The results (SessionResult) are stored together, in one transaction with one statement per
    table (``result_batch``); a session that ends without one (the provider lost it, it never
    reached the provider) ends in its own transaction.
    """
    applied = {}
    results = []
    for session, fetched in pairs:
        if session.is_final:
            applied[session.pk] = session
        elif not session.provider_session_id:
            stale = timezone.now() - session.created_at > STALE_CREATED_AFTER
            applied[session.pk] = _end_without_result(
                session, LivenessSession.Status.FAILED, "not_created", "The session never reached the provider."
            ) if stale else session
        elif isinstance(fetched, SessionNotFound):
            applied[session.pk] = _end_without_result(
                session, LivenessSession.Status.FAILED, fetched.code, "The provider no longer has this session."
            )
        elif isinstance(fetched, BackendError):
            record_remote_error(session, fetched, operation="get_result", actor=actor)
            applied[session.pk] = fetched
        else:
            results.append((session, fetched))
    if results:
        applied.update((stored.pk, stored) for stored in _apply_results(results, actor=actor))
    return [applied[session.pk] for session, _fetched in pairs]


@atomic_with_retry
def _apply_results(pairs, *, actor):
    # The batch's rows locked together; its events (status, verdict, result, lock) and outbox rows
    # in one INSERT each, its sessions and attempts likewise (result_batch).
    with events_in_one_statement(), result_batch.gathered() as batch:
        locked = lock_sessions([session for session, _result in pairs])
        stored = [_apply_result_locked(locked[session.pk], result, actor=actor) for session, result in pairs]
        lockout.count_failures(batch.failures)
    return stored


def _apply_result_locked(locked, result, *, actor):
    if locked.is_final:
        return locked
    now = result_batch.now()
    token_expired = result.expired or (locked.auth_token_expires_at and now >= locked.auth_token_expires_at)
    ended = result.status in (ProviderStatus.SUCCEEDED, ProviderStatus.FAILED, ProviderStatus.CANCELED)
    if result.result_attempt is not None:
        _store_result(locked, result, now, actor=actor)
        _finish_remote_on_commit(locked)
    elif ended or (token_expired and result.last_failed_attempt):
        # Every attempt failed (or the provider ended the session without one that counts).
        failed = result.last_failed_attempt
        code = failed.error_code if failed else f"provider_{result.status}"
        message = failed.error_message if failed else "The provider ended the session without a result."
        _store_attempts(locked, result)
        abuse.record_verdict(locked, result, actor=actor)
        _end_locked(locked, LivenessSession.Status.FAILED, code, message, actor=actor, result=result)
        _finish_remote_on_commit(locked)
    elif token_expired:
        _end_locked(locked, LivenessSession.Status.EXPIRED, "", "The auth token expired before a result.", actor=actor)
        _finish_remote_on_commit(locked)
    elif result.status == ProviderStatus.RUNNING and locked.status == LivenessSession.Status.CREATED:
        set_status(locked, LivenessSession.Status.STARTED, actor=actor)
        locked.started_at = result.started_at or now
        result_batch.save(locked, ("status", "started_at"))
    return locked


# Where the remote work of ended sessions goes (the session image's fetch, then the deletion): done
# at once, unless the sync collects it to run beside its other provider calls.
_deletions = contextvars.ContextVar("liveness_remote_deletions", default=None)


def _finish_remote_on_commit(session):
    # Only once the result is safely stored: were the caller's transaction rolled back, the
    # provider's copy is the only one left, and the next refresh must still find it.
    if liveness_settings.DELETE_REMOTE_SESSION_ON_RESULT or session_images.missing(session):
        collected = _deletions.get()
        # After the answer (services.after_answer): the person does not wait for these round trips.
        transaction.on_commit(
            lambda: collected.append(session) if collected is not None else after_answer.schedule(session, finish_after_answer)
        )


@tracing.traced("liveness.finish_remote_session")
def finish_remote_session(session, *, actor=None):
    """Fetch the session image (if one is missing), then delete the session at the provider (if
    ``DELETE_REMOTE_SESSION_ON_RESULT``). A failed fetch keeps the remote session for the sync."""
    if not session_images.fetch(session, actor=actor):
        return False
    return not liveness_settings.DELETE_REMOTE_SESSION_ON_RESULT or delete_remote_session(session, actor=actor)


def finish_after_answer(session_id, *, session=None):
    """The work after a result's answer (``after_answer``, the ``finish_after_answer_task`` task): fetch
    the session image and delete the remote copy of the session ``session_id``, holding its sync
    lease meanwhile; True when nothing is left to do. A session that another worker holds is left to
    it (False). ``session``: the row as just committed, when the caller has it."""
    if not after_answer.claim(session_id):
        return False
    if session is None:
        session = LivenessSession.objects.select_related("subject").filter(pk=session_id).first()
    try:
        if session is None or not session.pending_after_answer:
            return True
        return finish_remote_session(session)
    finally:
        after_answer.release(session_id)


@contextlib.contextmanager
def collect_remote_deletions():
    """Within the block, the remote work of ended sessions is listed (yielded) instead of done; the
    caller does it (``session_images`` first, then the deletion)."""
    collected = []
    token = _deletions.set(collected)
    try:
        yield collected
    finally:
        _deletions.reset(token)


def _store_attempts(session, result):
    """One row per attempt, and their summary on the session (saved by the caller)."""
    attempts = [
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
            **abuse.attempt_fields(attempt),
        )
        for attempt in result.attempts
    ]
    result_batch.add_attempts(attempts)
    # Attempts never change once stored: the summary answers the API without a query.
    session.attempts_summary = [{name: getattr(attempt, name) for name in ATTEMPT_SUMMARY_FIELDS} for attempt in attempts]


def _store_result(session, result, now, *, actor):
    attempt = result.result_attempt
    verification = attempt.verification
    outcome, reason = compute_outcome(
        attempt.liveness_decision,
        verify=session.is_verify,
        is_identical=verification.is_identical if verification else None,
        match_confidence=verification.match_confidence if verification else None,
    )
    flagged = abuse.is_flagged(result)
    if flagged and outcome == LivenessSession.Outcome.PASSED:
        outcome = LivenessSession.Outcome.NEEDS_REVIEW  # the service's abuse monitoring flagged it: never a pass by itself
    set_status(session, LivenessSession.Status.COMPLETED, actor=actor)
    session.liveness_decision = attempt.liveness_decision
    session.is_identical = verification.is_identical if verification else None
    session.match_confidence = verification.match_confidence if verification else None
    session.outcome = outcome
    session.face_rectangle = attempt.face_rectangle
    session.session_image_id = attempt.session_image_id
    session.model_version = result.model_version
    session.result_digest = attempt.digest
    session.result_payload = result.payload
    session.provider_latency_ms = result.latency_ms
    session.started_at = session.started_at or result.started_at or now
    session.completed_at = now
    session.auth_token = ""
    if (outcome == LivenessSession.Outcome.NEEDS_REVIEW or flagged) and not session.review_status:
        session.review_status = LivenessSession.ReviewStatus.PENDING
    verified = session.is_verify and outcome == LivenessSession.Outcome.PASSED
    if verified:
        result_batch.mark_verified(session, now)
    _store_attempts(session, result)
    abuse.record_verdict(session, result, actor=actor)
    result_batch.save(session, RESULT_FIELDS)
    if session.reference_image_id and result.reference:
        _store_reference_facts(session.reference_image, result.reference)
    log_event(
        LivenessEvent.Kind.RESULT_STORED,
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
    emit(SESSION_COMPLETED, signals.session_completed, session=session, signal_only={"outcome": outcome})
    if verified:
        emit(LIVENESS_VERIFIED, signals.liveness_verified, session=session)
    elif outcome == LivenessSession.Outcome.FAILED:
        emit(LIVENESS_FAILED, signals.liveness_failed, session=session, reason=reason)
        result_batch.note_failure(session, reason)


def _store_reference_facts(reference, facts):
    """Keep what the provider found in the reference image; no write when nothing changed. A first
    "low" rating is an event: the admin and the API flag the image."""
    if facts is None or not facts.face_rectangle:
        return
    quality = facts.quality_for_recognition or ""
    if (reference.face_rectangle, reference.quality_for_recognition) == (facts.face_rectangle, quality):
        return
    if quality == ReferenceImage.Quality.LOW and reference.quality_for_recognition != quality:
        log_event(
            LivenessEvent.Kind.LOW_QUALITY_REFERENCE, subject=reference.subject, data={"reference_image": str(reference.pk)}
        )
    ReferenceImage.objects.filter(pk=reference.pk).update(face_rectangle=facts.face_rectangle, quality_for_recognition=quality)
    reference.face_rectangle, reference.quality_for_recognition = facts.face_rectangle, quality


def check_reference_quality(reference):
    """Raise ReferenceQualityLow for a reference rated "low", when REQUIRE_REFERENCE_QUALITY is on."""
    if liveness_settings.REQUIRE_REFERENCE_QUALITY and reference.quality_for_recognition == ReferenceImage.Quality.LOW:
        raise ReferenceQualityLow(
            _("The reference image is of low quality for face recognition; upload a sharper, well-lit photo.")
        )


@atomic_with_retry
def _end_without_result(session, status, code, message, *, actor=None):
    """Move a non-final session to expired/canceled/failed, once."""
    locked = lock_session(session)
    if not locked.is_final:
        _end_locked(locked, status, code, message, actor=actor)
    return locked


def _end_locked(locked, status, code, message, *, actor=None, result=None):
    """End the locked, open session ``locked`` without a result (keeping the provider's answer, if any)."""
    set_status(locked, status, actor=actor, message=message, data={"error_code": code} if code else None)
    if status == LivenessSession.Status.FAILED:
        locked.error_code, locked.error_message = code, message
    if result is not None:
        locked.result_payload = result.payload
        locked.model_version = result.model_version
    locked.auth_token = ""
    result_batch.save(locked, END_FIELDS)
    emit(SESSION_ENDED, signals.session_ended, session=locked, signal_only={"status": status})


def _fail(session, error, *, operation):
    record_remote_error(session, error, operation=operation)
    _end_without_result(session, LivenessSession.Status.FAILED, error.code, error.message or "The provider refused the session.")


@tracing.traced("liveness.cancel_session")
def cancel_session(session, *, actor=None):
    """Cancel a session that has no result yet and delete it at the provider.

    Cancelling a canceled session does nothing; a session with another final status raises
    InvalidSessionState.
    """
    canceled = _end_without_result(session, LivenessSession.Status.CANCELED, "", "Canceled by the application.", actor=actor)
    if canceled.status != LivenessSession.Status.CANCELED:
        raise InvalidSessionState(
            _("The session is already %(status)s; only open sessions can be canceled.") % {"status": canceled.status}
        )
    delete_remote_session(canceled, actor=actor)
    return canceled


def cancel_open_sessions(sessions, *, actor=None):
    """Cancel every open session of the queryset ``sessions`` and delete it at the provider.

    A session that ended since the query (a result stored, an expiry) is left as it is: a race,
    not an error. Returns how many were canceled.
    """
    canceled = 0
    for session in sessions.filter(status__in=LivenessSession.OPEN_STATUSES):
        ended = _end_without_result(session, LivenessSession.Status.CANCELED, "", "Canceled by the application.", actor=actor)
        if ended.status == LivenessSession.Status.CANCELED:
            delete_remote_session(ended, actor=actor)
            canceled += 1
    return canceled


@tracing.traced("liveness.delete_remote_session")
def delete_remote_session(session, *, actor=None):
    """Delete the session at the provider; a provider 404 counts as done. Returns True when gone."""
    if not session.provider_session_id or session.remote_deleted_at:
        return True
    return record_remote_deletion(session, delete_at_provider(session), actor=actor)


def delete_at_provider(session):
    """The provider call of a remote deletion (no database): None when done, else the BackendError."""
    try:
        get_backend().delete_session(session.provider_session_id, verify=session.is_verify)
    except SessionNotFound:
        pass
    except BackendError as error:
        return error
    return None


def record_remote_deletion(session, error, *, actor=None):
    """Record what ``delete_at_provider`` did; True when the session is gone there."""
    return record_remote_deletions([(session, error)], actor=actor) == 1


def record_remote_deletions(outcomes, *, actor=None):
    """Record what ``delete_at_provider`` did for each ``(session, error)``: the errors as events,
    the sessions gone with one UPDATE and their events with one INSERT. Returns how many are gone."""
    gone = [session for session, error in outcomes if error is None]
    for session, error in outcomes:
        if error is not None:
            record_remote_error(session, error, operation="delete", actor=actor)
    if gone:
        _mark_remote_deleted(gone, actor=actor)
    return len(gone)


@atomic_with_retry
def _mark_remote_deleted(sessions, *, actor):
    now = timezone.now()
    with events_in_one_statement():
        LivenessSession.objects.filter(pk__in=[session.pk for session in sessions]).update(remote_deleted_at=now)
        for session in sessions:
            session.remote_deleted_at = now
            log_event(LivenessEvent.Kind.REMOTE_DELETED, session=session, actor=actor)


@tracing.traced("liveness.get_audit_entries")
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


def reencrypt_auth_tokens():
    """Write the auth tokens of open sessions again, encrypted with the current SECRET_KEY (after a
    rotation, before the previous key leaves SECRET_KEY_FALLBACKS); returns how many."""
    open_with_token = LivenessSession.objects.filter(status__in=LivenessSession.OPEN_STATUSES).exclude(auth_token="")
    return sum(_reencrypt_token(pk, token) for pk, token in open_with_token.values_list("pk", "auth_token"))


@atomic_with_retry
def _reencrypt_token(pk, token):
    # Only while still open: a session that ended meanwhile keeps its cleared token.
    return LivenessSession.objects.filter(pk=pk, status__in=LivenessSession.OPEN_STATUSES).update(auth_token=token)
