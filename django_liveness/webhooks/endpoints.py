"""Deprecated: the endpoints' bookkeeping is a service, ``django_liveness.services.webhooks``.

This module re-exports its public names for one release and warns; it will be removed in the next.
"""

import warnings

from ..services.webhooks import *  # noqa: F403

warnings.warn(
    "django_liveness.webhooks.endpoints is deprecated: import from django_liveness.services.webhooks (or django_liveness.webhooks) instead.",
    DeprecationWarning,
    stacklevel=2,
)
