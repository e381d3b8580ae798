"""The failure lockout (LIVENESS['LOCKOUT']): a subject whose checks fail too often within a window
gets no new sessions for a while, as NIST SP 800-63B asks of biometric attempts.

Failures are counted where a result is stored, on the locked subject row, so results stored at
once for one subject lock it once. ``Subject.locked_until`` also marks where counting starts
again: failures completed before it (the ones that caused a lock, or those before staff lifted
it, which sets it to the lift's time) no longer count.
"""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from .. import signals
from ..conf import liveness_settings
from ..models import LivenessEvent, LivenessSession, Subject
from ..webhook_protocol.events import SUBJECT_LOCKED
from .base import atomic_with_retry, emit, lock_subject, log_event


# The liveness_failed reasons that count: a spoof, a different person. A low match confidence or a
# reviewer's rejection says less about an attack.
COUNTED_REASONS = ("spoof", "not_identical")


def count_failures(failed):
    """Count the failed results just stored, ``(session, reason)`` pairs in the order they were
    stored (their subjects locked by the caller; the sessions' rows may not be written yet): a
    subject that reaches LIVENESS['LOCKOUT']['FAILURES'] within the window is locked. One query
    reads the earlier failures of every subject; the batch's own are counted here, in their order,
    so a batch counts exactly as its results stored one by one would."""
    lockout = liveness_settings.LOCKOUT
    counted = [session for session, reason in failed if reason in COUNTED_REASONS]
    if lockout is None or not counted:
        return
    window = timedelta(seconds=lockout["WINDOW_SECONDS"])
    times = {}  # subject pk -> when its counted failures completed
    earlier = (
        _counted_failures(LivenessSession.objects.filter(subject_id__in={session.subject_id for session in counted}))
        .filter(completed_at__gt=min(session.completed_at for session in counted) - window)
        .exclude(pk__in=[session.pk for session in counted])
        .values_list("subject_id", "completed_at")
    )
    for subject_id, completed_at in earlier:
        times.setdefault(subject_id, []).append(completed_at)
    for session in counted:
        subject, now = session.subject, session.completed_at
        if _counts(session):
            times.setdefault(subject.pk, []).append(now)
        if subject.locked_until is not None and subject.locked_until > now:
            continue  # already locked: one lock, one event, one signal
        since = now - window
        if subject.locked_until is not None:
            since = max(since, subject.locked_until)
        failures = sum(since < completed_at <= now for completed_at in times.get(subject.pk, ()))
        if failures >= lockout["FAILURES"]:
            _lock(subject, failures, now, lock_seconds=lockout["LOCK_SECONDS"])


def _counted_failures(sessions):
    """The failures of ``sessions`` that count (``COUNTED_REASONS``, not approved by a reviewer)."""
    return (
        sessions.filter(outcome=LivenessSession.Outcome.FAILED)
        .filter(Q(liveness_decision=LivenessSession.Decision.SPOOFFACE) | Q(is_identical=False))
        .exclude(review_status=LivenessSession.ReviewStatus.APPROVED)
    )


def _counts(session):
    """``_counted_failures``, of one session in memory."""
    return (
        session.outcome == LivenessSession.Outcome.FAILED
        and (session.liveness_decision == LivenessSession.Decision.SPOOFFACE or session.is_identical is False)
        and session.review_status != LivenessSession.ReviewStatus.APPROVED
    )


def _lock(subject, failures, now, *, lock_seconds):
    locked_until = now + timedelta(seconds=lock_seconds)
    Subject.objects.filter(pk=subject.pk).update(locked_until=locked_until, updated_at=now)
    subject.locked_until = locked_until
    log_event(
        LivenessEvent.Kind.SUBJECT_LOCKED, subject=subject, data={"failures": failures, "locked_until": locked_until.isoformat()}
    )
    emit(SUBJECT_LOCKED, signals.subject_locked, subject=subject, locked_until=locked_until, failures=failures)


@atomic_with_retry
def lift_lock(subject, *, actor=None):
    """End ``subject``'s lock now; failures before now no longer count. Returns False when it was not locked."""
    locked = lock_subject(subject.pk)
    now = timezone.now()
    if locked.locked_until is None or locked.locked_until <= now:
        return False
    previous = locked.locked_until
    Subject.objects.filter(pk=locked.pk).update(locked_until=now, updated_at=now)
    subject.locked_until = now
    log_event(LivenessEvent.Kind.LOCK_LIFTED, subject=locked, actor=actor, data={"locked_until": previous.isoformat()})
    return True


def is_locked(subject):
    return subject.locked_until is not None and subject.locked_until > timezone.now()
