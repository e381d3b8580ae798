"""Deprecated: moved to ``django_liveness.webhook_protocol.signing``.

This module re-exports its public names for one release and warns; it will be removed in the next.
"""

import warnings

from ..webhook_protocol.signing import *  # noqa: F403

warnings.warn(
    "django_liveness.webhooks.signing is deprecated: import from django_liveness.webhook_protocol.signing instead.",
    DeprecationWarning,
    stacklevel=2,
)
