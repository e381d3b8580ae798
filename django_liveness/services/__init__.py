"""The service layer: the only place where subjects, images, sessions and reviews change.

Every change runs in a transaction on locked rows, taken in one fixed order: the subject, then
the session, then the reference image (``base.lock_session``), so that no two paths can deadlock
each other; a serialization failure or deadlock that the database reports anyway retries the
whole transaction (``base.atomic_with_retry``). Provider calls happen outside transactions.
Every change is an event in the log; an event others hear of is one ``base.emit``: its signal
is sent once the change commits and its webhook row is written in the same transaction.

The modules: ``base`` (locks, events, signals, files), ``subjects`` (subjects and reference
images), ``sessions`` (the session state machine), ``sync`` (sessions nobody completed, shared by
many workers), ``session_images`` (the capture kept as review evidence), ``reviews`` (staff decisions),
``idempotency`` (the records behind the REST API's Idempotency-Key), ``capture`` (the hosted capture link and
the frontend's reports), ``devices`` (the subject's device correlation id), ``lockout`` (the lock after
repeated failed checks), ``privacy`` (consent, erasure, retention, orphan provider sessions), and
the webhooks' bookkeeping: ``outbox`` (the rows ``emit`` writes), ``webhook_subscriptions`` (the
cached event types endpoints want), ``webhook_delivery`` (claims, attempts, retries, sending after
the commit through the dispatcher ``AppConfig.ready()`` registers) and ``webhooks`` (endpoints);
``after_answer`` (the session image's fetch and the remote deletion, after a result's answer),
``abuse`` (Face API v1.3's user correlation, client-IP binding and abuse-monitoring verdicts) and
``face_resource`` (the Face resource's liveness settings and client-assets token).

May import: ``models``, ``conf``, ``exceptions``, ``signals``, ``db``, ``common``, ``images``,
``observability``, ``backends`` and ``webhook_protocol`` (docs/contributing.md). Nothing of the edges above it (``api``, ``admin``, capture
views, commands, ``tasks``, the ``webhooks`` facade), not even inside a function.
"""

from .capture import CLIENT_EVENT_CODES, record_client_event, start_capture
from .base import STALE_CREATED_AFTER, has_valid_consent, log_event
from .devices import reset_device_correlation_id
from .idempotency import claim_idempotency_key, record_idempotent_answer, release_idempotency_key
from .lockout import is_locked, lift_lock
from .privacy import apply_retention, delete_orphan_remote_sessions, erase_subject, grant_consent, withdraw_consent
from .reviews import effective_outcome, effective_outcome_filter, flag_for_review, review_session
from .session_images import record_view as record_session_image_view
from .sessions import (
    cancel_open_sessions,
    cancel_session,
    compute_outcome,
    delete_remote_session,
    get_audit_entries,
    reencrypt_auth_tokens,
    refresh_session,
    start_session,
)
from .sync import sync_sessions
from .subjects import (
    add_reference_image,
    delete_reference_image,
    delete_subject,
    find_or_create_subject,
    record_image_view,
    update_subject,
    with_duplicate_flags,
)

__all__ = [
    "CLIENT_EVENT_CODES",
    "STALE_CREATED_AFTER",
    "add_reference_image",
    "apply_retention",
    "cancel_open_sessions",
    "cancel_session",
    "claim_idempotency_key",
    "compute_outcome",
    "delete_orphan_remote_sessions",
    "delete_reference_image",
    "delete_remote_session",
    "delete_subject",
    "effective_outcome",
    "effective_outcome_filter",
    "erase_subject",
    "find_or_create_subject",
    "flag_for_review",
    "get_audit_entries",
    "grant_consent",
    "has_valid_consent",
    "is_locked",
    "lift_lock",
    "log_event",
    "record_client_event",
    "record_idempotent_answer",
    "record_image_view",
    "record_session_image_view",
    "reencrypt_auth_tokens",
    "refresh_session",
    "release_idempotency_key",
    "reset_device_correlation_id",
    "review_session",
    "start_capture",
    "start_session",
    "sync_sessions",
    "update_subject",
    "with_duplicate_flags",
    "withdraw_consent",
]
