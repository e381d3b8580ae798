"""Deprecated: moved to ``django_liveness.webhook_protocol.guard``.

This module re-exports its public names for one release and warns; it will be removed in the next.
"""

import warnings

from ..webhook_protocol.guard import *  # noqa: F403

warnings.warn(
    "django_liveness.webhooks.guard is deprecated: import from django_liveness.webhook_protocol.guard instead.",
    DeprecationWarning,
    stacklevel=2,
)
