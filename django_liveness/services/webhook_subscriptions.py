"""Which event types any active webhook endpoint subscribes to, cached, so that a project without
endpoints pays no query per event. Saving or deleting an endpoint forgets the cache (the signal
receivers ``AppConfig.ready()`` connects, and the services that update endpoints in bulk); other
processes with a per-process cache see the change within ``SUBSCRIPTIONS_CACHE_SECONDS``."""

from django.core.cache import cache
from django.db import transaction

from ..models import WebhookEndpoint

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
