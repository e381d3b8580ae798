"""The shared sync: claims with a lease, provider calls in parallel but bounded, a 429 that holds
the whole process back. Several processes on PostgreSQL: test_sync_workers.py."""

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from django_liveness import services
from django_liveness.exceptions import Throttled
from django_liveness.models import LivenessSession
from django_liveness.services import sync
from django_liveness.testing import SubjectFactory, locmem_backend

pytestmark = pytest.mark.django_db


def open_sessions(count):
    subject = SubjectFactory()
    return [services.start_session(subject, verify=False) for _ in range(count)]


def test_a_claim_holds_its_sessions_until_its_lease_ends(locmem):
    sessions = open_sessions(5)
    first = sync.claim_open_sessions(limit=3, lease_seconds=60)
    second = sync.claim_open_sessions(limit=10, lease_seconds=60)
    assert [s.pk for s in first] == [s.pk for s in sessions[:3]]  # oldest first
    assert [s.pk for s in second] == [s.pk for s in sessions[3:]]  # not the ones held
    assert sync.claim_open_sessions(limit=10, lease_seconds=60) == []
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):  # the holder died: its lease ran out
        assert len(sync.claim_open_sessions(limit=10, lease_seconds=60)) == 5


def test_sync_fetches_in_parallel_within_the_bound_and_releases_its_claims(settings, monkeypatch):
    settings.LIVENESS = {**settings.LIVENESS, "SYNC": {"CONCURRENCY": 3, "BATCH_SIZE": 4}}
    locmem = locmem_backend()  # the backend of these settings
    sessions = open_sessions(10)
    for session in sessions:
        locmem.complete(session)
    in_flight, most = [0], [0]
    lock = threading.Lock()
    get_result = locmem.get_result

    def slow_get_result(session_id, *, verify):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.05)
        with lock:
            in_flight[0] -= 1
        return get_result(session_id, verify=verify)

    monkeypatch.setattr(locmem, "get_result", slow_get_result)
    summary = services.sync_sessions()

    assert summary == {"refreshed": 10, "changed": 10, "errors": 0, "remote_deleted": 10, "session_images": 0}
    assert most[0] == 3  # parallel, and never more than CONCURRENCY
    assert set(LivenessSession.objects.values_list("status", "sync_lease_until")) == {("completed", None)}
    deleted = [kwargs["session_id"] for operation, kwargs in locmem.calls if operation == "delete_session"]
    assert sorted(deleted) == sorted(s.provider_session_id for s in sessions)


def test_a_429_holds_every_later_call_back_for_its_retry_after():
    gate = sync.ProviderGate()
    started = []

    def call(session):
        started.append(time.monotonic())
        if len(started) == 1:
            raise Throttled("slow down", retry_after=1)
        return "ok"

    first = gate.call(call, None)
    assert isinstance(first, Throttled)
    assert gate.call(call, None) == "ok"
    assert started[1] - started[0] >= 0.9  # the second call waited for the Retry-After


def test_a_throttled_session_stays_open_and_is_counted_as_an_error(locmem):
    (session,) = open_sessions(1)
    locmem.complete(session)
    locmem.fail_next(Throttled("slow down", retry_after=0))
    assert services.sync_sessions()["errors"] == 1
    session.refresh_from_db()
    assert (session.status, session.sync_lease_until) == ("created", None)
    assert services.sync_sessions()["changed"] == 1


@pytest.mark.django_db(transaction=True)  # results committed, as in a real run: their on-commit work runs at once
def test_a_session_is_deleted_at_the_provider_while_the_batch_s_other_fetches_go_on(settings, monkeypatch):
    """Each session's next provider call starts as soon as its result is stored: the first result's
    remote deletion does not wait for the batch's slowest fetch."""
    settings.LIVENESS = {**settings.LIVENESS, "SYNC": {"CONCURRENCY": 2, "BATCH_SIZE": 10}}
    locmem = locmem_backend()
    quick, slow = open_sessions(2)
    for session in (quick, slow):
        locmem.complete(session)
    deleted = threading.Event()
    get_result, delete_session = locmem.get_result, locmem.delete_session

    def get_result_waiting_for_a_deletion(session_id, *, verify):
        if session_id == slow.provider_session_id:
            deleted.wait(timeout=5)  # without the deletion meanwhile: 5 s, and the assertion below fails
        return get_result(session_id, verify=verify)

    def delete_and_tell(session_id, *, verify):
        delete_session(session_id, verify=verify)
        deleted.set()

    monkeypatch.setattr(locmem, "get_result", get_result_waiting_for_a_deletion)
    monkeypatch.setattr(locmem, "delete_session", delete_and_tell)
    started = time.monotonic()
    summary = services.sync_sessions()

    assert time.monotonic() - started < 4
    assert (summary["refreshed"], summary["remote_deleted"]) == (2, 2)
