"""The lockout under real concurrency (PostgreSQL): failed results of one subject stored at once
from many threads lock it once, with one event and one signal, and no deadlock."""

import threading

import pytest
from django.db import connection

from django_liveness import services, signals
from django_liveness.models import LivenessEvent, LivenessSession
from django_liveness.testing import SubjectFactory, UserFactory, capture_signal, locmem_backend

from .api_support import API, client_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20
NO_LIMITS = dict.fromkeys(["session_create_user", "session_create_subject", "upload_user", "upload_subject", "complete_user", "complete_session"])


def test_twenty_failed_results_stored_at_once_lock_the_subject_once(settings):
    settings.LIVENESS = {
        "BACKEND": "django_liveness.backends.locmem.LocMemBackend",
        "THROTTLE_RATES": NO_LIMITS,
        "LOCKOUT": {"FAILURES": 5, "WINDOW_SECONDS": 900, "LOCK_SECONDS": 3600},
    }
    owner = UserFactory()
    subject = SubjectFactory(user=owner)
    ready = [services.start_session(subject, verify=False) for _ in range(THREADS)]
    for session in ready:
        locmem_backend().complete(session, decision="spoofface")
    barrier = threading.Barrier(THREADS)
    answers, errors = [], []

    def complete(session):
        try:
            client = client_for(owner)
            barrier.wait()
            answers.append(client.post(f"{API}/sessions/{session.pk}/complete/").status_code)
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()  # each thread had its own connection

    with capture_signal(signals.subject_locked) as locked:
        threads = [threading.Thread(target=complete, args=(session,)) for session in ready]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == [] and answers == [200] * THREADS
    assert LivenessSession.objects.filter(subject=subject, status="completed", outcome="failed").count() == THREADS
    assert LivenessEvent.objects.filter(kind="subject_locked").count() == 1
    subject.refresh_from_db()
    assert len(locked) == 1
    assert (locked[0]["subject"].pk, locked[0]["locked_until"], locked[0]["failures"]) == (
        subject.pk,
        subject.locked_until,
        5,
    )
    assert client_for(owner).post(f"{API}/sessions/", {"subject": str(subject.pk)}, format="json").status_code == 429
