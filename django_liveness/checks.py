"""System checks (``manage.py check``) with stable ids.

- django_liveness.E001: LIVENESS has an unknown key.
- django_liveness.E002: a LIVENESS value is invalid.
- django_liveness.E003: the backend cannot be imported or built.
- django_liveness.E004: the Azure backend has no endpoint or key (reported by the backend).
- django_liveness.W001: an in-memory or emulator backend while DEBUG is False (reported by the backend).
- django_liveness.W002: the Azure backend is set to the preview Face API v1.2-preview.1 (reported by the backend).
"""

from django.conf import settings
from django.core import checks

from .conf import DEFAULTS, validate
from .exceptions import LivenessConfigurationError


@checks.register()
def check_liveness_settings(app_configs=None, **kwargs):
    user_settings = getattr(settings, "LIVENESS", {})
    if isinstance(user_settings, dict):
        unknown = sorted(set(user_settings) - set(DEFAULTS))
        if unknown:
            return [
                checks.Error(
                    f"LIVENESS has unknown key(s): {', '.join(unknown)}.",
                    hint=f"Known keys: {', '.join(DEFAULTS)}. See docs/settings.md.",
                    id="django_liveness.E001",
                )
            ]
    try:
        validate(user_settings)
    except LivenessConfigurationError as exc:
        return [checks.Error(str(exc), hint="See docs/settings.md.", id="django_liveness.E002")]

    from .backends import get_backend

    try:
        backend = get_backend()
    except LivenessConfigurationError as exc:
        return [checks.Error(str(exc), id="django_liveness.E003")]
    return list(backend.check())
