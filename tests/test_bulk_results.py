"""Results in bulk: the sync stores a batch of fetched results in one transaction, with one
statement per table, and stores exactly what the same results stored one by one store."""

import contextlib
import threading
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from django_liveness import signals
from django_liveness.models import LivenessEvent, LivenessSession, Subject, WebhookDelivery
from django_liveness.services import sessions as session_service
from django_liveness.services.base import lock_subject
from django_liveness.testing import ReferenceImageFactory, SubjectFactory, capture_signal, locmem_backend, wait_for_after_answer
from django_liveness.webhook_protocol.events import EVENT_TYPES
from django_liveness.webhooks import create_endpoint

from .threads import in_threads

pytestmark = pytest.mark.django_db

SIGNALS = ("session_completed", "liveness_verified", "liveness_failed", "session_ended", "subject_locked")


@pytest.fixture
def v13(settings):
    settings.LIVENESS = {
        **settings.LIVENESS,
        "OPTIONS": {"api_version": "v1.3-preview.1"},
        "LOCKOUT": {"FAILURES": 3, "WINDOW_SECONDS": 900, "LOCK_SECONDS": 3600},
    }
    create_endpoint("https://example.com/hook", events=list(EVENT_TYPES))
    return locmem_backend()


def mixed_batch(locmem):
    """Sessions of three new subjects, played at the provider so that their results are: a verify
    pass, a spoof, failed attempts, an uncertain face, a pass the abuse monitoring flagged, an
    attempt still running, and two spoofs of a subject one failure short of its lock. Returns the
    sessions (in that order) and their fetched results."""
    person, other, nearly_locked = SubjectFactory(), SubjectFactory(), SubjectFactory()
    ReferenceImageFactory(subject=person)
    for _ in range(2):  # two counted failures, stored before the batch
        earlier = session_service.start_session(nearly_locked, verify=False)
        locmem.complete(earlier, decision="spoofface")
        session_service.refresh_session(earlier)
    plays = [
        (person, True, {}),
        (person, False, {"decision": "spoofface"}),
        (other, False, {"error_code": "FaceWithMaskDetected"}),
        (other, False, {"decision": "uncertain"}),
        (other, False, {"abuse_flagged_with": "spoof"}),  # flagged with this batch's spoof
        (other, False, {"finish": False}),
        (nearly_locked, False, {"decision": "spoofface"}),
        (nearly_locked, False, {"decision": "spoofface"}),
    ]
    started = [session_service.start_session(subject, verify=verify) for subject, verify, _play in plays]
    for session, (_subject, _verify, play) in zip(started, plays):
        if play.get("abuse_flagged_with"):
            play = {"abuse_flagged_with": [started[1]]}
        locmem.complete(session, **play)
    return started, [session_service.fetch_result(session) for session in started]


def stored(sessions, received):
    """What a user would see of ``sessions`` once stored, without ids and times: each session's
    fields, attempts, events and webhooks, its subject's state, and the signals sent."""
    labels = {session.pk: f"session {index}" for index, session in enumerate(sessions)}
    subject_labels = {}
    for session in sessions:
        subject_labels.setdefault(session.subject_id, f"subject {len(subject_labels)}")
    rows = []
    for session in LivenessSession.objects.filter(pk__in=labels).order_by("created_at"):
        rows.append(
            {
                "session": labels[session.pk],
                "fields": (
                    session.status, session.outcome, session.liveness_decision, session.is_identical,
                    session.review_status, session.abuse_detected, session.error_code, session.verified_at is not None,
                    bool(session.auth_token), session.completed_at is not None, len(session.attempts_summary or []),
                    sorted(labels.get(other, "elsewhere") for other in session.flagged_with.values_list("pk", flat=True)),
                ),
                "attempts": sorted(
                    session.attempts.values_list("status", "liveness_decision", "error_code", "abuse_detected")
                ),
                "events": sorted(
                    (event.kind, event.from_status, event.to_status)
                    for event in LivenessEvent.objects.filter(session=session)
                ),
                "webhooks": sorted(WebhookDelivery.objects.filter(payload__data__session__id=str(session.pk)).values_list("event_type", flat=True)),
            }
        )
    subjects = [
        (
            subject_labels[subject.pk],
            subject.locked_until is not None,
            subject.verified_at is not None,
            sorted(LivenessEvent.objects.filter(subject=subject, session=None).values_list("kind", flat=True)),
            WebhookDelivery.objects.filter(event_type="subject.locked", payload__data__subject__id=str(subject.pk)).count(),
        )
        for subject in Subject.objects.filter(pk__in=subject_labels).order_by("created_at")
    ]
    sent = sorted(
        (name, labels.get(getattr(call.get("session"), "pk", None), "-"), subject_labels[call["subject"].pk], call.get("failures"))
        for name, calls in received.items()
        for call in calls
        if call["subject"].pk in subject_labels
    )
    return rows, subjects, sent


def store(pairs, *, together, capture):
    """Store ``pairs`` (session, fetched) together or one by one; return the signals sent (name ->
    the calls' keyword arguments)."""
    with contextlib.ExitStack() as stack:
        received = {name: stack.enter_context(capture_signal(getattr(signals, name))) for name in SIGNALS}
        with capture(execute=True):
            if together:
                session_service.apply_fetched_many(pairs)
            else:
                for session, fetched in pairs:
                    session_service.apply_fetched(session, fetched)
    return received


