"""Sending deliveries: claimed by one sender at a time, POSTed outside any transaction, retried.

A sender claims due deliveries with ``SELECT ... FOR UPDATE SKIP LOCKED`` and a lease in one
short transaction (as the session sync does), so any number of processes share the work and none
sends what another holds; a sender that died leaves its claim to expire. The HTTP calls run in a
few threads with no transaction open; each answer is written in its own short statement.

Retries: timeouts, connection errors, 408, 429 (Retry-After honoured) and 5xx are tried again
on ``RETRY_SCHEDULE`` (about three days, with jitter); any other answer that is not 2xx (a 4xx, a
redirect, which is never followed) ends the delivery as failed. An endpoint whose attempts have
all failed for ``DISABLE_AFTER`` is disabled, and ``webhook_endpoint_disabled`` is sent.

After a commit the deliveries it wrote go out through a dispatcher: ``AppConfig.ready()`` registers
``tasks.enqueue_webhooks`` (``set_dispatcher``), which enqueues the ``send_webhooks`` task when
``TASKS`` has workers; otherwise (the immediate backend, or no dispatcher) a thread of this process
sends them. So this module never imports ``tasks``: the tasks import the services, not the reverse.
"""

import atexit
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta

from django.db import connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from .. import signals
from ..conf import liveness_settings
from ..models import WebhookDelivery, WebhookEndpoint
from ..db.transactions import atomic_with_retry, only_one_connection_writes
from ..webhook_protocol import signing
from ..webhook_protocol.transport import post
from .webhook_subscriptions import forget_subscriptions

logger = logging.getLogger("django_liveness")

# The wait after the 1st, 2nd ... failed attempt (each +-20 % jitter): 12 attempts over about 3.2 days.
RETRY_SCHEDULE = [
    timedelta(seconds=5),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
    timedelta(hours=12),
    timedelta(hours=24),
    timedelta(hours=24),
]
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
JITTER = 0.2
# The longest a Retry-After is obeyed (beyond it the schedule's own wait applies).
MAX_RETRY_AFTER = timedelta(hours=24)
# An endpoint is disabled once every attempt for this long has failed.
DISABLE_AFTER = timedelta(days=3)
# Claims: deliveries per batch, HTTP calls at once per process, and how long a claim holds (it
# covers a whole batch at the longest timeout).
BATCH_SIZE = 20
CONCURRENCY = 4
LEASE = timedelta(minutes=5)
# How long an exiting process waits for the deliveries it sends after its commits.
EXIT_WAIT = timedelta(seconds=10)


# --- the wait before the next attempt -----------------------------------------------------------


def next_wait(attempts, retry_after=None):
    """The wait after ``attempts`` failed attempts (None: no attempt left)."""
    if attempts >= MAX_ATTEMPTS:
        return None
    base = RETRY_SCHEDULE[attempts - 1]
    wait = base * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        wait = max(wait, min(timedelta(seconds=retry_after), MAX_RETRY_AFTER))
    return wait


# --- claims and sending -------------------------------------------------------------------------


def claim(*, limit, ids=None, exclude=()):
    """Claim up to ``limit`` due deliveries of active endpoints that no other sender holds; return them."""
    now = timezone.now()
    due = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now, endpoint__is_active=True)
    due = due.filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now)).exclude(pk__in=exclude)
    if ids is not None:
        due = due.filter(pk__in=ids)
    due = due.order_by("next_attempt_at", "id")
    if connection.features.has_select_for_update_skip_locked:
        of = ("self",) if connection.features.has_select_for_update_of else ()
        due = due.select_for_update(skip_locked=True, of=of)
    claimed = _lease(due, limit=limit, until=now + LEASE)
    if not claimed:
        return []
    return list(WebhookDelivery.objects.filter(pk__in=claimed).select_related("endpoint").order_by("next_attempt_at", "id"))


