"""Biometric privacy: consent, erasure, retention (purge) and reconciliation with the provider.

Part of the service layer (``django_liveness.services`` re-exports it; ``django_liveness.privacy``
is a deprecated alias of this module): it locks, logs, signals and deletes files with the helpers
of ``base``, changes sessions through ``sessions``, and writes only inside ``atomic_with_retry``.

Face images and liveness results are biometric data (GDPR Art. 9, Illinois BIPA, Texas CUBI).
This module keeps what the laws ask for enforceable: consent before any processing, erasure on
request, a retention schedule applied by ``manage.py liveness_purge`` (``apply_retention``), and no session left at
the provider. See docs/privacy.md.
"""

import hashlib
import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import signals
from ..observability import tracing
from ..backends import get_backend
from ..backends.base import LIST_SESSIONS
from ..conf import liveness_settings
from ..exceptions import BackendError, SubjectErased
from ..models import (
    Consent,
    IdempotencyKey,
    LivenessAttempt,
    LivenessEvent,
    LivenessSession,
    ReferenceImage,
    Subject,
    WebhookDelivery,
)
from ..db.transactions import atomic_with_retry
from ..webhook_protocol.events import SUBJECT_ERASED
from . import abuse, session_images
from .base import STALE_CREATED_AFTER, delete_files_on_commit, emit, lock_subject, log_event
from .sessions import cancel_open_sessions, delete_remote_session

logger = logging.getLogger("django_liveness")


# --- consent ------------------------------------------------------------------------------


