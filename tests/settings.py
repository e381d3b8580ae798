"""Settings for the django-liveness test suite.

SQLite by default; ``LIVENESS_TEST_DB=postgres`` runs on the PostgreSQL server at
127.0.0.1:5432 (``make test-postgres``). ``LIVENESS_TEST_DB_NAME`` picks the database name so
that two runs on one machine do not collide.
"""

import os
import tempfile

from django_liveness.common.tasks_framework import FRAMEWORK_APPS, IMMEDIATE_BACKEND

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",  # tests/test_query_counts.py counts the API's statements with token authentication
    "drf_spectacular",
    *FRAMEWORK_APPS,  # the django-tasks backport below Django 6; nothing on Django 6
    "django_tasks_db",  # the database task backend, for the tests that switch TASKS to it
    "django_liveness",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

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

if os.environ.get("LIVENESS_TEST_DB") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("LIVENESS_TEST_DB_NAME", "liveness"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "TEST": {"NAME": "test_" + os.environ.get("LIVENESS_TEST_DB_NAME", "liveness")},
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

MEDIA_ROOT = tempfile.mkdtemp(prefix="liveness-tests-media-")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_URL = "/static/"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# Tests use the in-memory backend unless a test points the Azure backend at the emulator.
LIVENESS = {
    "BACKEND": "django_liveness.backends.locmem.LocMemBackend",
    # Webhook tests run their receivers on loopback, over plain http (tests/webhook_receiver.py).
    "WEBHOOKS": {"ALLOW_HTTP": True, "ALLOWED_PRIVATE_HOSTS": ["127.0.0.1"]},
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Tasks run at once unless a test switches TASKS to the database or the RQ backend.
TASKS = {"default": {"BACKEND": IMMEDIATE_BACKEND}}
RQ_QUEUES = {"default": {"URL": os.environ.get("LIVENESS_TEST_REDIS", "redis://127.0.0.1:6379/15")}}
