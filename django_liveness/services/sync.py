"""The sync of sessions nobody completed, shareable by any number of workers on any number of machines.

A worker claims a batch of open sessions with ``SELECT ... FOR UPDATE SKIP LOCKED`` and marks
them with a lease (``sync_lease_until``) in one short transaction: other workers skip them until
the lease runs out, so no session is fetched twice at once, and one whose worker died is taken up
again once its lease expires. The provider calls of a batch run in threads, at most
``SYNC["CONCURRENCY"]`` at once per process; the answers that have arrived are stored together, in
one short transaction with one statement per table, while the other calls go on, and a session that
ended has its session image fetched and is deleted at the provider as soon as its result is stored
(``_ProviderCalls``; one whose image fetch failed earlier is claimed again). A 429 holds every call
of the process back for its Retry-After (``ProviderGate``).
"""

import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import timedelta

from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone

from ..observability import tracing
from ..conf import liveness_settings
from ..exceptions import BackendError, Throttled
from ..models import LivenessSession
from . import session_images
from .base import atomic_with_retry
from .sessions import apply_fetched_many, collect_remote_deletions, delete_at_provider, fetch_result, record_remote_deletions

logger = logging.getLogger("django_liveness")

# The longest a 429 holds the process's provider calls back, whatever Retry-After says.
MAX_PAUSE_SECONDS = 60


