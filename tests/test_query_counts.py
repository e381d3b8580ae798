"""Lean requests: the queries of the REST API's everyday calls, authentication (a token, as a
mobile app sends: one statement) and permissions included, at 100 and at 50,000 sessions in the
table (PostgreSQL).

Targets: retrieve <= 3, list <= 4 (issue "scale out"; 2 and 3 with a token); create <= 8 and complete <= 8 (issue 26),
all flat in the table's size. docs/performance.md says what each statement is for. The session
image's fetch and the remote deletion run after the answer (issue 26), on another connection, and
are not counted. The create measured is the subject's first, which stores its device correlation
id (one UPDATE; later creates take 7); a failed result adds one count for the lockout (this one
passes). BEGIN/COMMIT are not counted (the database adds them). A session cookie instead of the
token costs one statement more (the session row, then the user).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from django_liveness.api.views import SessionViewSet
from django_liveness.models import LivenessSession, Subject, WebhookDelivery, WebhookEndpoint
from django_liveness.testing import ReferenceImageFactory, SubjectFactory, UserFactory, locmem_backend
from django_liveness.services import webhook_subscriptions
from django_liveness.webhook_protocol import signing

from .webhook_receiver import Receiver

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NO_LIMITS = dict.fromkeys(["session_create_user", "session_create_subject", "upload_user", "upload_subject", "complete_user", "complete_session"])
# create, 8: the token's user; the subject (the view's permission check); the subject locked, its
# consent in the same statement; the active reference image; the subject's first device id; the
# session's row; after the provider's answer, its id and token (one conditional UPDATE: the row
# only while open); the session_created event.
# complete, 8 (17 before issue 26): the token's user; the session; the claim of the fetch (a
# conditional UPDATE of last_fetch_at: one provider call per COMPLETE_MIN_INTERVAL_SECONDS however
# many complete/ come in, from however many processes); the subject and the session locked in one
# statement (FOR NO KEY UPDATE OF subject, session: that order); the subject's verified_at; the
# attempts; the session; its events (status_changed, result_stored) in one INSERT.
# A list filtered by the outcome that counts (after review) is one WHERE more, not a query more.
TARGETS = {"create": 8, "complete": 8, "retrieve": 2, "list": 3, "list by outcome": 3}


def other_peoples_sessions(count):
    subjects = Subject.objects.bulk_create([Subject(external_id=f"bulk-{n}") for n in range(max(1, count // 10))])
    LivenessSession.objects.bulk_create(
        [LivenessSession(subject=subjects[n % len(subjects)], kind="liveness", operation_mode="Passive") for n in range(count)],
        batch_size=5000,
    )


def statements(call):
    with CaptureQueriesContext(connection) as queries:
        response = call()
    assert response.status_code in (200, 201), response.content
    return response, [q["sql"] for q in queries.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]


@pytest.mark.parametrize("rows", [100, 50_000])
def test_everyday_calls_make_the_same_few_queries_at_any_table_size(settings, monkeypatch, rows):
    monkeypatch.setattr(SessionViewSet, "authentication_classes", [TokenAuthentication])
    settings.LIVENESS = {"BACKEND": "django_liveness.backends.locmem.LocMemBackend", "THROTTLE_RATES": NO_LIMITS}
    other_peoples_sessions(rows)
    user = UserFactory(password="pw")
    subject = SubjectFactory(user=user)
    ReferenceImageFactory(subject=subject, face_rectangle={"top": 200, "left": 120, "width": 240, "height": 240}, quality_for_recognition="high")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    client.get("/api/liveness/sessions/")  # the user's permissions are cached from the first request on
    webhook_subscriptions.subscribed_types()  # so are the event types webhook endpoints subscribe to (none here: no query per event)

    created, create = statements(lambda: client.post("/api/liveness/sessions/", {"subject": str(subject.pk), "verify": True}, format="json"))
    session_id = created.json()["id"]
    locmem_backend().complete(LivenessSession.objects.get(pk=session_id))
    _, complete = statements(lambda: client.post(f"/api/liveness/sessions/{session_id}/complete/"))
    retrieved, retrieve = statements(lambda: client.get(f"/api/liveness/sessions/{session_id}/"))
    listed, list_ = statements(lambda: client.get("/api/liveness/sessions/"))
    passed, list_by_outcome = statements(lambda: client.get("/api/liveness/sessions/?outcome=passed"))

    assert retrieved.json()["attempts"][0]["attempt_status"] == "succeeded" and listed.json()["count"] == 1
    assert [row["id"] for row in passed.json()["results"]] == [session_id]
    counts = {
        "create": len(create),
        "complete": len(complete),
        "retrieve": len(retrieve),
        "list": len(list_),
        "list by outcome": len(list_by_outcome),
    }
    assert counts == TARGETS, (counts, create, complete)


def test_a_result_writes_its_webhook_deliveries_in_one_statement(settings, monkeypatch):
    """With endpoints subscribed to both events a passed verify sends (session.completed,
    liveness.verified), complete reads the endpoints once and writes every delivery in one INSERT:
    2 statements more than without webhooks, whatever the number of events and endpoints."""
    monkeypatch.setattr(SessionViewSet, "authentication_classes", [TokenAuthentication])
    settings.LIVENESS = {
        "BACKEND": "django_liveness.backends.locmem.LocMemBackend",
        "THROTTLE_RATES": NO_LIMITS,
        "WEBHOOKS": {"ALLOW_HTTP": True, "ALLOWED_PRIVATE_HOSTS": ["127.0.0.1"]},
    }
    user = UserFactory()
    subject = SubjectFactory(user=user)
    ReferenceImageFactory(subject=subject, face_rectangle={"top": 200, "left": 120, "width": 240, "height": 240}, quality_for_recognition="high")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    with Receiver() as receiver:
        for _ in range(2):
            WebhookEndpoint.objects.create(url=receiver.url, events=["session.completed", "liveness.verified"], secret=signing.new_secret())
        client.get("/api/liveness/sessions/")
        webhook_subscriptions.subscribed_types()
        session_id = client.post("/api/liveness/sessions/", {"subject": str(subject.pk), "verify": True}, format="json").json()["id"]
        locmem_backend().complete(LivenessSession.objects.get(pk=session_id))

        answer, complete = statements(lambda: client.post(f"/api/liveness/sessions/{session_id}/complete/"))
        receiver.wait_for(4)

    assert answer.json()["outcome"] == "passed"
    assert len(complete) == TARGETS["complete"] + 2, complete
    deliveries = WebhookDelivery.objects.filter(payload__data__session__id=session_id).order_by("pk")
    assert sorted(deliveries.values_list("event_type", flat=True)) == ["liveness.verified"] * 2 + ["session.completed"] * 2
    assert [delivery.event_type for delivery in deliveries][:2] == ["session.completed"] * 2  # in the order emitted
    assert len(receiver.requests) == 4
