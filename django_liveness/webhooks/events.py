"""Deprecated: moved to ``django_liveness.webhook_protocol.events``.

This module re-exports its public names for one release and warns; it will be removed in the next.
"""

import warnings

from ..webhook_protocol.events import *  # noqa: F403

warnings.warn(
    "django_liveness.webhooks.events is deprecated: import from django_liveness.webhook_protocol.events instead.",
    DeprecationWarning,
    stacklevel=2,
)
