"""Sending webhook deliveries: retries on the schedule, what stops them, endpoints disabled after
days of failures, replays, the commands and task workers that send what is due. Every receiver
is real (tests/webhook_receiver.py) and verifies signatures with the ``standardwebhooks`` package."""

import collections
import socket
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from django_liveness import services, signals, webhooks
from django_liveness.models import WebhookDelivery, WebhookEndpoint
from django_liveness.testing import SubjectFactory, capture_signal
from django_liveness.services import webhook_delivery as sending
from django_liveness.webhook_protocol import transport

from .webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


def subscribe(url, receiver=None, events=("session.created",)):
    endpoint, secret = webhooks.create_endpoint(url, events=list(events))
    if receiver is not None:
        receiver.secrets.append(secret)
    return endpoint


def events_happen(count=1):
    subject = SubjectFactory()
    for _ in range(count):
        services.start_session(subject, verify=False)  # one session.created each
    webhooks.wait_for_deliveries()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def later(**delta):
    return time_machine.travel(timezone.now() + timedelta(**delta), tick=True)


def test_the_schedule_retries_for_about_three_days_with_jitter():
    total = sum(sending.RETRY_SCHEDULE, timedelta())
    assert timedelta(days=3) <= total <= timedelta(days=3, hours=6) and sending.MAX_ATTEMPTS == 12
    for attempts, base in enumerate(sending.RETRY_SCHEDULE, start=1):
        wait = sending.next_wait(attempts)
        assert base * 0.8 <= wait <= base * 1.2
    assert sending.next_wait(sending.MAX_ATTEMPTS) is None
    assert sending.next_wait(1, retry_after=600) == timedelta(seconds=600)  # Retry-After beyond the schedule wins
    assert sending.next_wait(1, retry_after=10 * 86400) <= timedelta(hours=24) * 1.2


def test_a_receiver_down_for_several_attempts_gets_each_event_exactly_once():
    port = free_port()
    endpoint = subscribe(f"http://127.0.0.1:{port}/hooks/liveness")
    events_happen(3)  # nothing listens: connection refused
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("pending", 1)}
    with later(minutes=2):
        assert webhooks.send_due() == {"sent": 0, "retrying": 3, "failed": 0}  # still down
    with Receiver(answers=[503, 503, 503], port=port) as receiver:  # up, but failing: 3 answers of 503
        receiver.secrets.append(endpoint.secret)
        with later(minutes=10):
            assert webhooks.send_due() == {"sent": 0, "retrying": 3, "failed": 0}
        with later(hours=1):
            assert webhooks.send_due() == {"sent": 3, "retrying": 0, "failed": 0}
        with later(days=4):
            assert webhooks.send_due() == {"sent": 0, "retrying": 0, "failed": 0}  # nothing sent twice
        accepted = collections.Counter(event["id"] for event in receiver.delivered())
    assert sorted(accepted.values()) == [1, 1, 1]
    assert set(accepted) == set(WebhookDelivery.objects.values_list("event_id", flat=True))
    assert set(WebhookDelivery.objects.values_list("status", "attempts", "last_response_status")) == {("succeeded", 4, 200)}
    assert WebhookEndpoint.objects.get().failing_since is None


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (400, "failed"),
        (401, "failed"),
        (404, "failed"),
        (410, "failed"),
        (408, "pending"),
        (429, "pending"),
        (500, "pending"),
        (503, "pending"),
    ],
)
def test_what_is_tried_again(status, outcome):
    with Receiver(answers=[status]) as receiver:
        subscribe(receiver.url, receiver)
        events_happen()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_response_status) == (outcome, 1, status)


def test_retry_after_is_honoured():
    with Receiver(answers=[429], headers={"Retry-After": "7200"}) as receiver:
        subscribe(receiver.url, receiver)
        events_happen()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.next_attempt_at - delivery.last_attempt_at >= timedelta(seconds=7200)


def test_a_timeout_is_tried_again_and_the_answer_is_read_up_to_a_cap(settings):
    settings.LIVENESS = {**settings.LIVENESS, "WEBHOOKS": {**settings.LIVENESS["WEBHOOKS"], "TIMEOUT_SECONDS": 0.3}}
    with Receiver(delay=1) as receiver:
        subscribe(receiver.url, receiver)
        events_happen()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_response_status) == ("pending", None) and "Timeout" in delivery.last_error
    assert 250 <= delivery.last_duration_ms < 1000

    with Receiver(body=b"x" * 5_000_000) as receiver:  # 5 MB answer
        WebhookEndpoint.objects.update(url=receiver.url)
        receiver.secrets.append(WebhookEndpoint.objects.get().secret)
        with later(minutes=1):
            assert webhooks.send_due()["sent"] == 1
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and len(delivery.last_response_body) == transport.RESPONSE_KEEP


