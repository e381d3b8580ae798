"""Signed outbound webhooks: the events of the service layer told to systems outside the process.

    from django_liveness import webhooks

    endpoint, secret = webhooks.create_endpoint("https://crm.example.com/hooks/liveness",
                                                events=["liveness.verified", "liveness.failed"])

The modules, one job each: ``events`` (event types, payloads, JSON Schemas), ``signing``
(Standard Webhooks signatures), ``outbox`` (delivery rows written in the transaction of the
change), ``guard`` (the address check against requests into the network), ``delivery`` (claims,
HTTP, retries), ``endpoints`` (creating, rotating, disabling, replaying). See docs/webhooks.md.
"""

from .delivery import send_due, wait_for_deliveries
from .endpoints import (
    create_endpoint,
    disable_endpoint,
    enable_endpoint,
    reencrypt_secrets,
    replay,
    rotate_secret,
    send_test_event,
    update_endpoint,
)
from .events import (
    API_VERSION,
    EVENT_TYPES,
    LIVENESS_FAILED,
    LIVENESS_VERIFIED,
    SESSION_COMPLETED,
    SESSION_CREATED,
    SESSION_ENDED,
    SESSION_REVIEWED,
    SUBJECT_ERASED,
    SUBJECT_LOCKED,
    WEBHOOK_TEST,
)
from .outbox import record

__all__ = [
    "API_VERSION",
    "EVENT_TYPES",
    "LIVENESS_FAILED",
    "LIVENESS_VERIFIED",
    "SESSION_COMPLETED",
    "SESSION_CREATED",
    "SESSION_ENDED",
    "SESSION_REVIEWED",
    "SUBJECT_ERASED",
    "SUBJECT_LOCKED",
    "WEBHOOK_TEST",
    "create_endpoint",
    "disable_endpoint",
    "enable_endpoint",
    "record",
    "reencrypt_secrets",
    "replay",
    "rotate_secret",
    "send_due",
    "send_test_event",
    "update_endpoint",
    "wait_for_deliveries",
]
