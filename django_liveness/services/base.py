"""What every service shares: the lock order, transactions that retry, the event log, events
(signal after commit, webhook in the transaction), and file deletion after commit."""

import contextlib
import contextvars
import logging
import math
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..conf import liveness_settings
from ..exceptions import ConsentRequired, SubjectErased, SubjectLocked
from ..models import Consent, LivenessEvent, LivenessSession, ReferenceImage, Subject
from ..db.transactions import atomic_with_retry  # noqa: F401  (the services' import of it)
from .outbox import deliveries_in_one_statement, record_webhook_event

logger = logging.getLogger("django_liveness")


# A session row that never reached the provider (the process died mid-request) is failed after this.
STALE_CREATED_AFTER = timedelta(minutes=15)


# The rows of the event log a block writes at its end, in one statement (``events_in_one_statement``).
_event_batch = contextvars.ContextVar("liveness_event_batch", default=None)


@contextlib.contextmanager
def events_in_one_statement():
    """Within the block (inside the caller's transaction), ``log_event`` collects its rows, and
    ``emit`` its webhook deliveries (``outbox.deliveries_in_one_statement``): at the block's end,
    when it ends without an error, each table gets one INSERT, rows in their order (an error writes
    none: the transaction is rolled back anyway). A nested block joins the outer one."""
    if _event_batch.get() is not None:
        yield
        return
    batch = []
    token = _event_batch.set(batch)
    try:
        with deliveries_in_one_statement():
            yield
            if batch:
                LivenessEvent.objects.bulk_create(batch)
    finally:
        _event_batch.reset(token)


def log_event(kind, *, session=None, subject=None, actor=None, from_status="", to_status="", message="", data=None):
    """Append one row to the event log (at the end of an ``events_in_one_statement`` block, if in one)."""
    event = LivenessEvent(
        kind=kind,
        session=session,
        subject=subject if subject is not None else getattr(session, "subject", None),
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        from_status=from_status,
        to_status=to_status,
        message=message,
        data=data or {},
    )
    batch = _event_batch.get()
    if batch is None:
        event.save(force_insert=True)
    else:
        batch.append(event)
    return event


def record_remote_error(session, error, *, operation, actor=None):
    """Log a provider's error (a BackendError) on ``operation`` of ``session``: an event and a warning."""
    log_event(
        LivenessEvent.Kind.REMOTE_ERROR,
        session=session,
        actor=actor,
        message=error.message,
        data={"operation": operation, "code": error.code, "status": error.status, "retry_after": error.retry_after},
    )
    logger.warning(
        "Provider error on %s of session %s: %s (HTTP %s) %s", operation, session.pk, error.code, error.status, error.message
    )


def send_on_commit(signal, **kwargs):
    """Send ``signal`` once the transaction commits. ``send_robust`` logs a receiver's error
    itself (logger ``django.dispatch``), and a failing receiver never undoes the change."""
    transaction.on_commit(lambda: signal.send_robust(sender=LivenessSession, **kwargs))


def emit(event_type, signal, *, session=None, subject=None, signal_only=None, webhook_only=None, **fields):
    """Tell the world about a change: ``signal`` is sent once the transaction commits, and the
    webhook ``event_type`` is written to the outbox in the same transaction.

    Both get ``session`` (when given), the subject (the session's by default) and ``fields``;
    ``signal_only`` and ``webhook_only`` are the keyword arguments only one of them takes."""
    subject = subject if subject is not None else session.subject
    about = {"session": session} if session is not None else {}
    send_on_commit(signal, **about, subject=subject, **fields, **(signal_only or {}))
    record_webhook_event(event_type, **about, subject=subject, **fields, **(webhook_only or {}))


def delete_files_on_commit(files):
    """Delete ``(storage, name)`` pairs once the transaction commits (a rollback keeps them)."""
    files = [(storage, name) for storage, name in files if name]
    if files:
        transaction.on_commit(lambda: [storage.delete(name) for storage, name in files])


def for_update(queryset):
    """``queryset`` locking its own rows only, FOR NO KEY UPDATE where the database has it (so that
    rows referring to them can still be inserted, as the event log does)."""
    no_key = connection.features.has_select_for_no_key_update
    of = ("self",) if connection.features.has_select_for_update_of else ()
    return queryset.select_for_update(no_key=no_key, of=of)


def lock_subject(subject_id):
    return for_update(Subject.objects).get(pk=subject_id)


