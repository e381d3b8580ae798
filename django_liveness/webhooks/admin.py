"""Deprecated: the webhook admin screens moved to ``django_liveness.admin.webhooks``.

This module re-exports them for one release and warns; it will be removed in the next.
"""

import warnings

from ..admin.webhooks import WebhookDeliveryAdmin, WebhookEndpointAdmin, WebhookEndpointForm

__all__ = ["WebhookDeliveryAdmin", "WebhookEndpointAdmin", "WebhookEndpointForm"]

warnings.warn(
    "django_liveness.webhooks.admin is deprecated: import from django_liveness.admin.webhooks instead.",
    DeprecationWarning,
    stacklevel=2,
)
