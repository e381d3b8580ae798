"""Work after the answer: what an ended session still needs at the provider (its session image
fetched, its remote copy deleted), done once the result is stored and the person has their answer.

``schedule`` runs on the commit that stored the result. With task workers (``TASKS`` other than
the immediate backend) it enqueues the ``finish_remote_session`` task; with the immediate backend
it hands the work to a small thread pool of this process (``THREADS`` threads, at most
``MAX_QUEUED`` sessions waiting), so that the provider's round trips never hold the request. Work
that does not happen (the process died, the queue was full, a 429) is not lost: the session stays
``pending_after_answer`` in the database, and ``liveness_sync`` (``sync.claim_remote_leftovers``)
finishes it. Whoever does the work holds the session's sync lease meanwhile, so the sync and this
never call the provider about one session at once.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.db import close_old_connections, connection
from django.db.models import Q
from django.utils import timezone

from ..conf import liveness_settings
from ..models import LivenessSession

logger = logging.getLogger("django_liveness")

THREADS = 2
MAX_QUEUED = 200

_lock = threading.Lock()
_idle = threading.Condition(_lock)
_queued = 0
_pool = None


def schedule(session):
    """Have the remote work of ``session`` (just committed as ended) done after the answer."""
    from .. import tasks  # the tasks import the services

    if tasks.in_background():
        tasks.finish_remote_session.enqueue(str(session.pk))
        return
    if connection.in_atomic_block or (connection.vendor == "sqlite" and connection.is_in_memory_db()):
        # Still inside a transaction (a test's, whose on-commit callbacks run before it ends):
        # another connection would not see the result yet. An in-memory SQLite database (test runs)
        # fails a second writer at once instead of making it wait. Either way: here, after the
        # result's commit all the same (as webhooks.delivery does), on the caller's object.
        finish(session.pk, session=session)
        return
    global _queued, _pool
    with _lock:
        if _queued >= MAX_QUEUED:
            logger.warning("Work after the answer is queued for %s sessions: session %s is left to liveness_sync.", _queued, session.pk)
            return
        _queued += 1
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="liveness-after-answer")
    _pool.submit(_run_in_thread, session.pk)


def _run_in_thread(session_id):
    global _queued
    try:
        finish(session_id)
    except Exception:
        # The session stays pending: liveness_sync finishes it.
        logger.exception("The work after the answer of session %s failed; liveness_sync will finish it.", session_id)
    finally:
        close_old_connections()
        connection.close()  # this thread's own connection: none is left open between sessions
        with _lock:
            _queued -= 1
            _idle.notify_all()


def wait_idle(timeout=None):
    """Block until no work after the answer is queued or running in this process's threads; True
    when idle, False at ``timeout`` (seconds). For tests, benchmarks and a clean shutdown."""
    with _lock:
        return _idle.wait_for(lambda: _queued == 0, timeout=timeout)


def finish(session_id, *, session=None):
    """Fetch the session image and delete the remote copy of the session ``session_id``, holding
    its sync lease meanwhile; True when nothing is left to do. A session that another worker holds
    is left to it (False). ``session``: the row as just committed, when the caller has it."""
    from .sessions import finish_remote_session

    if not _claim(session_id):
        return False
    if session is None:
        session = LivenessSession.objects.select_related("subject").filter(pk=session_id).first()
    try:
        if session is None or not session.pending_after_answer:
            return True
        return finish_remote_session(session)
    finally:
        LivenessSession.objects.filter(pk=session_id).update(sync_lease_until=None)


def _claim(session_id):
    """Take the sync lease of the session (one conditional UPDATE): True when no one else holds it."""
    now = timezone.now()
    free = Q(sync_lease_until__isnull=True) | Q(sync_lease_until__lt=now)
    until = now + timedelta(seconds=liveness_settings.SYNC["LEASE_SECONDS"])
    return bool(LivenessSession.objects.filter(free, pk=session_id).update(sync_lease_until=until))