def lock_session(session):
    """Lock the session's subject, then the session (then its reference image): the one order every path takes.

    On PostgreSQL one statement takes them: ``FOR NO KEY UPDATE OF subject, session[, reference
    image]`` locks the rows in the order of its OF list (the executor's LockRows walks the row marks
    in that order), so the subject's lock is always taken first, as separate statements would take
    it, and every row comes back as it is once locked (a row that changed while the statement
    waited is read again). The reference image is locked with them, not merely read, for that
    reason: a row only joined would come back as it was when the statement began."""
    if connection.vendor == "postgresql":
        sessions = LivenessSession.objects.filter(pk=session.pk)
        if session.reference_image_id:
            # An inner join (a lock cannot reach the nullable side of an outer one).
            found = _locked(sessions.filter(reference_image__id__isnull=False), ("subject", "self", "reference_image"))
            if found is not None:
                return found
        else:
            found = _locked(sessions, ("subject", "self"))
            if found is not None:
                return found
    subject = lock_subject(session.subject_id)
    # The reference image comes along (not locked): storing a result compares its facts.
    locked = for_update(LivenessSession.objects.select_related("reference_image")).get(pk=session.pk)
    locked.subject = subject
    return locked


def lock_sessions(sessions):
    """Lock many sessions with their subjects, in the one order; return them by primary key.

    The subjects come first, in the order of their keys, each before its sessions: on PostgreSQL one
    statement, ``FOR NO KEY UPDATE OF subject, session ORDER BY subject, session`` (rows are locked
    as the sort returns them); elsewhere the subjects, then the sessions. Then the reference images
    are read (not locked): whoever changes one holds its subject's lock, so the read is current. A
    batch of one is ``lock_session``'s."""
    if len({session.pk for session in sessions}) == 1:
        locked = lock_session(sessions[0])
        return {locked.pk: locked}
    rows = LivenessSession.objects.filter(pk__in={session.pk for session in sessions})
    if connection.vendor == "postgresql":
        locking = rows.select_related("subject").select_for_update(no_key=True, of=("subject", "self"))
        locked = list(locking.order_by("subject_id", "pk"))
        subjects = {}
        for session in locked:  # one object per subject, as its sessions change it in turn
            session.subject = subjects.setdefault(session.subject_id, session.subject)
    else:
        subject_ids = {session.subject_id for session in sessions}
        subjects = {subject.pk: subject for subject in for_update(Subject.objects.filter(pk__in=subject_ids)).order_by("pk")}
        locked = list(for_update(rows).order_by("pk"))
        for session in locked:
            session.subject = subjects[session.subject_id]
    references = ReferenceImage.objects.in_bulk({session.reference_image_id for session in locked if session.reference_image_id})
    for session in locked:
        if session.reference_image_id:
            session.reference_image = references[session.reference_image_id]
    return {session.pk: session for session in locked}


def _locked(sessions, of):
    related = [name for name in of if name != "self"]
    return sessions.select_related(*related).select_for_update(no_key=True, of=of).first()


def set_status(session, status, *, actor=None, message="", data=None):
    log_event(
        LivenessEvent.Kind.STATUS_CHANGED,
        session=session,
        actor=actor,
        from_status=session.status,
        to_status=status,
        message=message,
        data=data,
    )
    session.status = status


def has_valid_consent(subject):
    known = getattr(subject, "has_valid_consent", None)  # read after the subject's lock (``sessions._new_session``)
    if known is not None:
        return known
    return Consent.objects.filter(subject=subject, withdrawn_at__isnull=True).exists()


def check_subject_may_proceed(subject):
    """Raise unless ``subject`` may start a session or upload an image (read it locked to be sure)."""
    if subject.erased_at is not None:
        raise SubjectErased(_("This subject's biometric data was erased; no new sessions or images are accepted."))
    if liveness_settings.REQUIRE_CONSENT and not has_valid_consent(subject):
        raise ConsentRequired(_("The subject has not given (or has withdrawn) consent to biometric processing."))
    now = timezone.now()
    # A lock stays until it ends or staff lift it, even if LIVENESS['LOCKOUT'] was set to None since.
    if subject.locked_until is not None and subject.locked_until > now:
        raise SubjectLocked(
            _("Too many failed liveness checks: no new sessions until %(locked_until)s.")
            % {"locked_until": subject.locked_until.isoformat()},
            locked_until=subject.locked_until,
            retry_after=math.ceil((subject.locked_until - now).total_seconds()),
        )


def mark_verified(session, now):
    """``session`` verified its subject at ``now`` (both rows; the subject is locked by the caller)."""
    session.verified_at = now
    Subject.objects.filter(pk=session.subject_id).update(verified_at=now, updated_at=now)
    session.subject.verified_at = now