@atomic_with_retry
def grant_consent(subject, *, policy_version, text, purpose, actor=None):
    """Record consent to ``text`` (stored as its SHA-256) under ``policy_version`` for ``purpose``."""
    if lock_subject(subject.pk).erased_at is not None:
        raise SubjectErased(_("This subject's biometric data was erased; it cannot be enrolled again."))
    consent = Consent.objects.create(
        subject=subject,
        policy_version=policy_version,
        text_sha256=hashlib.sha256(text.encode()).hexdigest(),
        purpose=purpose,
        granted_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    log_event(
        LivenessEvent.Kind.CONSENT_GRANTED,
        subject=subject,
        actor=actor,
        data={"policy_version": policy_version, "purpose": purpose, "text_sha256": consent.text_sha256},
    )
    return consent


def withdraw_consent(subject, *, actor=None):
    """Withdraw every valid consent: open sessions are canceled, no new ones start, and the next
    ``liveness_purge`` erases the subject's biometric data.

    Returns ``{"consents": withdrawn, "sessions_canceled": n}``; a session that ended meanwhile is
    left as it is.
    """
    withdrawn = _withdraw_consents(subject, actor=actor)
    canceled = cancel_open_sessions(LivenessSession.objects.filter(subject=subject), actor=actor)
    return {"consents": withdrawn, "sessions_canceled": canceled}


@atomic_with_retry
def _withdraw_consents(subject, *, actor):
    lock_subject(subject.pk)  # a session being started now sees the withdrawal
    withdrawn = Consent.objects.filter(subject=subject, withdrawn_at__isnull=True).update(
        withdrawn_at=timezone.now(), withdrawn_by=actor if getattr(actor, "is_authenticated", False) else None
    )
    if withdrawn:
        log_event(LivenessEvent.Kind.CONSENT_WITHDRAWN, subject=subject, actor=actor, data={"consents": withdrawn})
    return withdrawn


# --- erasure ------------------------------------------------------------------------------


def _delete_images(images, *, actor):
    """Delete reference images and, once the deletion commits, their files."""
    for image in images:
        log_event(LivenessEvent.Kind.IMAGE_DELETED, subject=image.subject, actor=actor, data={"reference_image": str(image.pk)})
    ReferenceImage.objects.filter(pk__in=[image.pk for image in images]).delete()
    delete_files_on_commit((image.file.storage, image.file.name) for image in images)
    return len(images)


def _redact(sessions):
    """Drop what sessions and their attempts hold about the face; keep decisions, outcome and
    timestamps for the audit trail."""
    sessions = sessions.filter(redacted_at__isnull=True)
    LivenessAttempt.objects.filter(session__in=sessions).update(face_rectangle=None, digest="", session_image_id="", client_ips=[])
    return sessions.update(
        result_payload=None, face_rectangle=None, result_digest="", auth_token="", expected_client_ip="", redacted_at=timezone.now()
    )


def _redact_image_digests(subject):
    """The event log keeps that images were uploaded, not their SHA-256 (a fingerprint of the face photo)."""
    uploads = LivenessEvent.objects.filter(subject=subject, kind=LivenessEvent.Kind.IMAGE_UPLOADED, data__has_key="sha256")
    for event in uploads:
        data = {key: value for key, value in event.data.items() if key != "sha256"}
        # A queryset update: the log is append-only for everything but erasure.
        LivenessEvent.objects.filter(pk=event.pk).update(data=data)


@tracing.traced("liveness.erase_subject")
def erase_subject(subject, *, actor=None):
    """Erase a subject's biometric data and block new sessions; return a summary dict.

    First the subject is marked erased (committed at once, so no session starts from then on),
    then its open sessions are canceled (one that ended meanwhile is left as it is) and deleted at
    the provider, then its images and the face data of its sessions go. A second call finishes what
    a first one could not (say, the provider was down) and otherwise does nothing. Fires
    ``subject_erased`` once, after the commit.
    """
    locked, already_erased = _mark_erased(subject)
    subject.erased_at = locked.erased_at
    sessions = LivenessSession.objects.filter(subject=subject)
    summary = {
        "images": 0,
        "sessions_canceled": cancel_open_sessions(sessions, actor=actor),
        "sessions_redacted": 0,
        "session_images": 0,
        "remote_deleted": 0,
        "already_erased": already_erased,
    }
    for session in sessions.exclude(provider_session_id="").filter(remote_deleted_at__isnull=True).select_related("subject"):
        summary["remote_deleted"] += delete_remote_session(session, actor=actor)
    summary.update(_erase_data(subject, sessions, summary, actor=actor))
    return summary


@atomic_with_retry
def _mark_erased(subject):
    """Mark the subject erased (committed at once: no session starts from then on); return it
    locked and whether it was erased already."""
    locked = lock_subject(subject.pk)
    already_erased = locked.erased_at is not None
    if not already_erased:
        locked.erased_at = timezone.now()
        locked.save(update_fields=["erased_at", "updated_at"])
    return locked, already_erased


@atomic_with_retry
def _erase_data(subject, sessions, summary, *, actor):
    """Delete the images and the face data of ``sessions``; return the counts (``summary`` is read,
    not changed, so a retried transaction counts once)."""
    lock_subject(subject.pk)
    already_erased = summary["already_erased"]
    done = {
        "images": _delete_images(list(ReferenceImage.objects.filter(subject=subject)), actor=actor),
        "sessions_redacted": _redact(sessions),
        "session_images": session_images.delete(sessions),
    }
    _redact_image_digests(subject)
    abuse.forget_user_correlation(subject)
    counts = {**summary, **done}
    if not already_erased or any(value for key, value in counts.items() if key != "already_erased"):
        log_event(LivenessEvent.Kind.ERASED, subject=subject, actor=actor, data=dict(counts))
    if not already_erased:
        emit(
            SUBJECT_ERASED,
            signals.subject_erased,
            subject=subject,
            signal_only={"actor": actor},
            webhook_only={"erased_at": subject.erased_at},
        )
    return done


# --- retention ----------------------------------------------------------------------------


def _cutoff(now, key):
    days = liveness_settings.RETENTION[key]
    return None if days is None else now - timedelta(days=days)


@tracing.traced("liveness.purge")
def apply_retention(*, now=None, dry_run=False):
    """Apply LIVENESS['RETENTION'] and pending erasures; idempotent. Returns counts of what was (or would be) done."""
    now = now or timezone.now()
    summary = {
        "reference_images": 0,
        "payloads_redacted": 0,
        "session_images": 0,
        "sessions_deleted": 0,
        "remote_deleted": 0,
        "subjects_erased": 0,
        "idempotency_keys": 0,
        "webhook_deliveries": 0,
    }

    withdrawn = Subject.objects.filter(erased_at__isnull=True, consents__withdrawn_at__isnull=False).exclude(
        consents__withdrawn_at__isnull=True
    ).distinct()
    images_cutoff = _cutoff(now, "REFERENCE_IMAGE_DAYS")
    images = ReferenceImage.objects.filter(created_at__lt=images_cutoff) if images_cutoff else ReferenceImage.objects.none()
    payload_cutoff = _cutoff(now, "RESULT_PAYLOAD_DAYS")
    payloads = (
        LivenessSession.objects.filter(created_at__lt=payload_cutoff, redacted_at__isnull=True).exclude(status__in=LivenessSession.OPEN_STATUSES)
        if payload_cutoff
        else LivenessSession.objects.none()
    )
    session_images_cutoff = _cutoff(now, "SESSION_IMAGE_DAYS")
    old_session_images = (  # counted from the capture: the review and a dispute come after it
        LivenessSession.objects.filter(completed_at__lt=session_images_cutoff).exclude(session_image_id="", session_image="")
        if session_images_cutoff
        else LivenessSession.objects.none()
    )
    session_cutoff = _cutoff(now, "SESSION_DAYS")
    old_sessions = LivenessSession.objects.filter(created_at__lt=session_cutoff) if session_cutoff else LivenessSession.objects.none()
    leftovers = LivenessSession.objects.exclude(status__in=LivenessSession.OPEN_STATUSES).exclude(provider_session_id="").filter(
        remote_deleted_at__isnull=True
    )
    if not liveness_settings.DELETE_REMOTE_SESSION_ON_RESULT:
        leftovers = leftovers.filter(pk__in=old_sessions)  # kept at the provider until retention deletes the row
    # A session image still to fetch: the sync fetches it, then deletes the remote session.
    leftovers = leftovers.exclude(pk__in=session_images.missing_filter(LivenessSession.objects.all()))
    # Expired Idempotency-Key rows: the API deletes one only when its key is used again.
    expired_keys = IdempotencyKey.objects.filter(
        created_at__lt=now - timedelta(seconds=liveness_settings.IDEMPOTENCY_KEY_TTL_SECONDS)
    )
    deliveries_cutoff = _cutoff(now, "WEBHOOK_DELIVERY_DAYS")
    old_deliveries = (  # a pending one is kept whatever its age: it is still to be sent
        WebhookDelivery.objects.filter(created_at__lt=deliveries_cutoff).exclude(status=WebhookDelivery.Status.PENDING)
        if deliveries_cutoff
        else WebhookDelivery.objects.none()
    )

    if dry_run:
        return {
            "reference_images": images.count(),
            "payloads_redacted": payloads.count(),
            "session_images": old_session_images.count(),
            "sessions_deleted": old_sessions.count(),
            "remote_deleted": leftovers.count(),
            "subjects_erased": withdrawn.count(),
            "idempotency_keys": expired_keys.count(),
            "webhook_deliveries": old_deliveries.count(),
        }

    summary["idempotency_keys"] = expired_keys.delete()[0]
    summary["webhook_deliveries"] = old_deliveries.delete()[0]
    for subject in list(withdrawn):
        erase_subject(subject)
        summary["subjects_erased"] += 1
    for session in leftovers.select_related("subject"):
        summary["remote_deleted"] += delete_remote_session(session)
    summary.update(_delete_expired(images, payloads, old_session_images, old_sessions, summary))
    return summary


@atomic_with_retry
def _delete_expired(images, payloads, old_session_images, old_sessions, summary):
    """Delete what the retention schedule let expire; return the counts (``summary`` is read, not
    changed, so a retried transaction counts once)."""
    done = {
        "reference_images": _delete_images(list(images.select_related("subject")), actor=None),
        "payloads_redacted": _redact(payloads),
        "session_images": session_images.delete(old_session_images),
    }
    # Only rows gone at the provider too; the others wait for a run where the provider answers.
    deletable = old_sessions.filter(Q(remote_deleted_at__isnull=False) | Q(provider_session_id=""))
    done["sessions_deleted"] = deletable.delete()[1].get(LivenessSession._meta.label, 0)
    counts = {**summary, **done}
    if any(counts.values()):
        log_event(LivenessEvent.Kind.PURGED, data=dict(counts))
    return done


# --- reconciliation -----------------------------------------------------------------------


@tracing.traced("liveness.delete_orphan_remote_sessions")
def delete_orphan_remote_sessions(*, dry_run=False):
    """Delete provider sessions that have no local row (a create whose answer was lost, say).

    A provider session younger than ``STALE_CREATED_AFTER`` is left alone: its local row
    may be waiting for the create call to return. Each candidate is checked again just before it
    is deleted. Every session of the Face resource that this database does not know is deleted,
    so give each environment its own resource (or run ``liveness_sync --skip-orphans``).

    Returns None when the provider cannot list its sessions (Face API v1.2 GA): there is nothing
    to sweep, and sessions are deleted when their result is stored or they end.
    """
    backend = get_backend()
    if not backend.supports(LIST_SESSIONS):
        return None
    now = timezone.now()
    sessions = LivenessSession.objects.exclude(provider_session_id="")
    known = set(sessions.values_list("provider_session_id", flat=True))
    deleted = 0
    for verify in (False, True):
        for remote in backend.list_sessions(verify=verify):
            if remote.session_id in known or remote.created_at is None:
                continue
            if now - remote.created_at < STALE_CREATED_AFTER:
                continue
            if sessions.filter(provider_session_id=remote.session_id).exists():
                continue  # stored since the list was read
            if not dry_run:
                try:
                    backend.delete_session(remote.session_id, verify=verify)
                except BackendError as error:
                    if error.code != "not_found":
                        logger.warning("Could not delete orphan provider session: %s", error.code)
                        continue
            deleted += 1
    return deleted
