"""Deprecated: sending is a service, ``django_liveness.services.webhook_delivery``; one POST is
``django_liveness.webhook_protocol.transport``.

This module re-exports its public names for one release and warns; it will be removed in the next.
"""

import warnings

from ..services.webhook_delivery import *  # noqa: F403
from ..webhook_protocol.transport import *  # noqa: F403

warnings.warn(
    "django_liveness.webhooks.delivery is deprecated: import from django_liveness.services.webhook_delivery (or django_liveness.webhooks) instead.",
    DeprecationWarning,
    stacklevel=2,
)
