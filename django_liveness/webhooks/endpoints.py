"""Webhook endpoints and their deliveries: the writes the admin and host code make.

The secret of an endpoint is returned once, by ``create_endpoint`` and ``rotate_secret``, and is
never logged or shown again: the receiver keeps its copy.
"""

import logging
from collections import namedtuple
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .. import signals
from ..exceptions import ServiceError
from ..models import WebhookDelivery, WebhookEndpoint
from ..db.transactions import atomic_writing
from . import guard, outbox, signing
from .events import EVENT_TYPES, WEBHOOK_TEST, build_payload

logger = logging.getLogger("django_liveness")

# How long the previous secret still signs after a rotation: a day to update the receivers.
ROTATION_OVERLAP = timedelta(hours=24)

CreatedEndpoint = namedtuple("CreatedEndpoint", ["endpoint", "secret"])


def _clean_events(event_types):
    if isinstance(event_types, str) or not event_types:
        raise ServiceError("Subscribe the endpoint to at least one event type (a list).", code="invalid_events")
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise ServiceError(f"Unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}.", code="invalid_events")
    return [kind for kind in EVENT_TYPES if kind in event_types]  # one order, no repeats


def create_endpoint(url, *, events, description="", is_active=True):
    """Create an endpoint that receives ``events`` (event types) at ``url``.

    Returns ``(endpoint, secret)``: the ``whsec_...`` secret the receiver verifies with, shown
    this once. Raises WebhookURLRefused for a URL that may not be called (not https, an address
    inside the network) and ServiceError for unknown event types.
    """
    guard.check_url(url)
    secret = signing.new_secret()
    endpoint = WebhookEndpoint.objects.create(
        url=url, events=_clean_events(events), description=description, is_active=is_active, secret=secret
    )
    logger.info("Webhook endpoint %s created for %s.", endpoint.pk, ", ".join(endpoint.events))
    return CreatedEndpoint(endpoint, secret)


def update_endpoint(endpoint, *, url=None, events=None, description=None):
    """Change what ``endpoint`` receives and where (the secret stays)."""
    if url is not None:
        guard.check_url(url)
        endpoint.url = url
    if events is not None:
        endpoint.events = _clean_events(events)
    if description is not None:
        endpoint.description = description
    endpoint.save(update_fields=["url", "events", "description", "updated_at"])
    return endpoint


def rotate_secret(endpoint, *, overlap=ROTATION_OVERLAP):
    """Give ``endpoint`` a new secret and return it (shown once). The old one keeps signing too
    for ``overlap``: messages carry both signatures, so the receiver can switch without downtime."""
    with atomic_writing():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        secret = signing.new_secret()
        locked.previous_secret, locked.secret = locked.secret, secret
        locked.previous_secret_expires_at = timezone.now() + overlap
        locked.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    endpoint.secret, endpoint.previous_secret = locked.secret, locked.previous_secret
    endpoint.previous_secret_expires_at = locked.previous_secret_expires_at
    logger.info(
        "Webhook endpoint %s has a new secret; the previous one signs until %s.", endpoint.pk, locked.previous_secret_expires_at
    )
    return secret


def reencrypt_secrets():
    """Write every endpoint's secrets again, encrypted with the current SECRET_KEY (after a rotation,
    before the previous key leaves SECRET_KEY_FALLBACKS); returns how many endpoints."""
    rewritten = 0
    for pk in WebhookEndpoint.objects.values_list("pk", flat=True):
        with transaction.atomic():
            locked = WebhookEndpoint.objects.select_for_update().filter(pk=pk).first()
            if locked is not None:
                locked.save(update_fields=["secret", "previous_secret"])
                rewritten += 1
    return rewritten


def disable_endpoint(endpoint, *, reason="Disabled by staff."):
    """Stop sending to ``endpoint``; its pending deliveries wait until it is enabled again."""
    now = timezone.now()
    disabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_at=now, disabled_reason=reason, updated_at=now
    )
    outbox.forget_subscriptions()
    endpoint.refresh_from_db()
    if disabled:
        transaction.on_commit(
            lambda: signals.webhook_endpoint_disabled.send_robust(sender=WebhookEndpoint, endpoint=endpoint, reason=reason)
        )
    return endpoint


def enable_endpoint(endpoint):
    """Send to ``endpoint`` again, its pending deliveries first, with a clean failure record."""
    now = timezone.now()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=True, disabled_at=None, disabled_reason="", failing_since=None, updated_at=now
    )
    outbox.forget_subscriptions()
    endpoint.refresh_from_db()
    pending = list(
        WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.PENDING).values_list("pk", flat=True)
    )
    if pending:
        WebhookDelivery.objects.filter(pk__in=pending).update(next_attempt_at=now, lease_until=None)
        _send_after_commit(pending)
    return endpoint


def replay(deliveries):
    """Send ``deliveries`` (a queryset) again, whatever became of them, with the same event id
    (a receiver that has it already drops it) and a fresh retry schedule. Returns how many."""
    ids = list(deliveries.values_list("pk", flat=True))
    WebhookDelivery.objects.filter(pk__in=ids).update(
        status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), lease_until=None, delivered_at=None
    )
    _send_after_commit(ids)
    return len(ids)


def send_test_event(endpoint):
    """Send a ``webhook.test`` event to ``endpoint`` (whatever it subscribes to); return the delivery."""
    payload = build_payload(WEBHOOK_TEST, endpoint_id=str(endpoint.pk), message="A test event from django-liveness.")
    delivery = WebhookDelivery(endpoint=endpoint, event_id=payload["id"], event_type=WEBHOOK_TEST, payload=payload)
    return outbox.enqueue([delivery])[0]


def _send_after_commit(ids):
    def send():
        from .delivery import send_after_commit

        send_after_commit(ids)

    transaction.on_commit(send)
