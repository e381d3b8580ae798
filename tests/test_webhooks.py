"""Signed outbound webhooks, end to end: the service layer's events reach a real receiver on
loopback, which verifies every signature with the ``standardwebhooks`` package (never with
django-liveness's own code). The address guard: test_webhooks_ssrf.py; retries, claims and
timing: test_webhooks_delivery.py; two processes on PostgreSQL: test_webhooks_workers.py."""

import json
import logging
import re

import jsonschema
import pytest
from django.db import transaction
from standardwebhooks.webhooks import Webhook

from django_liveness import services, signals, webhooks
from django_liveness.exceptions import ServiceError, WebhookURLRefused
from django_liveness.models import WebhookDelivery, WebhookEndpoint
from django_liveness.testing import ReferenceImageFactory, SubjectFactory, UserFactory, capture_signal, locmem_backend
from django_liveness.services import webhook_subscriptions
from django_liveness.services.outbox import record_webhook_event
from django_liveness.webhook_protocol import events

from .webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)  # deliveries are sent after a real commit

FORBIDDEN_KEYS = {
    "auth_token",
    "face_rectangle",
    "image",
    "result_payload",
    "digest",
    "result_digest",
    "session_image_id",
    "display_name",
}


@pytest.fixture
def receiver():
    with Receiver() as receiver:
        yield receiver


def subscribe(receiver, events=webhooks.EVENT_TYPES, **options):
    endpoint, secret = webhooks.create_endpoint(receiver.url, events=list(events), **options)
    receiver.secrets.append(secret)
    return endpoint


def keys_of(value):
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in keys_of(item)}
    if isinstance(value, list):
        return {key for item in value for key in keys_of(item)}
    return set()


def delivered_types(receiver):
    return sorted(event["type"] for event in receiver.delivered())


def test_every_event_type_reaches_the_receiver_signed_and_matching_its_schema(receiver, settings):
    settings.LIVENESS = {**settings.LIVENESS, "LOCKOUT": {"FAILURES": 1, "WINDOW_SECONDS": 900, "LOCK_SECONDS": 3600}}
    subscribe(receiver)
    locmem = locmem_backend()
    staff = UserFactory()
    subject = SubjectFactory()
    ReferenceImageFactory(subject=subject)

    verified = services.start_session(subject, verify=True)  # session.created
    locmem.complete(verified, match_confidence=0.95)
    services.refresh_session(verified)  # session.completed, liveness.verified
    spoof = services.start_session(subject, verify=False)
    locmem.complete(spoof, decision="spoofface")
    services.refresh_session(spoof)  # session.completed, liveness.failed, subject.locked
    services.review_session(spoof, reviewer=staff, decision="approved", note="It is really them.")  # session.reviewed
    services.lift_lock(subject, actor=staff)
    canceled = services.start_session(subject, verify=False)
    services.cancel_session(canceled)  # session.ended
    services.erase_subject(subject)  # subject.erased
    assert webhooks.wait_for_deliveries()

    delivered = receiver.delivered()
    assert sorted({event["type"] for event in delivered}) == sorted(webhooks.EVENT_TYPES)
    assert len(delivered) == len(receiver.requests) == 11  # 3 created, 2 completed, one of each other type
    assert len({event["id"] for event in delivered}) == 11
    for request in receiver.requests:
        event = json.loads(request["body"])
        jsonschema.validate(event, events.SCHEMAS[event["type"]], format_checker=jsonschema.FormatChecker())
        assert not keys_of(event) & FORBIDDEN_KEYS
        assert request["headers"]["webhook-id"] == event["id"]
        assert request["headers"]["Content-Type"] == "application/json"
        assert request["path"] == "/hooks/liveness"

    by_type = {event["type"]: event for event in delivered}
    assert by_type["liveness.verified"]["data"]["session"]["id"] == str(verified.pk)
    assert by_type["liveness.verified"]["data"]["session"]["match_confidence"] == 0.95
    assert by_type["liveness.failed"]["data"]["reason"] == "spoof"
    assert by_type["session.reviewed"]["data"]["decision"] == "approved"
    assert by_type["session.reviewed"]["data"]["session"]["outcome"] == "passed"
    assert by_type["session.reviewed"]["data"]["session"]["provider_outcome"] == "failed"
    assert by_type["session.ended"]["data"]["session"]["status"] == "canceled"
    assert by_type["subject.locked"]["data"]["failures"] == 1
    assert by_type["subject.erased"]["data"]["subject"] == {"id": str(subject.pk), "external_id": subject.external_id}
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}


def test_an_endpoint_receives_only_the_event_types_it_subscribes_to(receiver):
    subscribe(receiver, events=["liveness.verified"])
    locmem = locmem_backend()
    subject = SubjectFactory()
    ReferenceImageFactory(subject=subject)
    session = services.start_session(subject, verify=True)
    locmem.complete(session, match_confidence=0.9)
    services.refresh_session(session)
    assert webhooks.wait_for_deliveries()
    assert delivered_types(receiver) == ["liveness.verified"]
    assert WebhookDelivery.objects.count() == 1


def test_a_rolled_back_change_sends_nothing(receiver):
    subscribe(receiver)
    subject = SubjectFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        session = services.start_session(subject, verify=False)
        assert WebhookDelivery.objects.filter(event_type="session.created").count() == 1  # written with the change
        raise RuntimeError("rolled back")
    assert webhooks.wait_for_deliveries()
    assert receiver.requests == [] and WebhookDelivery.objects.count() == 0
    assert not webhooks.send_due()["sent"]
    del session


