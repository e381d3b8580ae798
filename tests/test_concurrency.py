"""Real concurrency on PostgreSQL: one transition and one signal, however many refreshers."""

import threading

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from django_liveness import services, signals
from django_liveness.exceptions import ConsentRequired
from django_liveness.models import Consent, LivenessEvent, LivenessSession, Subject
from django_liveness.services.base import lock_session, lock_subject
from django_liveness.testing import ReferenceImageFactory, SubjectFactory, capture_signal, locmem_backend, wait_for_after_answer

from .threads import in_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 12
LOCMEM = "django_liveness.backends.locmem.LocMemBackend"


def refresh_in_threads(session_id):
    """``services.refresh_session`` in THREADS threads at once, each on its own stale copy of the
    session (all read before any refresh); return the exceptions they raised."""
    copies = [LivenessSession.objects.get(pk=session_id) for _ in range(THREADS)]

    def refresh():
        try:
            services.refresh_session(copies.pop())
        except Exception as error:  # collected and asserted by the caller
            return error
        return None

    answers = in_threads(THREADS, refresh)
    assert len(answers) == THREADS
    return [error for error in answers if error is not None]


@pytest.mark.parametrize("delete_remote", [True, False])
def test_many_threads_refreshing_one_session_make_one_transition_and_one_signal(settings, delete_remote):
    settings.LIVENESS = {"BACKEND": LOCMEM, "DELETE_REMOTE_SESSION_ON_RESULT": delete_remote}
    subject = SubjectFactory()
    ReferenceImageFactory(subject=subject)
    session = services.start_session(subject, verify=True)
    locmem_backend().complete(session)

    with capture_signal(signals.liveness_verified) as verified, capture_signal(signals.session_completed) as completed:
        errors = refresh_in_threads(session.pk)

    assert errors == []
    assert len(verified) == 1 and verified[0]["session"].pk == session.pk
    assert len(completed) == 1
    transitions = LivenessEvent.objects.filter(session=session, kind="status_changed", to_status="completed")
    assert transitions.count() == 1
    assert LivenessEvent.objects.filter(session=session, kind="result_stored").count() == 1
    session.refresh_from_db()
    assert session.status == "completed" and session.outcome == "passed"
    wait_for_after_answer()  # the remote deletion runs after the answer, in a thread of its own
    deletions = [call for call in locmem_backend().calls if call[0] == "delete_session"]
    assert len(deletions) == (1 if delete_remote else 0)


def test_concurrent_reviews_leave_every_review_in_the_log():
    subject = SubjectFactory()
    ReferenceImageFactory(subject=subject)
    session = services.start_session(subject, verify=True)
    locmem_backend().complete(session, decision="uncertain")
    session = services.refresh_session(session)
    from django_liveness.testing import UserFactory

    reviewers = [UserFactory() for _ in range(4)]
    waiting = list(reviewers)

    def review():
        reviewer = waiting.pop()
        services.review_session(session, reviewer=reviewer, decision="approved", note=f"ok by {reviewer.pk}")
        return reviewer

    with capture_signal(signals.liveness_verified) as verified:
        assert len(in_threads(len(reviewers), review)) == len(reviewers)
    assert LivenessEvent.objects.filter(session=session, kind="reviewed").count() == 4
    assert len(verified) == 1


def test_concurrent_requests_with_one_idempotency_key_make_one_provider_session(settings):
    from rest_framework.test import APIClient

    no_limits = dict.fromkeys(["session_create_user", "session_create_subject", "upload_user", "upload_subject", "complete_user", "complete_session"])
    settings.LIVENESS = {"BACKEND": LOCMEM, "THROTTLE_RATES": no_limits}
    from django_liveness.testing import UserFactory

    owner = UserFactory()
    subject = SubjectFactory(user=owner)

    def post():
        client = APIClient()
        client.force_authenticate(owner)
        response = client.post(
            "/api/liveness/sessions/",
            {"subject": str(subject.pk), "verify": False},
            format="json",
            headers={"Idempotency-Key": "same-key"},
        )
        return response.status_code, response.json().get("id")

    answers = in_threads(THREADS, post)

    # The key is claimed before the provider call, without holding a transaction: a repeat while the
    # first request runs is told so (409), one after it replays the same session.
    assert len(answers) == THREADS
    assert {status for status, _ in answers} <= {201, 409}
    assert len({session_id for status, session_id in answers if status == 201}) == 1
    assert LivenessSession.objects.count() == 1
    assert [call[0] for call in locmem_backend().calls] == ["create_session"]


