"""The outbox: a delivery row per subscribed endpoint, written in the transaction of the change.

``record_webhook_event()`` is called by ``base.emit`` beside the signal it mirrors, inside the
service's transaction (``atomic_with_retry``). The rows commit with the change or not at all (a
rolled-back change sends nothing), and after the commit they are sent
(``webhook_delivery.send_after_commit``); what is not sent then is sent by ``liveness_sync`` once due.
No endpoint subscribed to the event type: no row and no query (``webhook_subscriptions``).
"""

from datetime import datetime

from ..models import WebhookDelivery, WebhookEndpoint
from ..webhook_protocol import events
from . import webhook_delivery
from .webhook_subscriptions import subscribed_types


def record_webhook_event(event_type, *, session=None, subject=None, **details):
    """Write a delivery of the event for every active endpoint subscribed to ``event_type``; they
    are sent after the commit. Returns the deliveries (none, and no query, when nobody subscribes).
    ``django_liveness.webhooks.record`` is this function."""
    if event_type not in subscribed_types():
        return []
    endpoints = [
        pk for pk, kinds in WebhookEndpoint.objects.filter(is_active=True).values_list("pk", "events") if event_type in kinds
    ]
    if not endpoints:
        return []
    details = {key: events.timestamp(value) if isinstance(value, datetime) else value for key, value in details.items()}
    payload = events.build_payload(event_type, session=session, subject=subject, **details)
    return webhook_delivery.enqueue(
        [WebhookDelivery(endpoint_id=pk, event_id=payload["id"], event_type=event_type, payload=payload) for pk in endpoints]
    )
