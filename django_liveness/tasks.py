"""Background work on Django's Tasks framework: thin tasks that call the service layer.

``django.tasks`` on Django 6, the ``django-tasks`` backport below (``tasks_framework`` chooses).
The host picks the engine in ``TASKS``: the immediate backend (the default: a task runs at once, in
the process that enqueues it, as everything did before), ``django-tasks-db`` (a ``db_worker`` per
machine) or ``django-tasks-rq`` (RQ workers on Redis, on any number of machines). See
docs/deployment.md.

An edge: it imports ``services`` (and the models it reads ids from), nothing below imports it.
The webhooks' sending reaches it through the dispatcher ``AppConfig.ready()`` registers
(``enqueue_webhooks``). A task is named for what it is handed (``refresh_session_task`` takes an
id, ``services.refresh_session`` a session); ``refresh_session`` and ``purge`` are deprecated
aliases for one release.
"""

import math
import warnings

from . import services
from .conf import liveness_settings
from .models import LivenessSession
from .common.tasks_framework import ImmediateBackend, task, task_backends
from .services import webhook_delivery
from .services.sessions import finish_after_answer


def in_background():
    """True when ``TASKS`` sends work to workers (any backend but the immediate one)."""
    return not isinstance(task_backends["default"], ImmediateBackend)


@task()
def refresh_session_task(session_id):
    """Fetch and store one session's result (``complete/`` with ``COMPLETE_IN_BACKGROUND``)."""
    session = LivenessSession.objects.select_related("subject").filter(pk=session_id).first()
    if session is not None:
        services.refresh_session(session)


@task()
def finish_after_answer_task(session_id):
    """After a result's answer: fetch the session image, then delete the provider's copy."""
    return finish_after_answer(session_id)


@task()
def sync_open_sessions(limit):
    """One worker's share of the sync: up to ``limit`` open sessions no other worker holds."""
    return services.sync_sessions(limit=limit)


@task()
def apply_retention_task():
    """Apply the retention schedule (``liveness_purge``, ``services.apply_retention``)."""
    return services.apply_retention()


@task()
def send_webhooks(delivery_ids=None):
    """Send due webhook deliveries (only ``delivery_ids``, when given: those a commit just wrote)."""
    return webhook_delivery.send_due(ids=delivery_ids)


def enqueue_after_answer(session_id):
    """The dispatcher of the work after a result's answer (registered by ``AppConfig.ready()``):
    enqueue ``finish_after_answer_task`` when ``TASKS`` has workers and return True; with the
    immediate backend return False, and a thread of this process does the work."""
    if not in_background():
        return False
    finish_after_answer_task.enqueue(str(session_id))
    return True


def enqueue_webhooks(delivery_ids):
    """The webhooks' dispatcher (registered by ``AppConfig.ready()``): enqueue ``send_webhooks`` for
    the deliveries a commit wrote when ``TASKS`` has workers and return True; with the immediate
    backend return False, and the deliveries are sent in a thread of this process."""
    if not in_background():
        return False
    send_webhooks.enqueue(list(delivery_ids))
    return True


def enqueue_sync(*, limit):
    """Enqueue the sync of up to ``limit`` open sessions as one task per batch, so that every
    worker takes a share; return how many tasks were enqueued."""
    open_sessions = LivenessSession.objects.filter(status__in=LivenessSession.OPEN_STATUSES).count()
    batch = liveness_settings.SYNC["BATCH_SIZE"]
    count = max(1, math.ceil(min(open_sessions, limit) / batch))  # one at least: it retries remote deletions too
    for _ in range(count):
        sync_open_sessions.enqueue(batch)
    return count


_DEPRECATED = {"refresh_session": "refresh_session_task", "purge": "apply_retention_task"}


def __getattr__(name):
    # Tasks enqueued under the old names before an upgrade still resolve (with a warning).
    if name in _DEPRECATED:
        warnings.warn(
            f"django_liveness.tasks.{name} is deprecated: use django_liveness.tasks.{_DEPRECATED[name]} instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return globals()[_DEPRECATED[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