def test_results_stored_while_new_verify_sessions_start_never_deadlock(settings):
    """Completes and creates for one subject at once: one lock order for every path, so no
    DeadlockDetected and no 500 (it was 18 of 120 requests before)."""
    from rest_framework.test import APIClient

    from django_liveness.testing import UserFactory

    no_limits = dict.fromkeys(["session_create_user", "session_create_subject", "upload_user", "upload_subject", "complete_user", "complete_session"])
    settings.LIVENESS = {"BACKEND": LOCMEM, "THROTTLE_RATES": no_limits}
    owner = UserFactory()
    subject = SubjectFactory(user=owner)
    ReferenceImageFactory(subject=subject)
    ready = [services.start_session(subject, verify=True) for _ in range(60)]
    for session in ready:
        locmem_backend().complete(session)
    threads_count, rounds = 20, 3
    indexes = list(range(threads_count))
    answers = []

    def work():
        index = indexes.pop()
        try:
            client = APIClient()
            client.force_authenticate(owner)
            for round_ in range(rounds):
                session = ready[index * rounds + round_]
                answers.append(client.post(f"/api/liveness/sessions/{session.pk}/complete/").status_code)
                body = {"subject": str(subject.pk), "verify": True}
                answers.append(client.post("/api/liveness/sessions/", body, format="json").status_code)
        except Exception as error:  # collected and asserted below
            return error
        return None

    errors = [error for error in in_threads(threads_count, work) if error is not None]

    assert errors == []
    assert sorted(set(answers)) == [200, 201] and len(answers) == 2 * threads_count * rounds
    assert LivenessSession.objects.filter(pk__in=[s.pk for s in ready], status="completed").count() == 60
    assert LivenessEvent.objects.filter(kind="result_stored").count() == 60


def test_browsers_starting_on_one_capture_link_at_once_exactly_one_wins(settings):
    from urllib.parse import urlsplit

    from django.test import Client
    from rest_framework.test import APIClient

    from django_liveness.testing import UserFactory

    settings.LIVENESS = {"BACKEND": LOCMEM}
    owner = UserFactory()
    subject = SubjectFactory(user=owner)
    creator = APIClient()
    creator.force_authenticate(owner)
    created = creator.post("/api/liveness/sessions/", {"subject": str(subject.pk), "verify": False}, format="json")
    link = urlsplit(created.json()["capture_url"]).path

    def start():
        browser = Client()
        response = browser.post(link, headers={"Sec-Fetch-Site": "same-origin"})
        return response.status_code, browser.cookies.get("liveness_capture")

    answers = in_threads(THREADS, start)

    assert sorted(status for status, _cookie in answers) == [200] + [410] * (THREADS - 1)
    (winner,) = [cookie for status, cookie in answers if status == 200]
    session = LivenessSession.objects.get()
    assert session.is_capture_browser(winner.value)
    assert LivenessEvent.objects.filter(session=session, kind="capture_link_opened").count() == 1


def test_one_statement_locks_the_subject_before_the_session(settings):
    """``lock_session`` takes both rows in one statement, in the one order: while another
    transaction holds the session, the subject is already locked by the waiting one (so an erasure,
    which locks the subject first, cannot hold the subject and wait for the session meanwhile)."""
    settings.LIVENESS = {"BACKEND": LOCMEM}
    session = services.start_session(SubjectFactory(), verify=False)
    holding, waiter_done, errors = threading.Event(), threading.Event(), []

    def holder():
        try:
            with transaction.atomic():
                LivenessSession.objects.select_for_update().get(pk=session.pk)  # the session only
                holding.set()
                waiter_done.wait(10)
        finally:
            connection.close()

    def waiter():
        try:
            with transaction.atomic():
                lock_session(session)
        except Exception as error:  # asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    assert holding.wait(10)
    threads.append(threading.Thread(target=waiter))
    threads[1].start()
    subject_locked = False
    try:
        for _ in range(100):  # the waiter, blocked on the session, holds the subject already
            try:
                with transaction.atomic():
                    Subject.objects.select_for_update(nowait=True).get(pk=session.subject_id)
            except OperationalError:
                subject_locked = True
                break
            threading.Event().wait(0.05)
    finally:
        waiter_done.set()
        for thread in threads:
            thread.join(10)
    assert subject_locked and errors == []


def waiting_for_a_lock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
        return cursor.fetchone()[0]


def test_a_consent_withdrawn_while_a_create_waits_for_the_subject_counts(settings):
    """The create reads the consent after the subject's lock (in the statement that reads the
    reference image): a withdrawal committed while it waited stops it."""
    settings.LIVENESS = {"BACKEND": LOCMEM, "REQUIRE_CONSENT": True}
    subject = SubjectFactory()
    ReferenceImageFactory(subject=subject)
    services.grant_consent(subject, policy_version="1", text="I agree", purpose="verification")
    holding, release, outcome = threading.Event(), threading.Event(), []

    def withdrawer():
        try:
            with transaction.atomic():
                lock_subject(subject.pk)
                Consent.objects.filter(subject=subject).update(withdrawn_at=timezone.now())
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def starter():
        try:
            outcome.append(services.start_session(subject, verify=True))
        except Exception as error:  # asserted below
            outcome.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=withdrawer), threading.Thread(target=starter)]
    threads[0].start()
    assert holding.wait(10)
    threads[1].start()
    try:
        for _ in range(200):  # until the create waits for the subject's lock
            if waiting_for_a_lock():
                break
            threading.Event().wait(0.02)
        else:
            pytest.fail("the create never waited for the subject's lock")
    finally:
        release.set()
        for thread in threads:
            thread.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], ConsentRequired), outcome
    assert not LivenessSession.objects.filter(subject=subject).exists()
