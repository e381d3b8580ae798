"""System checks (``manage.py check``) with stable ids.

- django_liveness.E001: LIVENESS has an unknown key.
- django_liveness.E002: a LIVENESS value is invalid.
- django_liveness.E003: the backend cannot be imported or built.
- django_liveness.E004: the Azure backend has no endpoint or key (reported by the backend).
- django_liveness.W001: an in-memory or emulator backend while DEBUG is False (reported by the backend).
- django_liveness.W002: the Azure backend is set to the preview Face API v1.2-preview.1 (reported by the backend).
- django_liveness.W003: with DEBUG off, reference images would be stored where a web server may serve
  them or in the project's own folder (docs/storage.md).
- django_liveness.W004: with DEBUG off, webhooks may be sent over plain http (docs/webhooks.md).
- django_liveness.W005: on Django 6, TASKS names a backend of the django-tasks backport instead of
  django.tasks' own (docs/compatibility.md).
"""

from pathlib import Path

from django.conf import settings
from django.core import checks

from .conf import DEFAULTS, liveness_settings, validate
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
    return [*backend.check(), *check_reference_image_storage(), *check_webhook_transport()]


def check_reference_image_storage():
    """Warn (DEBUG off) when face photos would land in a public place or beside the code."""
    if settings.DEBUG:
        return []
    from django.core.files.storage import FileSystemStorage, storages

    name = liveness_settings.REFERENCE_IMAGE_STORAGE
    storage = storages[name]
    problem = None
    if isinstance(storage, FileSystemStorage):
        location = Path(storage.location).resolve()
        # MEDIA_ROOT is served at MEDIA_URL when a project sets one (unset, Django reads it as "/");
        # STATIC_ROOT always is.
        served = (settings.MEDIA_ROOT if settings.MEDIA_URL not in ("", "/") else None, settings.STATIC_ROOT)
        public = [Path(folder).resolve() for folder in served if folder]
        project = Path(getattr(settings, "BASE_DIR", None) or Path.cwd()).resolve()
        if any(location == folder or folder in location.parents for folder in public):
            problem = f"the folder {location} is in MEDIA_ROOT or STATIC_ROOT, which the web server serves"
        elif location == project or project in location.parents:
            problem = f"the folder {location} is inside the project ({project}), where deployments and backups of the code go"
    elif getattr(storage, "querystring_auth", True) is False or "public" in str(getattr(storage, "default_acl", "") or ""):
        problem = "the storage makes public, unsigned URLs (querystring_auth=False or a public ACL)"
    if problem is None:
        return []
    return [
        checks.Warning(
            f"Reference images (STORAGES[{name!r}]) would be stored where they may be public: {problem}.",
            hint="Give LIVENESS['REFERENCE_IMAGE_STORAGE'] a private storage: a folder outside the project and the web "
            "server's roots, or a private bucket or container. See docs/storage.md.",
            id="django_liveness.W003",
        )
    ]


def check_webhook_transport():
    """Warn (DEBUG off) when webhooks may go over http: signed, so not altered, but readable by anyone on the path."""
    if settings.DEBUG or not liveness_settings.WEBHOOKS["ALLOW_HTTP"]:
        return []
    return [
        checks.Warning(
            "LIVENESS['WEBHOOKS']['ALLOW_HTTP'] is True with DEBUG off: webhook events (session ids, outcomes) "
            "may be sent over plain http, readable on the way.",
            hint="Use https endpoints and leave ALLOW_HTTP False in production. See docs/webhooks.md.",
            id="django_liveness.W004",
        )
    ]


@checks.register()
def check_tasks_framework(app_configs=None, **kwargs):
    """On Django 6 the app enqueues with ``django.tasks``: a backend of the backport (left over from
    Django 5.2) would answer with the backport's results and signals, and ``complete/`` would take an
    immediate backend for a worker."""
    from .tasks_framework import IMMEDIATE_BACKEND, USES_DJANGO_TASKS

    if not USES_DJANGO_TASKS:
        return []
    return [
        checks.Warning(
            f"TASKS[{alias!r}] uses {config['BACKEND']!r} from the django-tasks backport, but on Django 6 "
            "django-liveness runs on Django's own django.tasks.",
            hint=f"Use {IMMEDIATE_BACKEND!r} to run tasks at once (Django's default when TASKS is unset); "
            "'django_tasks' is no longer needed in INSTALLED_APPS. See docs/compatibility.md.",
            id="django_liveness.W005",
        )
        for alias, config in getattr(settings, "TASKS", {}).items()
        if config.get("BACKEND", "").startswith("django_tasks.")
    ]
