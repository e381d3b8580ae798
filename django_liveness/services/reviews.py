"""Staff decisions on completed sessions: reviews, and the queue they are worked from."""

from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import signals, webhooks
from ..observability import tracing
from ..exceptions import InvalidSessionState, ServiceError
from ..models import LivenessEvent, LivenessSession, Subject
from .base import atomic_with_retry, emit, lock_session, log_event, mark_verified

Status = LivenessSession.Status
Outcome = LivenessSession.Outcome
Review = LivenessSession.ReviewStatus
Event = LivenessEvent.Kind


def effective_outcome(session):
    """The outcome that counts: a staff review overrides what the provider decided."""
    if session.review_status == Review.APPROVED:
        return Outcome.PASSED
    if session.review_status == Review.REJECTED:
        return Outcome.FAILED
    return session.outcome


def effective_outcome_filter(outcome):
    """A filter (``Q``) for sessions whose outcome that counts is ``outcome``."""
    reviewed = Q(review_status__in=[Review.APPROVED, Review.REJECTED])
    if outcome == Outcome.PASSED:
        return Q(review_status=Review.APPROVED) | (Q(outcome=Outcome.PASSED) & ~reviewed)
    if outcome == Outcome.FAILED:
        return Q(review_status=Review.REJECTED) | (Q(outcome=Outcome.FAILED) & ~reviewed)
    return Q(outcome=outcome) & ~reviewed


@tracing.traced("liveness.review_session")
def review_session(session, *, reviewer, decision, note):
    """Approve or reject a completed session. A later review replaces the earlier one; both stay in the log.

    Signals follow the change of the outcome that counts: an approval of a verify session that
    was not verified sends ``liveness_verified``; a rejection of a session that was not already
    failed sends ``liveness_failed`` and withdraws the verification it gave the subject.
    """
    if decision not in (Review.APPROVED, Review.REJECTED):
        raise ServiceError(_("The review decision must be 'approved' or 'rejected'."), code="invalid_decision")
    if not (note or "").strip():
        raise ServiceError(_("A review needs a note that explains the decision."), code="note_required")
    return _review(session, reviewer=reviewer, decision=decision, note=note.strip())


@atomic_with_retry
def _review(session, *, reviewer, decision, note):
    locked = lock_session(session)
    if locked.status != Status.COMPLETED:
        raise InvalidSessionState(_("Only completed sessions can be reviewed."))
    now = timezone.now()
    previous = locked.review_status
    was_failed = effective_outcome(locked) == Outcome.FAILED
    locked.review_status = decision
    locked.reviewed_by = reviewer
    locked.reviewed_at = now
    locked.review_note = note
    verified = decision == Review.APPROVED and locked.is_verify and locked.verified_at is None
    if verified:
        mark_verified(locked, now)
    elif decision == Review.REJECTED and locked.verified_at is not None:
        _withdraw_verification(locked)
    locked.save(update_fields=["review_status", "reviewed_by", "reviewed_at", "review_note", "verified_at", "updated_at"])
    log_event(
        Event.REVIEWED,
        session=locked,
        actor=reviewer,
        message=note,
        data={"decision": decision, "previous": previous, "outcome": effective_outcome(locked)},
    )
    emit(
        webhooks.SESSION_REVIEWED,
        signals.session_reviewed,
        session=locked,
        decision=decision,
        signal_only={"reviewer": reviewer, "note": note},
    )
    if verified:
        emit(webhooks.LIVENESS_VERIFIED, signals.liveness_verified, session=locked)
    elif decision == Review.REJECTED and not was_failed:
        emit(webhooks.LIVENESS_FAILED, signals.liveness_failed, session=locked, reason="rejected_by_review")
    return locked


def _withdraw_verification(session):
    """A rejected session no longer verifies its subject: fall back to the subject's last other verification."""
    session.verified_at = None
    others = LivenessSession.objects.filter(subject_id=session.subject_id, verified_at__isnull=False).exclude(pk=session.pk)
    last = others.aggregate(last=Max("verified_at"))["last"]
    Subject.objects.filter(pk=session.subject_id).update(verified_at=last, updated_at=timezone.now())
    session.subject.verified_at = last


@atomic_with_retry
def flag_for_review(session, *, actor=None, note=""):
    """Put a completed session in the review queue (unless it is already waiting there).

    Only a completed session can be reviewed, so only one can be queued: InvalidSessionState
    otherwise (an open session would stay in the queue for ever once it expired or failed).
    """
    locked = lock_session(session)
    if locked.status != Status.COMPLETED:
        raise InvalidSessionState(
            _("The session is %(status)s; only completed sessions can be reviewed.") % {"status": locked.status}
        )
    if locked.review_status == Review.PENDING:
        return locked
    locked.review_status = Review.PENDING
    locked.save(update_fields=["review_status", "updated_at"])
    log_event(Event.FLAGGED, session=locked, actor=actor, message=note)
    return locked
