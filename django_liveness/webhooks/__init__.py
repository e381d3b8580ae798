"""Signed outbound webhooks: the events of the service layer told to systems outside the process.

    from django_liveness import webhooks

    endpoint, secret = webhooks.create_endpoint("https://crm.example.com/hooks/liveness",
                                                events=["liveness.verified", "liveness.failed"])

The public facade, above the service layer: it re-exports the services that write endpoints,
deliveries and outbox rows (``services.webhooks``, ``services.webhook_delivery``,
``services.outbox``) and the event types of ``webhook_protocol.events``. It owns no logic and nothing
below it imports it. The wire parts live in ``django_liveness.webhook_protocol`` (``events``,
``signing``, ``guard``, ``transport``). The old module paths ``django_liveness.webhooks.events``,
``.signing``, ``.guard``, ``.outbox``, ``.delivery``, ``.endpoints`` and ``.admin`` still import,
with a DeprecationWarning, for one release. See docs/webhooks.md.
"""

from ..services.outbox import record_webhook_event as record
from ..services.webhook_delivery import send_due, wait_for_deliveries
from ..services.webhooks import (
    create_endpoint,
    disable_endpoint,
    enable_endpoint,
    reencrypt_secrets,
    replay,
    rotate_secret,
    send_test_event,
    update_endpoint,
)
from ..webhook_protocol.events import (
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
