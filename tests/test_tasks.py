"""Background work on Django's Tasks framework: the immediate backend (the default) and the
database backend with its worker. RQ workers on Redis: test_sync_workers.py."""

from io import StringIO

import pytest
from django.core.management import call_command

from django_liveness import services, webhooks
from django_liveness.models import LivenessSession, WebhookDelivery
from django_liveness.testing import SubjectFactory, locmem_backend

from .api_support import API, client_for
from .webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)  # the database worker reads committed task rows

DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def completed_at_the_provider(locmem, count=1):
    subject = SubjectFactory()
    sessions = [services.start_session(subject, verify=False) for _ in range(count)]
    for session in sessions:
        locmem.complete(session)
    return sessions


def test_complete_in_background_with_the_immediate_backend_answers_the_result(owner, settings):
    settings.LIVENESS = {**settings.LIVENESS, "COMPLETE_IN_BACKGROUND": True}
    locmem = locmem_backend()
    subject = SubjectFactory(user=owner)
    session = services.start_session(subject, verify=False)
    locmem.complete(session)
    response = client_for(owner).post(f"{API}/sessions/{session.pk}/complete/")
    assert response.status_code == 200 and response.json()["outcome"] == "passed"


def test_complete_in_background_with_a_worker_answers_202_then_the_worker_stores_it(owner, settings):
    settings.LIVENESS = {**settings.LIVENESS, "COMPLETE_IN_BACKGROUND": True}
    settings.TASKS = DATABASE_TASKS
    locmem = locmem_backend()
    subject = SubjectFactory(user=owner)
    session = services.start_session(subject, verify=False)
    locmem.complete(session)

    response = client_for(owner).post(f"{API}/sessions/{session.pk}/complete/")
    assert response.status_code == 202 and response.json()["status"] == "created"
    assert [operation for operation, _ in locmem.calls] == ["create_session"]  # no provider call in the request

    call_command("db_worker", "--batch", stdout=StringIO(), stderr=StringIO())
    session.refresh_from_db()
    assert (session.status, session.outcome) == ("completed", "passed")


def test_liveness_sync_enqueues_one_task_per_batch_for_the_workers(settings):
    settings.LIVENESS = {**settings.LIVENESS, "SYNC": {"BATCH_SIZE": 2}}
    settings.TASKS = DATABASE_TASKS
    sessions = completed_at_the_provider(locmem_backend(), count=5)
    out = StringIO()
    call_command("liveness_sync", "--skip-orphans", stdout=out)
    assert "Enqueued 3 sync task(s) and the webhook deliveries for the workers." in out.getvalue()
    assert set(LivenessSession.objects.values_list("status", flat=True)) == {"created"}

    call_command("db_worker", "--batch", stdout=StringIO(), stderr=StringIO())
    assert set(LivenessSession.objects.filter(pk__in=[s.pk for s in sessions]).values_list("status", flat=True)) == {
        "completed"
    }


def test_liveness_sync_runs_here_with_the_immediate_backend_or_when_told(settings, locmem):
    completed_at_the_provider(locmem, count=2)
    out = StringIO()
    call_command("liveness_sync", "--skip-orphans", stdout=out)
    assert "Refreshed 2 open session(s), 2 changed" in out.getvalue()

    settings.TASKS = DATABASE_TASKS
    out = StringIO()
    call_command("liveness_sync", "--skip-orphans", "--here", stdout=out)
    assert "Refreshed 0 open session(s)" in out.getvalue()


def test_with_a_worker_a_commit_enqueues_its_webhook_deliveries_and_the_worker_sends_them(settings):
    """The dispatcher AppConfig.ready() registers: the request's process sends nothing itself."""
    settings.TASKS = DATABASE_TASKS
    with Receiver() as receiver:
        _endpoint, secret = webhooks.create_endpoint(receiver.url, events=[webhooks.SESSION_CREATED])
        receiver.secrets.append(secret)
        session = services.start_session(SubjectFactory(), verify=False)
        assert webhooks.wait_for_deliveries(timeout=5)
        (delivery,) = WebhookDelivery.objects.all()
        assert (delivery.status, delivery.attempts, receiver.delivered()) == ("pending", 0, [])

        call_command("db_worker", "--batch", stdout=StringIO(), stderr=StringIO())
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("succeeded", 1)
        (event,) = receiver.delivered()
    assert (event["type"], event["data"]["session"]["id"]) == ("session.created", str(session.pk))


def test_with_the_immediate_backend_a_commit_sends_its_webhook_deliveries_itself():
    with Receiver() as receiver:
        _endpoint, secret = webhooks.create_endpoint(receiver.url, events=[webhooks.SESSION_CREATED])
        receiver.secrets.append(secret)
        services.start_session(SubjectFactory(), verify=False)
        assert webhooks.wait_for_deliveries(timeout=5)
        assert WebhookDelivery.objects.get().status == "succeeded"
        assert [event["type"] for event in receiver.delivered()] == ["session.created"]
