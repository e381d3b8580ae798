"""The outbox: a delivery row per subscribed endpoint, written in the transaction of the change.

``record()`` is called by the service layer beside the signal it mirrors. The rows commit with the
change or not at all (a rolled-back change sends nothing), and after the commit they are sent
(``delivery.send_after_commit``); what is not sent then is sent by ``liveness_sync`` once due.

Which event types any active endpoint subscribes to is cached, so a project without endpoints
pays no query per event; saving or deleting an endpoint forgets the cache (other processes with
a per-process cache see the change within ``SUBSCRIPTIONS_CACHE_SECONDS``).
"""

from datetime import datetime

from django.core.cache import cache
from django.db import transaction

from ..models import WebhookDelivery, WebhookEndpoint
from . import events

SUBSCRIPTIONS_CACHE_KEY = "django_liveness:webhook_subscriptions"
SUBSCRIPTIONS_CACHE_SECONDS = 60


def subscribed_types():
    """The event types at least one active endpoint subscribes to (cached)."""
    types = cache.get(SUBSCRIPTIONS_CACHE_KEY)
    if types is None:
        types = sorted(
            {kind for kinds in WebhookEndpoint.objects.filter(is_active=True).values_list("events", flat=True) for kind in kinds}
        )
        cache.set(SUBSCRIPTIONS_CACHE_KEY, types, SUBSCRIPTIONS_CACHE_SECONDS)
    return types


def forget_subscriptions(**kwargs):
    """Forget the cached subscriptions now and again after the commit (a reader in between may
    have cached the old ones)."""
    cache.delete(SUBSCRIPTIONS_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(SUBSCRIPTIONS_CACHE_KEY))


def record(event_type, *, session=None, subject=None, **details):
    """Write a delivery of the event for every active endpoint subscribed to ``event_type``; they
    are sent after the commit. Returns the deliveries (none, and no query, when nobody subscribes)."""
    if event_type not in subscribed_types():
        return []
    endpoints = [
        pk for pk, kinds in WebhookEndpoint.objects.filter(is_active=True).values_list("pk", "events") if event_type in kinds
    ]
    if not endpoints:
        return []
    details = {
        key: value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value for key, value in details.items()
    }
    payload = events.build_payload(event_type, session=session, subject=subject, **details)
    return enqueue(
        [WebhookDelivery(endpoint_id=pk, event_id=payload["id"], event_type=event_type, payload=payload) for pk in endpoints]
    )


def enqueue(deliveries):
    """Insert ``deliveries`` and send them once the transaction commits."""
    deliveries = WebhookDelivery.objects.bulk_create(deliveries)
    ids = [delivery.pk for delivery in deliveries]

    def send():
        from .delivery import send_after_commit

        send_after_commit(ids)

    transaction.on_commit(send)
    return deliveries
