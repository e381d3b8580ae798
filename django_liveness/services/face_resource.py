"""The Face resource's own liveness settings (Face API v1.3-preview.1 and later): read them, turn
its abuse monitoring on or off, and get the access token of the web capture package's private feed.

Nothing here is stored in the database: the resource holds its settings. A backend (or an API
version) without them raises ``UnsupportedOperation``, whose message names the version that has
them. The access token is a secret: it is returned to the caller and never logged.
"""

import logging

from ..backends import get_backend
from ..backends.base import LIVENESS_SETTINGS

logger = logging.getLogger(__name__)


def get_liveness_settings(*, backend=None):
    """The resource's LivenessSettings (``backends.base``)."""
    return (backend or get_backend()).get_liveness_settings()


def set_abuse_monitoring(enabled, *, backend=None):
    """Turn the resource's liveness abuse monitoring on or off; sessions created from then on carry
    it (``isAbuseMonitoringEnabled``), the ones already created keep theirs. Returns the settings."""
    settings = (backend or get_backend()).set_abuse_monitoring(bool(enabled))
    logger.info("Liveness abuse monitoring of the Face resource turned %s.", on_off(settings.abuse_monitoring))
    return settings


def get_client_assets_token(*, backend=None):
    """The ClientAssetsToken that opens the web capture package's npm feed (docs/capture.md)."""
    return (backend or get_backend()).get_client_assets_token()


def abuse_monitoring_state(backend):
    """One line for the configuration check: "on", "off", or why the version cannot tell."""
    if not backend.supports(LIVENESS_SETTINGS):
        version = getattr(backend, "api_version", "") or type(backend).__name__
        return f"abuse monitoring: not available on {version} (Face API v1.3-preview.1 has it)"
    return f"abuse monitoring: {on_off(backend.get_liveness_settings().abuse_monitoring)}"


def on_off(enabled):
    return "on" if enabled else "off"
