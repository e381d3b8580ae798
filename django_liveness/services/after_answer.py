"""Work after the answer: what an ended session still needs at the provider (its session image
fetched, its remote copy deleted), done once the result is stored and the person has their answer.

``schedule`` runs on the commit that stored the result, with the work to do
(``sessions.finish_after_answer``). With task workers (``TASKS`` other than the immediate backend)
the dispatcher that ``AppConfig.ready()`` registers (``set_dispatcher``: ``tasks.enqueue_after_answer``)
enqueues the ``finish_after_answer_task`` task, so that this module imports neither the tasks nor the
sessions; with the immediate backend it hands the work to a small thread pool of this process (``THREADS`` threads, at most
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
from ..db.transactions import only_one_connection_writes
from ..models import LivenessSession

logger = logging.getLogger("django_liveness")

THREADS = 2
MAX_QUEUED = 200

_lock = threading.Lock()
_idle = threading.Condition(_lock)
_queued = 0
_pool = None


_dispatcher = None


def set_dispatcher(dispatcher):
    """``dispatcher(session_id)`` enqueues the work for a worker and returns True, or returns False
    (no workers: the work runs in this process). ``AppConfig.ready()`` sets it."""
    global _dispatcher
    _dispatcher = dispatcher


def schedule(session, work):
    """Have ``work(session_id, session=...)``, the remote work of ``session`` (just committed as
    ended), done after the answer."""
    if _dispatcher is not None and _dispatcher(str(session.pk)):
        return
    if connection.in_atomic_block or only_one_connection_writes():
        # Still inside a transaction (a test's, whose on-commit callbacks run before it ends):
        # another connection would not see the result yet. Either way: here, after the result's
        # commit all the same (as the webhooks' delivery does), on the caller's object.
        work(session.pk, session=session)
        return
    global _queued, _pool
    with _lock:
        if _queued >= MAX_QUEUED:
            logger.warning("Work after the answer is queued for %s sessions: session %s is left to liveness_sync.", _queued, session.pk)
            return
        _queued += 1
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="liveness-after-answer")
    _pool.submit(_run_in_thread, work, session.pk)


def _run_in_thread(work, session_id):
    global _queued
    try:
        work(session_id)
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


def claim(session_id):
    """Take the sync lease of the session (one conditional UPDATE): True when no one else holds it."""
    now = timezone.now()
    free = Q(sync_lease_until__isnull=True) | Q(sync_lease_until__lt=now)
    until = now + timedelta(seconds=liveness_settings.SYNC["LEASE_SECONDS"])
    return bool(LivenessSession.objects.filter(free, pk=session_id).update(sync_lease_until=until))


def release(session_id):
    LivenessSession.objects.filter(pk=session_id).update(sync_lease_until=None)
