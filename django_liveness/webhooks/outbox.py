"""Deprecated: the outbox is a service, ``django_liveness.services.outbox`` (``record`` is
``record_webhook_event`` there; the subscriptions cache is ``services.webhook_subscriptions``).

This module re-exports its public names for one release and warns; it will be removed in the next.
"""

import warnings

from ..services.outbox import record_webhook_event as record  # noqa: F401
from ..services.webhook_delivery import enqueue  # noqa: F401
from ..services.webhook_subscriptions import *  # noqa: F403

warnings.warn(
    "django_liveness.webhooks.outbox is deprecated: import from django_liveness.services.outbox (or django_liveness.webhooks) instead.",
    DeprecationWarning,
    stacklevel=2,
)
