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


def count_failure(session, reason, now):
    """Count the failed result just stored on ``session`` (its subject locked by the caller); lock
    the subject once it reaches LIVENESS['LOCKOUT']['FAILURES'] within the window."""
    lockout = liveness_settings.LOCKOUT
    subject = session.subject
    if lockout is None or reason not in COUNTED_REASONS:
        return
    if subject.locked_until is not None and subject.locked_until > now:
        return  # already locked: one lock, one event, one signal
    since = now - timedelta(seconds=lockout["WINDOW_SECONDS"])
    if subject.locked_until is not None:
        since = max(since, subject.locked_until)
    failures = (
        LivenessSession.objects.filter(
            subject_id=subject.pk, outcome=LivenessSession.Outcome.FAILED, completed_at__gt=since, completed_at__lte=now
        )
        .filter(Q(liveness_decision=LivenessSession.Decision.SPOOFFACE) | Q(is_identical=False))
        .exclude(review_status=LivenessSession.ReviewStatus.APPROVED)
        .count()
    )
    if failures < lockout["FAILURES"]:
        return
    locked_until = now + timedelta(seconds=lockout["LOCK_SECONDS"])
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