@atomic_with_retry
def _lease(due, *, limit, until):
    claimed = list(due.values_list("pk", flat=True)[:limit])
    if claimed:
        WebhookDelivery.objects.filter(pk__in=claimed).update(lease_until=until)
    return claimed


def send_due(*, limit=1000, ids=None, concurrency=CONCURRENCY):
    """Send up to ``limit`` due deliveries (only ``ids``, when given); return a summary dict.

    Used after a commit (for the deliveries it wrote), by the ``send_webhooks`` task and by
    ``manage.py liveness_sync`` / ``liveness_webhooks``. ``concurrency=1`` sends from the calling
    thread, one after the other.
    """
    summary = {"sent": 0, "retrying": 0, "failed": 0}
    seen = []
    timeout = liveness_settings.WEBHOOKS["TIMEOUT_SECONDS"]
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="liveness-webhooks") as pool:
        while len(seen) < limit:
            batch = claim(limit=min(BATCH_SIZE, limit - len(seen)), ids=ids, exclude=seen)
            if not batch:
                break
            seen += [delivery.pk for delivery in batch]
            if concurrency == 1:
                for delivery in batch:
                    summary[record_attempt(delivery, post(delivery.endpoint.url, *request_of(delivery), timeout=timeout))] += 1
                continue
            calls = {
                pool.submit(post, delivery.endpoint.url, *request_of(delivery), timeout=timeout): delivery for delivery in batch
            }
            for future in as_completed(calls):
                summary[record_attempt(calls[future], future.result())] += 1
    return summary


def request_of(delivery, *, now=None):
    """The body and the signed headers of ``delivery``, signed now with the endpoint's secrets."""
    body = signing.encode_body(delivery.payload)
    return body, signing.signed_headers(delivery.event_id, body, delivery.endpoint.signing_secrets(now), now=now)


def record_attempt(delivery, attempt):
    """Write what ``attempt`` did to ``delivery`` (and its endpoint's health); return "sent",
    "retrying" or "failed"."""
    now = timezone.now()
    attempts = delivery.attempts + 1
    fields = {
        "attempts": F("attempts") + 1,
        "last_attempt_at": now,
        "last_response_status": attempt.status,
        "last_response_body": attempt.body,
        "last_error": attempt.error,
        "last_duration_ms": attempt.duration_ms,
        "lease_until": None,
    }
    if attempt.ok:
        outcome, fields["status"], fields["delivered_at"] = "sent", WebhookDelivery.Status.SUCCEEDED, now
    else:
        wait = next_wait(attempts, attempt.retry_after) if attempt.retryable else None
        if wait is None:
            outcome, fields["status"] = "failed", WebhookDelivery.Status.FAILED
        else:
            outcome, fields["next_attempt_at"] = "retrying", now + wait
    disabled = _write_attempt(delivery, fields, ok=attempt.ok, now=now)
    if disabled:
        logger.warning("Webhook endpoint %s disabled: %s", delivery.endpoint.pk, delivery.endpoint.disabled_reason)
        signals.webhook_endpoint_disabled.send_robust(
            sender=WebhookEndpoint, endpoint=delivery.endpoint, reason=delivery.endpoint.disabled_reason
        )
    if not attempt.ok:
        logger.info(
            "Webhook delivery %s (%s) to endpoint %s: %s, %s.",
            delivery.event_id,
            delivery.event_type,
            delivery.endpoint_id,
            attempt.status or attempt.error,
            outcome,
        )
    return outcome


@atomic_with_retry
def _write_attempt(delivery, fields, *, ok, now):
    """Write the attempt and the endpoint's health; return True when this disabled the endpoint."""
    # Only while the claim is ours: a replay meanwhile (which drops the claim) starts over untouched.
    WebhookDelivery.objects.filter(
        pk=delivery.pk, status=WebhookDelivery.Status.PENDING, lease_until=delivery.lease_until
    ).update(**fields)
    return _record_health(delivery.endpoint, ok=ok, now=now)


