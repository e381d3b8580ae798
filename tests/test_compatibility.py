"""What keeps the app right on every Django it supports (docs/compatibility.md): the Tasks
framework it runs on, and the test run's rule that the app's own code calls nothing deprecated."""

import sys
import warnings

import django
import pytest

from django_liveness import tasks
from django_liveness.common.tasks_framework import IMMEDIATE_BACKEND, task_backends


def warn_from(module_name):
    """Emit a DeprecationWarning attributed to ``module_name``, as Django attributes one of its
    deprecations to the code that called the deprecated API."""
    code = compile("import warnings\nwarnings.warn('old API', DeprecationWarning)", f"<{module_name}>", "exec")
    exec(code, {"__name__": module_name})  # noqa: S102 - a fixed probe, no input


def test_a_deprecation_in_the_apps_own_code_fails_the_run():
    """pyproject.toml's filterwarnings: a DeprecationWarning from any django_liveness module is an error."""
    for module in ("django_liveness", "django_liveness.admin", "django_liveness.services.sessions"):
        with pytest.raises(DeprecationWarning, match="old API"):
            warn_from(module)


def test_a_deprecation_elsewhere_stays_a_warning():
    for module in ("django.db.models", "rest_framework.fields", "django_livenessx"):
        with warnings.catch_warnings(record=True) as caught:  # records, under the run's own filters
            warn_from(module)
        assert [str(w.message) for w in caught] == ["old API"]


def test_tasks_run_on_djangos_own_framework_from_django_6():
    framework = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
    assert type(tasks.refresh_session).__module__ == f"{framework}.base"
    assert task_backends is sys.modules[framework].task_backends
    assert IMMEDIATE_BACKEND == f"{framework}.backends.immediate.ImmediateBackend"


def test_the_immediate_backend_runs_in_the_request_and_a_worker_backend_does_not(settings):
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE_BACKEND}}
    assert tasks.in_background() is False
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    assert tasks.in_background() is True
