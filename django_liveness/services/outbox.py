"""The outbox: a delivery row per subscribed endpoint, written in the transaction of the change.

``record_webhook_event()`` is called by ``base.emit`` beside the signal it mirrors, inside the
service's transaction (``atomic_with_retry``). The rows commit with the change or not at all (a
rolled-back change sends nothing), and after the commit they are sent
(``webhook_delivery.send_after_commit``); what is not sent then is sent by ``liveness_sync`` once due.
No endpoint subscribed to the event type: no row and no query (``webhook_subscriptions``).
"""

import contextlib
import contextvars
from datetime import datetime

from ..models import WebhookDelivery, WebhookEndpoint
from ..webhook_protocol import events
from . import webhook_delivery
from .webhook_subscriptions import subscribed_types


# The deliveries a block writes at its end, in one statement, and the endpoints it read once
# (``deliveries_in_one_statement``).
_batch = contextvars.ContextVar("liveness_outbox_batch", default=None)


@contextlib.contextmanager
def deliveries_in_one_statement():
    """Within the block (inside the caller's transaction), ``record_webhook_event`` reads the active
    endpoints once and collects its rows; they are written in their order with one INSERT, and sent
    after the commit, when the block ends without an error. A nested block joins the outer one."""
    if _batch.get() is not None:
        yield
        return
    batch = {"deliveries": [], "endpoints": None}
    token = _batch.set(batch)
    try:
        yield
    finally:
        _batch.reset(token)
    if batch["deliveries"]:
        webhook_delivery.enqueue(batch["deliveries"])


def _active_endpoints(batch):
    if batch is not None and batch["endpoints"] is not None:
        return batch["endpoints"]
    endpoints = list(WebhookEndpoint.objects.filter(is_active=True).values_list("pk", "events"))
    if batch is not None:
        batch["endpoints"] = endpoints
    return endpoints


def record_webhook_event(event_type, *, session=None, subject=None, **details):
    """Write a delivery of the event for every active endpoint subscribed to ``event_type``; they
    are sent after the commit. Returns the deliveries (none, and no query, when nobody subscribes;
    not yet saved inside ``deliveries_in_one_statement``).
    ``django_liveness.webhooks.record`` is this function."""
    if event_type not in subscribed_types():
        return []
    batch = _batch.get()
    endpoints = [pk for pk, kinds in _active_endpoints(batch) if event_type in kinds]
    if not endpoints:
        return []
    details = {key: events.timestamp(value) if isinstance(value, datetime) else value for key, value in details.items()}
    payload = events.build_payload(event_type, session=session, subject=subject, **details)
    deliveries = [WebhookDelivery(endpoint_id=pk, event_id=payload["id"], event_type=event_type, payload=payload) for pk in endpoints]
    if batch is not None:
        batch["deliveries"] += deliveries
        return deliveries
    return webhook_delivery.enqueue(deliveries)
