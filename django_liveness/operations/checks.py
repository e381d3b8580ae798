"""System checks (``manage.py check``) with stable ids.

- django_liveness.E001: LIVENESS has an unknown key.
- django_liveness.E002: a LIVENESS value is invalid.
- django_liveness.E003: the backend cannot be imported or built.
- django_liveness.E004: under ``check --deploy``, the Azure backend has no endpoint or key (W005 otherwise).
- django_liveness.W001: an in-memory or emulator backend while DEBUG is False (reported by the backend).
- django_liveness.W002: the Azure backend is set to a preview Face API, v1.2-preview.1 or v1.3-preview.1
  (reported by the backend).
- django_liveness.W003: with DEBUG off, reference images would be stored where a web server may serve
  them or in the project's own folder (docs/storage.md).
- django_liveness.W004: with DEBUG off, webhooks may be sent over plain http (docs/webhooks.md).
- django_liveness.W005: the Azure backend has no endpoint or key yet (reported by the backend; a
  Warning, so that migrate and the other commands run before a key is set).
- django_liveness.W006: with DEBUG off, a SQLite database without the settings that make it hold
  under concurrent requests (docs/deployment.md#database-sqlite).
- django_liveness.W007: the folder of the reference-image storage cannot be created or written.
- django_liveness.W008: on Django 6, TASKS names a backend of the django-tasks backport instead of
  django.tasks' own (docs/compatibility.md).
"""

import os
from pathlib import Path

import django
from django.conf import settings
from django.core import checks

from ..conf import DEFAULTS, liveness_settings, unknown_keys, validate
from ..exceptions import LivenessConfigurationError


@checks.register()
def check_liveness_settings(app_configs=None, **kwargs):
    user_settings = getattr(settings, "LIVENESS", {})
    if isinstance(user_settings, dict):
        unknown = unknown_keys(user_settings)
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

    from ..backends import get_backend

    try:
        backend = get_backend()
    except LivenessConfigurationError as exc:
        return [checks.Error(str(exc), id="django_liveness.E003")]
    return [
        *backend.check(),
        *check_reference_image_storage(),
        *check_storage_writable(),
        *check_webhook_transport(),
        *check_sqlite(),
    ]


# Under `check --deploy`, what may wait during development must be there.
DEPLOY_ERRORS = {"django_liveness.W005": "django_liveness.E004"}


@checks.register(deploy=True)
def check_deployment(app_configs=None, **kwargs):
    """The backend's warnings that a deployment cannot go without, as Errors (a missing key: E004)."""
    from ..backends import get_backend

    try:
        messages = get_backend().check()
    except LivenessConfigurationError:
        return []  # check_liveness_settings reports it (E003)
    return [
        checks.Error(message.msg, hint=message.hint, id=DEPLOY_ERRORS[message.id])
        for message in messages
        if message.id in DEPLOY_ERRORS
    ]


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


def check_storage_writable():
    """A reference-image folder that cannot be created or written: every upload would fail."""
    from django.core.files.storage import FileSystemStorage, storages

    name = liveness_settings.REFERENCE_IMAGE_STORAGE
    storage = storages[name]
    if not isinstance(storage, FileSystemStorage):
        return []
    location = Path(storage.location)
    existing = next((folder for folder in (location, *location.parents) if folder.exists()), None)
    if existing is not None and existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return []
    why = "is not a folder" if existing is not None and not existing.is_dir() else "cannot be written by this process"
    return [
        checks.Warning(
            f"The folder of reference images (STORAGES[{name!r}]) {location} cannot be created or written: "
            f"{existing} {why}. Every upload of a reference image answers 503 storage_misconfigured.",
            hint="Create the folder and give the user that runs Django write access to it, or set "
            "STORAGES[...]['OPTIONS']['location'] to a folder it can write. See docs/storage.md.",
            id="django_liveness.W007",
        )
    ]


# Django >= 5.1 can begin every transaction with the write lock (BEGIN IMMEDIATE).
HAS_TRANSACTION_MODE = django.VERSION >= (5, 1)


def check_sqlite(databases=None):
    """Warn (DEBUG off) about a SQLite database without WAL, a timeout and (Django >= 5.1) IMMEDIATE
    transactions (``databases``: settings.DATABASES unless given)."""
    if settings.DEBUG:
        return []
    messages = []
    for alias, database in (settings.DATABASES if databases is None else databases).items():
        if not database.get("ENGINE", "").endswith("sqlite3") or str(database.get("NAME", "")).startswith((":memory:", "file:")):
            continue
        options = database.get("OPTIONS") or {}
        missing = []
        if HAS_TRANSACTION_MODE and str(options.get("transaction_mode", "")).upper() != "IMMEDIATE":
            missing.append('"transaction_mode": "IMMEDIATE"')
        if "journal_mode=wal" not in str(options.get("init_command", "")).lower().replace(" ", ""):
            missing.append('"init_command": "PRAGMA journal_mode=WAL;"')
        if "timeout" not in options:
            missing.append('"timeout": 20')
        if missing:
            messages.append(
                checks.Warning(
                    f"The SQLite database {alias!r} lacks {', '.join(missing)} in its OPTIONS: concurrent requests "
                    "wait on each other more than they need to, and may fail when a wait passes its timeout.",
                    hint="Add them to DATABASES[...]['OPTIONS'] (docs/deployment.md#database-sqlite), or use PostgreSQL.",
                    id="django_liveness.W006",
                )
            )
    return messages


@checks.register()
def check_tasks_framework(app_configs=None, **kwargs):
    """On Django 6 the app enqueues with ``django.tasks``: a backend of the backport (left over from
    Django 5.2) would answer with the backport's results and signals, and ``complete/`` would take an
    immediate backend for a worker."""
    from ..common.tasks_framework import IMMEDIATE_BACKEND, USES_DJANGO_TASKS

    if not USES_DJANGO_TASKS:
        return []
    return [
        checks.Warning(
            f"TASKS[{alias!r}] uses {config['BACKEND']!r} from the django-tasks backport, but on Django 6 "
            "django-liveness runs on Django's own django.tasks.",
            hint=f"Use {IMMEDIATE_BACKEND!r} to run tasks at once (Django's default when TASKS is unset); "
            "'django_tasks' is no longer needed in INSTALLED_APPS. See docs/compatibility.md.",
            id="django_liveness.W008",
        )
        for alias, config in getattr(settings, "TASKS", {}).items()
        if config.get("BACKEND", "").startswith("django_tasks.")
    ]