def _record_health(endpoint, *, ok, now):
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint.pk)
    if ok:
        if endpoint.failing_since is not None:
            endpoints.update(failing_since=None)
            endpoint.failing_since = None
        return False
    if endpoint.failing_since is None:
        endpoints.filter(failing_since__isnull=True).update(failing_since=now)
        return False
    reason = f"Every delivery attempt failed since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC."
    disabled = endpoints.filter(is_active=True, failing_since__lte=now - DISABLE_AFTER).update(
        is_active=False, disabled_at=now, disabled_reason=reason
    )
    if disabled:
        forget_subscriptions()
        endpoint.refresh_from_db()
    return bool(disabled)


# --- after the commit: sending without holding the request --------------------------------------

_threads = set()
_threads_lock = threading.Lock()
_dispatcher = None


def set_dispatcher(dispatcher):
    """Register ``dispatcher(ids)``, called with the deliveries a commit wrote: it returns True when
    it took them (enqueued a task), False to let this process send them in a thread.
    ``AppConfig.ready()`` registers ``tasks.enqueue_webhooks``."""
    global _dispatcher
    _dispatcher = dispatcher


def enqueue(deliveries):
    """Insert ``deliveries`` and send them once the transaction commits."""
    deliveries = WebhookDelivery.objects.bulk_create(deliveries)
    send_on_commit([delivery.pk for delivery in deliveries])
    return deliveries


def send_on_commit(ids):
    """Send the deliveries ``ids`` once the transaction commits (``send_after_commit``)."""
    transaction.on_commit(lambda: send_after_commit(ids))


def send_after_commit(ids):
    """Send the deliveries ``ids`` just committed: through the dispatcher (a task when ``TASKS`` has
    workers), else in a thread of this process, so that a slow receiver holds neither a transaction
    nor the request. Whatever this does not send (the process died), ``liveness_sync`` sends once it is due."""
    if _dispatcher is not None and _dispatcher(list(ids)):
        return
    if only_one_connection_writes():  # send here, after the commit all the same
        _send_in_thread(list(ids), close=False)
        return
    # A daemon that a process waits for at its exit, for EXIT_WAIT at most (finish_at_exit): a
    # management command or a script sends what it did before it ends, and never hangs on a receiver.
    thread = threading.Thread(
        target=_send_in_thread, args=(list(ids),), name="liveness-webhooks-after-commit", daemon=True
    )
    with _threads_lock:
        _threads.add(thread)
    thread.start()


def _send_in_thread(ids, close=True):
    try:
        # From this thread itself: an exiting interpreter starts no new threads (a pool's), and the
        # deliveries of one commit are few (one per endpoint).
        send_due(ids=ids, concurrency=1)
    except Exception:
        logger.exception("Sending webhook deliveries after the commit failed; liveness_sync sends them later.")
    finally:
        if close:
            connections.close_all()  # this thread's connections only
        with _threads_lock:
            _threads.discard(threading.current_thread())


def wait_for_deliveries(timeout=10):
    """Wait until the deliveries sent after commits in this process's threads are done (for tests)."""
    deadline = time.monotonic() + timeout
    while True:
        with _threads_lock:
            threads = list(_threads)
        if not threads:
            return True
        for thread in threads:
            thread.join(max(0, deadline - time.monotonic()))
        if time.monotonic() >= deadline:
            with _threads_lock:
                return not _threads


@atexit.register
def finish_at_exit():
    """At the process's exit, wait up to EXIT_WAIT for the deliveries being sent after commits; what
    is not sent by then stays claimed until its lease ends, and ``liveness_sync`` sends it."""
    if not wait_for_deliveries(timeout=EXIT_WAIT.total_seconds()):
        logger.warning("Webhook deliveries still sending at exit after %s s; liveness_sync sends them later.", EXIT_WAIT.seconds)
