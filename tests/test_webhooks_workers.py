"""Webhooks on PostgreSQL: several sender processes at once, the after-commit thread, and the
queries an event costs when an endpoint subscribes to it."""

import collections
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from django_liveness import services, webhooks
from django_liveness.models import WebhookDelivery
from django_liveness.testing import SubjectFactory, UserFactory, locmem_backend, wait_for_after_answer
from django_liveness.services import webhook_delivery as sending
from django_liveness.services import webhook_subscriptions

from .webhook_receiver import Receiver

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent


def test_two_sync_processes_at_once_deliver_each_event_once(monkeypatch):
    monkeypatch.setattr(sending, "send_after_commit", lambda ids: None)  # left for the commands
    # One process sends 4 at a time: the receiver answers once 5 wait, so both are at work (on a
    # busy machine one may start seconds after the other), then 5 s of work for one process.
    with Receiver(delay=0.1, gate=sending.CONCURRENCY + 1) as receiver:
        _endpoint, secret = webhooks.create_endpoint(receiver.url, events=["session.created"])
        receiver.secrets.append(secret)
        subject = SubjectFactory()
        for _ in range(200):
            services.start_session(subject, verify=False)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "LIVENESS_TEST_DB": "postgres",
            "LIVENESS_TEST_DB_NAME": connection.settings_dict["NAME"],
            "PYTHONPATH": str(ROOT),
        }
        commands = [["liveness_sync", "--here", "--skip-orphans"], ["liveness_webhooks", "--here"]]  # cron on two hosts
        processes = [
            subprocess.Popen([sys.executable, "-m", "django", *command], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
            for command in commands
        ]
        outputs = [process.communicate(timeout=120)[0] for process in processes]
        assert [process.returncode for process in processes] == [0, 0]
        accepted = collections.Counter(event["id"] for event in receiver.delivered())

    sent = [int(re.search(r"Webhooks: (\d+) delivered", output).group(1)) for output in outputs]
    assert sum(sent) == 200 and min(sent) > 0, sent  # both worked, and together sent everything
    assert len(accepted) == 200 and set(accepted.values()) == {1}  # each event once, none twice
    assert len(receiver.requests) == 200
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("succeeded", 1)}


def test_a_slow_receiver_holds_neither_a_transaction_nor_the_request(settings):
    settings.LIVENESS = {**settings.LIVENESS, "THROTTLE_RATES": dict.fromkeys(settings.LIVENESS.get("THROTTLE_RATES", {}) or [])}
    user = UserFactory(password="pw")
    subject = SubjectFactory(user=user)
    client = APIClient()
    client.login(username=user.username, password="pw")
    with Receiver(delay=2) as receiver:
        _endpoint, secret = webhooks.create_endpoint(receiver.url, events=["session.completed"])
        receiver.secrets.append(secret)
        created = client.post("/api/liveness/sessions/", {"subject": str(subject.pk), "verify": False}, format="json")
        locmem_backend().complete(_session(created))
        started = time.monotonic()
        response = client.post(f"/api/liveness/sessions/{created.json()['id']}/complete/")
        answered = time.monotonic() - started
        assert response.status_code == 200 and response.json()["outcome"] == "passed"
        assert answered < 1, answered  # the receiver takes 2 s: the answer did not wait for it

        receiver.wait_for(1, timeout=5)  # the receiver has the request and is sleeping on it
        # The work after the answer (the remote deletion, its short transaction) is done: the only
        # connection left that could be in a transaction is the delivery's.
        wait_for_after_answer()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchone()[0] == 0
        assert webhooks.wait_for_deliveries(timeout=10)
        [event] = receiver.delivered()
    assert event["type"] == "session.completed"
    assert WebhookDelivery.objects.get().status == "succeeded"


def _session(response):
    from django_liveness.models import LivenessSession

    return LivenessSession.objects.get(pk=response.json()["id"])


def test_an_event_costs_two_queries_when_an_endpoint_subscribes(monkeypatch):
    monkeypatch.setattr(sending, "send_after_commit", lambda ids: None)
    subject = SubjectFactory()
    services.start_session(subject, verify=False)  # the first stores the subject's device id: not measured
    webhook_subscriptions.subscribed_types()
    with CaptureQueriesContext(connection) as without:
        services.start_session(subject, verify=False)
    webhooks.create_endpoint("https://93.184.216.34/liveness", events=["session.created"])  # never called
    webhook_subscriptions.subscribed_types()
    with CaptureQueriesContext(connection) as with_endpoint:
        services.start_session(subject, verify=False)
    added = [q["sql"] for q in with_endpoint.captured_queries if "webhook" in q["sql"]]
    assert len(with_endpoint.captured_queries) - len(without.captured_queries) == len(added) == 2, added
    assert 'FROM "django_liveness_webhookendpoint"' in added[0]  # which active endpoints subscribe
    assert added[1].startswith('INSERT INTO "django_liveness_webhookdelivery"')  # the outbox row


def test_the_after_commit_thread_closes_its_connection():
    with Receiver() as receiver:
        _endpoint, secret = webhooks.create_endpoint(receiver.url, events=["session.created"])
        receiver.secrets.append(secret)
        before = threading.active_count()
        services.start_session(SubjectFactory(), verify=False)
        assert webhooks.wait_for_deliveries()
        assert len(receiver.delivered()) == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        assert cursor.fetchone()[0] == 0
    assert threading.active_count() <= before
