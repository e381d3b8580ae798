"""Transactions that hold: retried on a lock or a deadlock (bounded, with jitter), and on a file
SQLite database at its defaults, concurrent lifecycles and the webhook threads never fail for a lock."""

import sqlite3

import pytest
from django.db import IntegrityError, OperationalError

from django_liveness.db import transactions
from django_liveness.db.transactions import ATTEMPTS_ON_CONFLICT, atomic_with_retry

from .file_sqlite import file_sqlite_site
from .webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


class PostgresDeadlock(Exception):
    sqlstate = "40P01"


def refused(cause):
    """A database error as Django raises it, with the driver's error as its cause."""
    error = OperationalError(str(cause))
    error.__cause__ = cause
    return error


@pytest.fixture
def waits(monkeypatch):
    slept = []
    monkeypatch.setattr(transactions.time, "sleep", slept.append)
    return slept


@pytest.mark.parametrize(
    "cause", [sqlite3.OperationalError("database is locked"), sqlite3.OperationalError("database table is locked"), PostgresDeadlock()]
)
def test_a_transaction_refused_for_a_lock_runs_again_after_a_short_random_wait(cause, waits):
    calls = []

    @atomic_with_retry
    def work():
        calls.append(1)
        if len(calls) < 3:
            raise refused(cause)
        return "done"

    assert work() == "done" and len(calls) == 3
    first, second = waits
    assert 0.025 <= first <= 0.075 and 0.05 <= second <= 0.15  # doubling, +-50 % jitter


def test_the_retries_are_bounded(waits):
    calls = []

    @atomic_with_retry
    def always_locked():
        calls.append(1)
        raise refused(sqlite3.OperationalError("database is locked"))

    with pytest.raises(OperationalError, match="database is locked"):
        always_locked()
    assert len(calls) == ATTEMPTS_ON_CONFLICT and len(waits) == ATTEMPTS_ON_CONFLICT - 1


def test_other_database_errors_are_not_retried(waits):
    calls = []

    @atomic_with_retry
    def conflicting():
        calls.append(1)
        raise IntegrityError("UNIQUE constraint failed")

    with pytest.raises(IntegrityError):
        conflicting()
    assert len(calls) == 1 and waits == []


# Six people verify at once in one process (threads, as a threaded server runs requests), with a
# webhook endpoint, so the after-commit sender threads write too; a seventh thread keeps reading.
LIFECYCLES = """
import threading
from django.db import connection
from django_liveness import services, privacy, webhooks
from django_liveness.images import sample_face_image
from django_liveness.models import LivenessSession, Subject
from django_liveness.testing import locmem_backend

webhooks.create_endpoint({url!r}, events=[webhooks.LIVENESS_VERIFIED])
errors, done = [], threading.Event()

def lifecycle(number):
    try:
        subject, _ = services.find_or_create_subject(external_id=f"person-{{number}}")
        privacy.grant_consent(subject, policy_version="1", text="I agree", purpose="test")
        services.add_reference_image(subject, sample_face_image())
        session = services.start_session(subject, verify=True)
        locmem_backend().complete(session)
        assert services.refresh_session(session).outcome == "passed"
    except Exception as error:
        errors.append(repr(error))
    finally:
        connection.close()

def reader():
    try:
        while not done.is_set():
            Subject.objects.count(), list(LivenessSession.objects.all()[:50])
    except Exception as error:
        errors.append(repr(error))
    finally:
        connection.close()

threads = [threading.Thread(target=lifecycle, args=(number,)) for number in range(6)]
watcher = threading.Thread(target=reader)
watcher.start()
[thread.start() for thread in threads]
[thread.join() for thread in threads]
done.set()
watcher.join()
webhooks.wait_for_deliveries()
print("errors:", errors)
"""


def test_six_lifecycles_at_once_on_a_default_file_sqlite_database(tmp_path):
    run = file_sqlite_site(tmp_path)
    with Receiver() as receiver:
        result = run("shell", "-c", LIFECYCLES.format(url=receiver.url))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == "errors: []", result.stdout
        assert "Traceback" not in result.stderr and "database is locked" not in result.stderr, result.stderr
        events = [request for request in receiver.requests if b"liveness.verified" in request["body"]]
        assert len(events) == 6