def test_an_endpoint_failing_for_days_is_disabled_and_staff_are_told(admin_client):
    with Receiver(answers=[500] * 20) as receiver:
        endpoint = subscribe(receiver.url, receiver)
        events_happen()
        with later(days=1):
            webhooks.send_due()
        assert WebhookEndpoint.objects.get().is_active
        with capture_signal(signals.webhook_endpoint_disabled) as sent, later(days=3, minutes=1):
            webhooks.send_due()
            events_happen()  # nobody subscribes any more: no delivery
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_at is not None
    assert sent == [{"sender": WebhookEndpoint, "endpoint": endpoint, "reason": endpoint.disabled_reason}]
    assert endpoint.disabled_reason.startswith("Every delivery attempt failed since")
    assert WebhookDelivery.objects.count() == 1 and WebhookDelivery.objects.get().status == "pending"

    page = admin_client.get("/admin/django_liveness/webhookendpoint/")
    assert "is disabled: Every delivery attempt failed since" in page.content.decode()

    with Receiver() as receiver:  # fixed: staff enable it, and what waited is sent
        WebhookEndpoint.objects.update(url=receiver.url)
        receiver.secrets.append(endpoint.secret)
        webhooks.enable_endpoint(endpoint)
        webhooks.wait_for_deliveries()
        assert len(receiver.delivered()) == 1
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_replay_sends_again_with_the_same_event_id():
    with Receiver() as receiver:
        subscribe(receiver.url, receiver)
        events_happen()
        assert webhooks.replay(WebhookDelivery.objects.all()) == 1
        webhooks.wait_for_deliveries()
        first, second = receiver.delivered()
    assert first == second  # the same event, same id: a receiver that has it drops it
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)


def test_the_commands_send_what_is_due(monkeypatch):
    monkeypatch.setattr(sending, "send_after_commit", lambda ids: None)  # the process died after the commit
    with Receiver() as receiver:
        subscribe(receiver.url, receiver)
        events_happen(2)
        assert receiver.requests == []
        out = StringIO()
        call_command("liveness_webhooks", stdout=out)
        assert out.getvalue() == "Webhooks: 2 delivered, 0 to be tried again, 0 given up.\n"
        events_happen(1)
        out = StringIO()
        call_command("liveness_sync", "--skip-orphans", stdout=out)
        assert "Webhooks: 1 delivered, 0 to be tried again, 0 given up." in out.getvalue()
        assert len(receiver.delivered()) == 3


def test_with_task_workers_the_commit_enqueues_and_a_worker_sends(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    with Receiver() as receiver:
        subscribe(receiver.url, receiver)
        events_happen()
        assert receiver.requests == []  # nothing sent by the process that made the change
        call_command("db_worker", "--batch", stdout=StringIO(), stderr=StringIO())
        assert len(receiver.delivered()) == 1
        out = StringIO()
        call_command("liveness_webhooks", stdout=out)
        assert out.getvalue() == "Enqueued the webhook deliveries for the workers.\n"


def test_a_claimed_delivery_is_not_sent_by_another_sender():
    port = free_port()
    subscribe(f"http://127.0.0.1:{port}/hooks")
    events_happen()  # refused: pending
    with later(minutes=2):
        claimed = sending.claim(limit=10)
        assert len(claimed) == 1
        assert sending.claim(limit=10) == []  # held by the first claim
        assert webhooks.send_due() == {"sent": 0, "retrying": 0, "failed": 0}
    with later(minutes=10):  # the claim ran out (its sender died): another takes it
        assert len(sending.claim(limit=10)) == 1


def test_a_send_test_event_reaches_an_endpoint_whatever_it_subscribes_to():
    with Receiver() as receiver:
        endpoint = subscribe(receiver.url, receiver, events=["subject.erased"])
        webhooks.send_test_event(endpoint)
        webhooks.wait_for_deliveries()
        [event] = receiver.delivered()
    assert event["type"] == "webhook.test" and event["data"]["endpoint_id"] == str(endpoint.pk)


def test_liveness_purge_deletes_old_deliveries_that_are_done_and_keeps_pending_ones():
    with Receiver(answers=[200, 500]) as receiver:
        subscribe(receiver.url, receiver)
        events_happen(2)  # one delivered, one to be tried again
    assert sorted(WebhookDelivery.objects.values_list("status", flat=True)) == ["pending", "succeeded"]
    out = StringIO()
    with later(days=29):
        call_command("liveness_purge", stdout=out)
    assert "0 old webhook delivery(ies) deleted" in out.getvalue()
    out = StringIO()
    with later(days=31):
        call_command("liveness_purge", stdout=out)
    assert "1 old webhook delivery(ies) deleted" in out.getvalue()
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["pending"]
