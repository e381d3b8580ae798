"""The Tasks framework django-liveness runs its background work on, chosen in this one place.

Django 6.0 ships it as ``django.tasks``; below 6.0 the ``django-tasks`` backport (a dependency of
django-liveness) provides the same API. The choice follows the running Django, not what happens to
be importable: on Django 6 the backport may be installed too (``django-tasks-rq`` needs it).
Importable from a settings module (nothing here reads settings).
"""

import django

USES_DJANGO_TASKS = django.VERSION >= (6, 0)

if USES_DJANGO_TASKS:
    from django.tasks import task, task_backends
    from django.tasks.backends.immediate import ImmediateBackend
else:
    from django_tasks import task, task_backends
    from django_tasks.backends.immediate import ImmediateBackend

# The dotted path a host writes in TASKS for "run at once" (Django 6's default when TASKS is unset).
IMMEDIATE_BACKEND = f"{ImmediateBackend.__module__}.{ImmediateBackend.__name__}"

# What INSTALLED_APPS needs for the framework itself: nothing on Django 6, the backport's app below.
FRAMEWORK_APPS = [] if USES_DJANGO_TASKS else ["django_tasks"]

__all__ = ["FRAMEWORK_APPS", "IMMEDIATE_BACKEND", "USES_DJANGO_TASKS", "ImmediateBackend", "task", "task_backends"]
