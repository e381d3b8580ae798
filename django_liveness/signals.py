"""Signals sent by the service layer, always after the transaction commits, once per session.

Every signal's sender is the ``LivenessSession`` class (``WebhookEndpoint`` for
``webhook_endpoint_disabled``); see docs/signals.md for handler
signatures. Receivers that raise are logged and do not undo the stored result.
"""

from django.dispatch import Signal

# session, subject
session_created = Signal()
# session, subject, outcome ("passed" | "failed" | "needs_review")
session_completed = Signal()
# session, subject: liveness with verify passed (realface, same person at or above the threshold),
# or a staff member approved such a session
liveness_verified = Signal()
# session, subject, reason ("spoof" | "not_identical" | "low_confidence" | "rejected_by_review")
liveness_failed = Signal()
# session, subject, reviewer, decision ("approved" | "rejected"), note
session_reviewed = Signal()
# session, subject, status ("expired" | "canceled" | "failed"): ended without a result
session_ended = Signal()
# subject, actor: biometric data of the subject was erased
subject_erased = Signal()
# subject, locked_until, failures: the subject failed too many checks (LIVENESS['LOCKOUT']) and gets
# no new sessions until locked_until; sent once per lock
subject_locked = Signal()
# endpoint, reason: a webhook endpoint was disabled (every attempt failed for days, or staff did);
# sender is the WebhookEndpoint class
webhook_endpoint_disabled = Signal()