def test_the_payload_is_the_state_at_the_change_not_at_the_send(receiver):
    subscribe(receiver, events=["session.completed"])
    locmem = locmem_backend()
    session = services.start_session(SubjectFactory(), verify=False)
    locmem.complete(session, decision="uncertain")
    services.refresh_session(session)
    services.review_session(session, reviewer=UserFactory(), decision="rejected", note="A photo of a photo.")
    assert webhooks.wait_for_deliveries()
    [event] = receiver.delivered()
    assert event["data"]["session"]["outcome"] == "needs_review" and event["data"]["session"]["review_status"] == "pending"


def test_secret_rotation_signs_with_both_secrets_during_the_overlap(receiver, settings):
    endpoint = subscribe(receiver, events=["session.created"])
    old = receiver.secrets[0]
    new = webhooks.rotate_secret(endpoint)
    assert new != old and new.startswith("whsec_")
    receiver.secrets = [old, new]

    webhooks.send_test_event(endpoint)
    assert webhooks.wait_for_deliveries()
    [request] = receiver.requests
    assert sorted(request["verified"]) == sorted([old, new])  # either secret verifies
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=endpoint.previous_secret_expires_at.replace(year=2000)
    )
    webhooks.send_test_event(endpoint)
    assert webhooks.wait_for_deliveries()
    assert receiver.requests[1]["verified"] == [new]  # the overlap is over: only the new one signs


def test_create_endpoint_returns_the_secret_once_and_refuses_bad_input(settings):
    endpoint, secret = webhooks.create_endpoint("https://93.184.216.34/liveness", events=["liveness.verified"], description="CRM")
    assert secret.startswith("whsec_") and Webhook(secret)  # a secret the package accepts
    assert (endpoint.url, endpoint.events, endpoint.description, endpoint.is_active) == (
        "https://93.184.216.34/liveness",
        ["liveness.verified"],
        "CRM",
        True,
    )
    with pytest.raises(ServiceError, match="Unknown event type 'liveness.maybe'"):
        webhooks.create_endpoint("https://93.184.216.34/", events=["liveness.maybe"])
    with pytest.raises(ServiceError, match="at least one event type"):
        webhooks.create_endpoint("https://93.184.216.34/", events=[])
    settings.LIVENESS = {**settings.LIVENESS, "WEBHOOKS": {"ALLOW_HTTP": False}}
    with pytest.raises(WebhookURLRefused, match="https"):
        webhooks.create_endpoint("http://hooks.example.com/", events=["liveness.verified"])
    with pytest.raises(WebhookURLRefused, match="user name or password"):
        webhooks.create_endpoint("https://user:pw@hooks.example.com/", events=["liveness.verified"])


def test_no_query_for_an_event_nobody_subscribes_to(django_assert_num_queries, receiver):
    subject = SubjectFactory()
    webhook_subscriptions.subscribed_types()  # cached from now on
    with django_assert_num_queries(0):
        assert record_webhook_event("session.created", subject=subject) == []
    subscribe(receiver, events=["liveness.verified"])  # saving an endpoint forgets the cache
    assert webhook_subscriptions.subscribed_types() == ["liveness.verified"]
    with django_assert_num_queries(0):
        assert record_webhook_event("session.created", subject=subject) == []


def test_disabling_an_endpoint_stops_its_events_and_sends_the_signal(receiver):
    endpoint = subscribe(receiver)
    with capture_signal(signals.webhook_endpoint_disabled) as sent:
        webhooks.disable_endpoint(endpoint, reason="Receiver moved.")
    assert sent == [{"sender": WebhookEndpoint, "endpoint": endpoint, "reason": "Receiver moved."}]
    services.start_session(SubjectFactory(), verify=False)
    assert WebhookDelivery.objects.count() == 0 and webhook_subscriptions.subscribed_types() == []


@pytest.mark.parametrize(
    ("webhooks_setting", "message"),
    [
        ({"ALLOW_HTTP": "yes"}, "ALLOW_HTTP'\"] must be True or False"),
        ({"ALLOWED_PRIVATE_HOSTS": "127.0.0.1"}, "ALLOWED_PRIVATE_HOSTS'\"] must be a list"),
        ({"ALLOWED_PRIVATE_HOSTS": ["10.0.0.0/40"]}, "not a network"),
        ({"TIMEOUT_SECONDS": 0}, "TIMEOUT_SECONDS'\"] must be a number of seconds"),
        ({"TIMEOUT_SECONDS": 300}, "at most 60"),
        ({"RETRIES": 3}, "unknown key 'RETRIES'"),
    ],
)
def test_the_webhooks_setting_is_validated(webhooks_setting, message):
    from django_liveness.conf import validate
    from django_liveness.exceptions import LivenessConfigurationError

    with pytest.raises(LivenessConfigurationError, match=re.escape(message)):
        validate({"WEBHOOKS": webhooks_setting})
    assert validate({"WEBHOOKS": {"ALLOW_HTTP": True}})["WEBHOOKS"] == {
        "ALLOW_HTTP": True,
        "ALLOWED_PRIVATE_HOSTS": [],
        "TIMEOUT_SECONDS": 10,
    }


def test_secrets_never_reach_the_logs(receiver, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's too
    endpoint = subscribe(receiver)
    first = receiver.secrets[0]
    second = webhooks.rotate_secret(endpoint)
    receiver.answers = [500]  # a failed attempt is logged
    services.start_session(SubjectFactory(), verify=False)
    webhooks.send_test_event(endpoint)
    assert webhooks.wait_for_deliveries()
    assert len(receiver.requests) == 2 and caplog.records
    for secret in (first, second, first.removeprefix("whsec_"), second.removeprefix("whsec_")):
        assert secret not in caplog.text
