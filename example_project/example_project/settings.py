"""The example project: django-liveness used as a host project would use it.

Without VISION_ENDPOINT / VISION_KEY it talks to the emulator mounted at /emulator/ on the same
runserver (no Azure account needed); with them, to your Azure Face resource. Same code.
"""

import os
from pathlib import Path

import django

from django_liveness.common.tasks_framework import FRAMEWORK_APPS, IMMEDIATE_BACKEND

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# `make demo PORT=8123` (or PORT in the environment) moves the example and its emulator together.
PORT = int(os.environ.get("PORT") or os.environ.get("DEMO_PORT") or "8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_liveness",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the pages follow the browser's language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = "example_project.wsgi.application"

# SQLite as docs/deployment.md#sqlite sets it up: WAL, a timeout, and (Django >= 5.1) transactions
# that take the write lock first.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DB", str(BASE_DIR / "db.sqlite3")),
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20}
        | ({"transaction_mode": "IMMEDIATE"} if django.VERSION >= (5, 1) else {}),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# Reference images in a private folder, outside anything the web server serves.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "liveness": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": os.environ.get("DEMO_PRIVATE_MEDIA", str(BASE_DIR / "private-media"))},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Session auth for the page; Basic auth too, for the curl flow of docs/api.md (development only:
# it sends the password with every request).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        *(["rest_framework.authentication.BasicAuthentication"] if DEBUG else []),
    ]
}

# Azure when both variables are set; otherwise the emulator mounted on this very server.
VISION_ENDPOINT = os.environ.get("VISION_ENDPOINT", "")
VISION_KEY = os.environ.get("VISION_KEY", "")
EMULATOR_MODE = not (VISION_ENDPOINT and VISION_KEY)
LIVENESS = {
    "BACKEND": "django_liveness.backends.azure.AzureFaceBackend",
    "OPTIONS": {
        "endpoint": f"http://127.0.0.1:{PORT}/emulator" if EMULATOR_MODE else VISION_ENDPOINT,
        "key": "emulator-key" if EMULATOR_MODE else VISION_KEY,
    },
    "REFERENCE_IMAGE_STORAGE": "liveness",
    # A demo is tried again and again: more sessions per hour than the defaults allow.
    "THROTTLE_RATES": {"session_create_user": "120/hour", "session_create_subject": "120/hour"},
    # The emulator's test capture is instant, so a retake can follow a failed attempt within a
    # second: fetch the result at most once a second per session (default 5; a real capture takes longer).
    "COMPLETE_MIN_INTERVAL_SECONDS": 1,
    # The hosted capture page may send the person back to this site under either name.
    "CAPTURE": {"RETURN_URL_HOSTS": [f"127.0.0.1:{PORT}", f"localhost:{PORT}"]},
}

# DEMO_API_VERSION=v1.3-preview.1 tries the newest preview; DEMO_CLIENT_ATTEMPTS=2 or 3 (v1.3 only) lets
# a session take that many captures (the capture page's retakes, docs/capture.md).
if os.environ.get("DEMO_API_VERSION"):
    LIVENESS["OPTIONS"]["api_version"] = os.environ["DEMO_API_VERSION"]
if os.environ.get("DEMO_CLIENT_ATTEMPTS"):
    LIVENESS["CLIENT_ATTEMPTS"] = int(os.environ["DEMO_CLIENT_ATTEMPTS"])

# Background work (docs/deployment.md): DEMO_TASKS=immediate (default, nothing to run), db (run
# `python manage.py db_worker` beside the server) or rq (Redis on 127.0.0.1:6379; run
# `python manage.py rqworker default --job-class django_tasks_rq.Job`).
DEMO_TASKS = os.environ.get("DEMO_TASKS", "immediate")
TASK_BACKENDS = {
    "immediate": {"BACKEND": IMMEDIATE_BACKEND},  # django.tasks' on Django 6, the backport's below
    "db": {"BACKEND": "django_tasks_db.DatabaseBackend"},
    "rq": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]},
}
TASKS = {"default": TASK_BACKENDS[DEMO_TASKS]}
INSTALLED_APPS += {"immediate": [], "db": [*FRAMEWORK_APPS, "django_tasks_db"], "rq": [*FRAMEWORK_APPS, "django_rq", "django_tasks_rq"]}[DEMO_TASKS]
RQ_QUEUES = {"default": {"URL": os.environ.get("DEMO_REDIS_URL", "redis://127.0.0.1:6379/0")}}
if DEMO_TASKS != "immediate":
    LIVENESS["COMPLETE_IN_BACKGROUND"] = True  # complete/ answers 202; the worker fetches the result
