"""Deprecated: consent, erasure and retention are services, ``django_liveness.services.privacy``,
re-exported by ``django_liveness.services`` (``privacy.purge`` is ``services.apply_retention``).

This module re-exports the old names for one release and warns; it will be removed in the next.
"""

import warnings

from .services.privacy import apply_retention as purge
from .services.privacy import delete_orphan_remote_sessions, erase_subject, grant_consent, withdraw_consent

__all__ = ["delete_orphan_remote_sessions", "erase_subject", "grant_consent", "purge", "withdraw_consent"]

warnings.warn(
    "django_liveness.privacy is deprecated: use django_liveness.services (grant_consent, withdraw_consent, "
    "erase_subject, apply_retention, delete_orphan_remote_sessions) instead.",
    DeprecationWarning,
    stacklevel=2,
)