def test_a_batch_stores_exactly_what_its_results_stored_one_by_one_store(v13, django_capture_on_commit_callbacks):
    one_by_one, fetched_alone = mixed_batch(v13)
    received_alone = store(list(zip(one_by_one, fetched_alone)), together=False, capture=django_capture_on_commit_callbacks)
    together, fetched_together = mixed_batch(v13)
    received_together = store(list(zip(together, fetched_together)), together=True, capture=django_capture_on_commit_callbacks)

    alone = stored(one_by_one, received_alone)
    assert stored(together, received_together) == alone
    # What the batch holds, as a user sees it:
    outcomes = [row["fields"][:2] for row in alone[0]]
    assert outcomes == [
        ("completed", "passed"),
        ("completed", "failed"),
        ("failed", ""),
        ("completed", "needs_review"),
        ("completed", "needs_review"),
        ("started", ""),
        ("completed", "failed"),
        ("completed", "failed"),
    ]
    assert alone[0][4]["fields"][5:6] == (True,) and alone[0][4]["fields"][-1] == ["session 1"]  # flagged, linked
    assert [subject[1:3] for subject in alone[1]] == [(False, True), (False, False), (True, False)]  # verified; locked
    assert alone[1][2][3] == ["subject_locked"] and alone[1][2][4] == 1  # locked once, at the batch's 1st spoof
    locks = [call for call in alone[2] if call[0] == "subject_locked"]
    assert locks == [("subject_locked", "-", "subject 2", 3)]


def batch_of(locmem, size):
    """``size`` fetched results: verify passes of one subject, liveness passes and spoofs of others."""
    person = SubjectFactory()
    ReferenceImageFactory(subject=person)
    started = []
    for index in range(size):
        verify = index % 2 == 0
        session = session_service.start_session(person if verify else SubjectFactory(), verify=verify)
        locmem.complete(session, decision="spoofface" if index % 4 == 1 else "realface")
        started.append(session)
    return [(session, session_service.fetch_result(session)) for session in started]


def test_a_batch_costs_the_same_statements_at_3_and_at_30_results(v13):
    statements = []
    for size in (3, 30):
        pairs = batch_of(v13, size)
        with CaptureQueriesContext(connection) as queries:
            applied = session_service.apply_fetched_many(pairs)
        assert {session.outcome for session in applied} == {"passed", "failed"}
        statements.append([query["sql"].split()[0] for query in queries.captured_queries])
    assert statements[0] == statements[1]
    # Lock, reference images, the lockout's count, the subjects verified, sessions, attempts,
    # events, outbox (a savepoint and its release around them: the test's transaction).
    # Read: the rows locked (PostgreSQL: one statement; elsewhere the subjects, then the sessions), the
    # reference images, the webhook subscriptions, the lockout's earlier failures. Written: the
    # subjects verified, the sessions, attempts, events, outbox rows. (Around them: the test's savepoint.)
    locks = 1 if connection.vendor == "postgresql" else 2
    assert statements[1][1:-1] == ["SELECT"] * (locks + 3) + ["UPDATE", "UPDATE", "INSERT", "INSERT", "INSERT"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batches_of_the_same_sessions_in_any_order_store_each_result_once(v13):
    """Two workers storing overlapping batches at once, in opposite orders: the rows are locked in
    the one order whatever the batch's, so neither deadlocks, and each result is stored once."""
    pairs = batch_of(v13, 12)
    with capture_signal(signals.session_completed) as completed:
        orders = [pairs, pairs[::-1]]
        answers = in_threads(2, lambda: len(session_service.apply_fetched_many(orders.pop())))
    assert answers == [12, 12]
    assert LivenessEvent.objects.filter(kind="result_stored").count() == 12
    assert sorted(call["session"].pk for call in completed) == sorted(session.pk for session, _fetched in pairs)
    wait_for_after_answer()  # the remote deletions, in this process's threads, before the tables are emptied


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_result_that_waited_for_the_lock_counts_the_failures_stored_meanwhile(settings):
    """A result is dated once its rows are locked: one that waited while another failure of its
    subject was stored counts that failure, and locks the subject when it is the last one needed."""
    settings.LIVENESS = {**settings.LIVENESS, "LOCKOUT": {"FAILURES": 2, "WINDOW_SECONDS": 900, "LOCK_SECONDS": 3600}}
    locmem = locmem_backend()
    subject = SubjectFactory()
    waiting, meanwhile = (session_service.start_session(subject, verify=False) for _ in range(2))
    for session in (waiting, meanwhile):
        locmem.complete(session, decision="spoofface")
    fetched = {session.pk: session_service.fetch_result(session) for session in (waiting, meanwhile)}

    def store_after_the_lock():
        try:
            return session_service.apply_fetched(waiting, fetched[waiting.pk]).outcome
        finally:
            connection.close()

    with capture_signal(signals.subject_locked) as locked:
        with transaction.atomic():
            lock_subject(subject.pk)  # the other result holds the subject
            answers = []
            thread = threading.Thread(target=lambda: answers.append(store_after_the_lock()))
            thread.start()
            time.sleep(0.3)  # the waiting result asks for its lock now, and waits
            session_service.apply_fetched(meanwhile, fetched[meanwhile.pk])
        thread.join()
    wait_for_after_answer()

    assert answers == ["failed"]
    subject.refresh_from_db()
    assert subject.locked_until is not None
    assert [(call["subject"].pk, call["failures"]) for call in locked] == [(subject.pk, 2)]
