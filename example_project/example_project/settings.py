"""The example project: django-liveness used as a host project would use it.

Without VISION_ENDPOINT / VISION_KEY it talks to the emulator mounted at /emulator/ on the same
runserver (no Azure account needed); with them, to your Azure Face resource. Same code.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DEMO_PORT = int(os.environ.get("DEMO_PORT", "8000"))

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

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

# Reference images in a private folder, outside anything the web server serves.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "liveness": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": os.environ.get("DEMO_PRIVATE_MEDIA", str(BASE_DIR / "private-media"))},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"]}

# Azure when both variables are set; otherwise the emulator mounted on this very server.
VISION_ENDPOINT = os.environ.get("VISION_ENDPOINT", "")
VISION_KEY = os.environ.get("VISION_KEY", "")
EMULATOR_MODE = not (VISION_ENDPOINT and VISION_KEY)
LIVENESS = {
    "BACKEND": "django_liveness.backends.azure.AzureFaceBackend",
    "OPTIONS": {
        "endpoint": f"http://127.0.0.1:{DEMO_PORT}/emulator" if EMULATOR_MODE else VISION_ENDPOINT,
        "key": "emulator-key" if EMULATOR_MODE else VISION_KEY,
    },
    "REFERENCE_IMAGE_STORAGE": "liveness",
}
