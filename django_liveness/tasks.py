"""Background work on Django's Tasks framework: thin tasks that call the service layer.

``django.tasks`` on Django 6, the ``django-tasks`` backport below (``tasks_framework`` chooses).
The host picks the engine in ``TASKS``: the immediate backend (the default: a task runs at once, in
the process that enqueues it, as everything did before), ``django-tasks-db`` (a ``db_worker`` per
machine) or ``django-tasks-rq`` (RQ workers on Redis, on any number of machines). See
docs/deployment.md.
"""

import math

from . import privacy, services, webhooks
from .conf import liveness_settings
from .models import LivenessSession
from .services import after_answer
from .tasks_framework import ImmediateBackend, task, task_backends


def in_background():
    """True when ``TASKS`` sends work to workers (any backend but the immediate one)."""
    return not isinstance(task_backends["default"], ImmediateBackend)


@task()
def refresh_session(session_id):
    """Fetch and store one session's result (``complete/`` with ``COMPLETE_IN_BACKGROUND``)."""
    session = LivenessSession.objects.select_related("subject").filter(pk=session_id).first()
    if session is not None:
        services.refresh_session(session)


@task()
def finish_remote_session(session_id):
    """After a result's answer: fetch the session image, then delete the provider's copy."""
    return after_answer.finish(session_id)


@task()
def sync_open_sessions(limit):
    """One worker's share of the sync: up to ``limit`` open sessions no other worker holds."""
    return services.sync_sessions(limit=limit)


@task()
def purge():
    """Apply the retention schedule (``liveness_purge``)."""
    return privacy.purge()


@task()
def send_webhooks(delivery_ids=None):
    """Send due webhook deliveries (only ``delivery_ids``, when given: those a commit just wrote)."""
    return webhooks.send_due(ids=delivery_ids)


def enqueue_sync(*, limit):
    """Enqueue the sync of up to ``limit`` open sessions as one task per batch, so that every
    worker takes a share; return how many tasks were enqueued."""
    open_sessions = LivenessSession.objects.filter(status__in=LivenessSession.OPEN_STATUSES).count()
    batch = liveness_settings.SYNC["BATCH_SIZE"]
    count = max(1, math.ceil(min(open_sessions, limit) / batch))  # one at least: it retries remote deletions too
    for _ in range(count):
        sync_open_sessions.enqueue(batch)
    return count