class ProviderGate:
    """Holds every provider call of the process back after a 429 (the thread pool bounds how many run)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._paused_until = 0.0

    def wait(self):
        while True:
            with self._lock:
                delay = self._paused_until - time.monotonic()
            if delay <= 0:
                return
            time.sleep(min(delay, 1.0))

    def pause(self, seconds):
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + min(seconds, MAX_PAUSE_SECONDS))

    def call(self, function, session):
        """``function(session)`` after any pause; a Throttled answer pauses every later call."""
        self.wait()
        try:
            return function(session)
        except Throttled as error:
            self.pause(error.retry_after if error.retry_after is not None else 1)
            return error
        except BackendError as error:
            return error


gate = ProviderGate()


def claim_open_sessions(*, limit, lease_seconds, exclude=()):
    """Claim up to ``limit`` open sessions that no other worker holds (nor ``exclude``); return them."""
    sessions = LivenessSession.objects.filter(status__in=LivenessSession.OPEN_STATUSES).exclude(pk__in=exclude)
    return _claim(sessions, limit, lease_seconds)


def claim_remote_leftovers(*, limit, lease_seconds, exclude=()):
    """Claim up to ``limit`` ended sessions with work left at the provider: a session image whose
    fetch failed, or (with ``DELETE_REMOTE_SESSION_ON_RESULT``) a deletion that failed."""
    leftovers = LivenessSession.objects.filter(
        status__in=list(LivenessSession.FINAL_STATUSES), remote_deleted_at__isnull=True
    ).exclude(provider_session_id="").exclude(pk__in=exclude)
    if not liveness_settings.DELETE_REMOTE_SESSION_ON_RESULT:
        leftovers = session_images.missing_filter(leftovers)
    return _claim(leftovers, limit, lease_seconds)


def _claim(sessions, limit, lease_seconds):
    now = timezone.now()
    free = Q(sync_lease_until__isnull=True) | Q(sync_lease_until__lt=now)
    candidates = sessions.filter(free).order_by("created_at")
    if connection.features.has_select_for_update_skip_locked:
        of = ("self",) if connection.features.has_select_for_update_of else ()
        candidates = candidates.select_for_update(skip_locked=True, of=of)
    ids = _lease(candidates, limit=limit, until=now + timedelta(seconds=lease_seconds))
    return list(LivenessSession.objects.filter(pk__in=ids).select_related("subject").order_by("created_at"))


@atomic_with_retry
def _lease(candidates, *, limit, until):
    ids = list(candidates.values_list("pk", flat=True)[:limit])
    LivenessSession.objects.filter(pk__in=ids).update(sync_lease_until=until)
    return ids


def release(sessions):
    LivenessSession.objects.filter(pk__in=[session.pk for session in sessions]).update(sync_lease_until=None)


@tracing.traced("liveness.sync_sessions")
def sync_sessions(*, limit=500):
    """Refresh up to ``limit`` open sessions and retry failed remote deletions; return a summary dict.

    Used by ``manage.py liveness_sync`` (from cron) and by the ``sync_open_sessions`` task. Every
    session it works on, to refresh or to delete at the provider, is claimed first: no other
    worker calls the provider about it meanwhile.
    """
    summary = {"refreshed": 0, "changed": 0, "errors": 0, "remote_deleted": 0, "session_images": 0}

    def refresh(batch):
        _refresh_batch(batch, pool, summary)

    def finish(batch):
        _finish_remotely(batch, pool, summary)

    with ThreadPoolExecutor(max_workers=liveness_settings.SYNC["CONCURRENCY"], thread_name_prefix="liveness-sync") as pool:
        _in_batches(claim_open_sessions, limit, refresh)
        _in_batches(claim_remote_leftovers, limit, finish)
    return summary


def _in_batches(claim, limit, handle):
    """Claim and ``handle`` batches of up to ``SYNC["BATCH_SIZE"]`` sessions, ``limit`` in all; each
    batch's claim is released once it is handled. A session is handled once per run, even if it
    failed (the next run tries it again)."""
    settings = liveness_settings.SYNC
    seen = []
    while len(seen) < limit:
        batch = claim(limit=min(limit - len(seen), settings["BATCH_SIZE"]), lease_seconds=settings["LEASE_SECONDS"], exclude=seen)
        if not batch:
            return
        seen += [session.pk for session in batch]
        try:
            handle(batch)
        finally:
            release(batch)


def _refresh_batch(batch, pool, summary):
    """Fetch a batch's results in threads, store those that have arrived together while the other
    calls go on, and finish each session that ended as soon as its result is stored."""
    calls = _ProviderCalls(pool, summary)
    calls.store_results([(session, None) for session in batch if not session.provider_session_id])
    for session in batch:
        if session.provider_session_id:
            calls.submit(_RESULT, fetch_result, session)
    calls.run()


def _finish_remotely(sessions, pool, summary):
    """Finish ``sessions`` (ended, with work left at the provider): fetch their missing session
    images, then delete at the provider those with nothing left to fetch."""
    calls = _ProviderCalls(pool, summary)
    for session in sessions:
        calls.finish(session)
    calls.run()


_RESULT, _IMAGE, _DELETION = "result", "session image", "deletion"


class _ProviderCalls:
    """The provider calls of a batch, in the pool's threads, each session's next call submitted as
    soon as the answer to its last one is stored: its result; once it ended, its session image
    (``session_images``), if one is missing; then the deletion of its remote copy
    (``DELETE_REMOTE_SESSION_ON_RESULT``). The pool stays full, as the threaded ideal's does, and
    the answers that arrived together are stored together. A failed image fetch keeps the remote
    session for the next run."""

    def __init__(self, pool, summary):
        self.pool, self.summary = pool, summary
        self.call = tracing.propagating(gate.call)  # the threads' provider spans under the sync's span
        self.pending = {}

    def submit(self, step, function, session):
        self.pending[self.pool.submit(self.call, function, session)] = (step, session)

    def run(self):
        while self.pending:
            arrived, _ = wait(self.pending, return_when=FIRST_COMPLETED)
            answers = {_RESULT: [], _IMAGE: [], _DELETION: []}
            for future in arrived:
                step, session = self.pending.pop(future)
                answers[step].append((session, future.result()))
            self.store_results(answers[_RESULT])
            for session, fetched in answers[_IMAGE]:
                self.store_image(session, fetched)
            if answers[_DELETION]:
                self.summary["remote_deleted"] += record_remote_deletions(answers[_DELETION])

    def store_results(self, pairs):
        with collect_remote_deletions() as ended:
            _store(pairs, self.summary)
        for session in ended:
            self.finish(session)

    def finish(self, session):
        if session_images.missing(session):
            self.submit(_IMAGE, session_images.download, session)
        elif liveness_settings.DELETE_REMOTE_SESSION_ON_RESULT:
            self.submit(_DELETION, delete_at_provider, session)

    def store_image(self, session, fetched):
        if not session_images.store_fetched(session, fetched):
            self.summary["errors"] += 1
            return
        self.summary["session_images"] += fetched is not None and bool(session.session_image)
        if liveness_settings.DELETE_REMOTE_SESSION_ON_RESULT:
            self.submit(_DELETION, delete_at_provider, session)


def _store(pairs, summary):
    """Store fetched answers together (``apply_fetched_many``); when the database refuses the
    batch, each alone, so that one session's trouble does not stop the others."""
    if not pairs:
        return
    try:
        applied = apply_fetched_many(pairs)
    except DatabaseError as error:
        if len(pairs) > 1:
            for pair in pairs:
                _store([pair], summary)
            return
        logger.error("Refreshing session %s failed in the database: %s", pairs[0][0].pk, type(error).__name__)
        summary["errors"] += 1
        return
    for (session, _fetched), after in zip(pairs, applied):
        if isinstance(after, BackendError):
            summary["errors"] += 1
            continue
        summary["refreshed"] += 1
        summary["changed"] += after.status != session.status
