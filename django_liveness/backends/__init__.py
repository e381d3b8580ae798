"""The configured backend, built once per process and rebuilt when the setting changes."""

import threading

from django.core.signals import setting_changed
from django.dispatch import receiver

from ..conf import liveness_settings

_lock = threading.Lock()
_backend = None


def get_backend():
    """Return the backend named by LIVENESS['BACKEND'], built with LIVENESS['OPTIONS']."""
    global _backend
    if _backend is None:
        with _lock:
            if _backend is None:
                _backend = liveness_settings.backend_class(**liveness_settings.OPTIONS)
    return _backend


def reset_backend():
    """Forget the memoized backend (called when LIVENESS changes) and close it."""
    global _backend
    with _lock:
        old, _backend = _backend, None
    if old is not None:
        old.close()


# Connected when this package is first imported: before that no backend is memoized, so none to reset.
@receiver(setting_changed, dispatch_uid="liveness-reset-backend")
def _reset_on_change(*, setting, **kwargs):
    if setting in ("LIVENESS", "STORAGES"):
        reset_backend()
