"""The webhook admin: the secret shown once, rotation, disabling, test events, replays; the
deliveries read-only."""

import pytest

from django_liveness import signals, webhooks
from django_liveness.models import WebhookDelivery, WebhookEndpoint
from django_liveness.testing import capture_signal

from .webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)

ENDPOINTS = "/admin/django_liveness/webhookendpoint/"
DELIVERIES = "/admin/django_liveness/webhookdelivery/"


@pytest.fixture
def receiver():
    with Receiver() as receiver:
        yield receiver


def endpoint_for(receiver, events=("session.created",)):
    endpoint, secret = webhooks.create_endpoint(receiver.url, events=list(events), description="CRM")
    receiver.secrets.append(secret)
    return endpoint


def test_adding_an_endpoint_shows_its_secret_once(admin_client, receiver):
    form = admin_client.get(f"{ENDPOINTS}add/").content.decode()
    assert "secret" not in form.lower()

    response = admin_client.post(
        f"{ENDPOINTS}add/", {"url": receiver.url, "description": "CRM", "events": ["liveness.verified", "liveness.failed"]}
    )
    endpoint = WebhookEndpoint.objects.get()
    page = response.content.decode()
    assert response.status_code == 200 and endpoint.secret in page and "no-store" in response["Cache-Control"]
    assert (endpoint.url, endpoint.description, endpoint.events) == (
        receiver.url,
        "CRM",
        ["liveness.verified", "liveness.failed"],
    )

    change = admin_client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    assert endpoint.secret not in change and "set (not shown)" in change
    assert endpoint.secret not in admin_client.get(ENDPOINTS).content.decode()


def test_an_address_inside_the_network_is_a_form_error(admin_client):
    response = admin_client.post(f"{ENDPOINTS}add/", {"url": "https://169.254.169.254/", "events": ["liveness.verified"]})
    assert response.status_code == 200 and "inside the network" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_editing_an_endpoint_keeps_its_secret(admin_client, receiver):
    endpoint = endpoint_for(receiver)
    response = admin_client.post(
        f"{ENDPOINTS}{endpoint.pk}/change/", {"url": receiver.url + "/v2", "description": "CRM v2", "events": ["subject.erased"]}
    )
    assert response.status_code == 302
    changed = WebhookEndpoint.objects.get()
    assert (changed.url, changed.events, changed.secret) == (receiver.url + "/v2", ["subject.erased"], endpoint.secret)


def test_rotating_asks_first_then_shows_the_new_secret_once(admin_client, receiver):
    endpoint = endpoint_for(receiver)
    action = {"action": "rotate_secret", "_selected_action": [str(endpoint.pk)]}
    confirm = admin_client.post(ENDPOINTS, action)
    assert "Rotate the signing secrets?" in confirm.content.decode()
    assert WebhookEndpoint.objects.get().secret == endpoint.secret

    response = admin_client.post(ENDPOINTS, {**action, "confirmed": "yes"})
    rotated = WebhookEndpoint.objects.get()
    assert rotated.secret != endpoint.secret and rotated.previous_secret == endpoint.secret
    page = response.content.decode()
    assert rotated.secret in page and endpoint.secret not in page
    assert "also signs until" in admin_client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()


def test_disabling_and_enabling(admin_client, receiver, admin_user):
    endpoint = endpoint_for(receiver)
    with capture_signal(signals.webhook_endpoint_disabled) as sent:
        admin_client.post(ENDPOINTS, {"action": "disable_endpoints", "_selected_action": [str(endpoint.pk)]})
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_reason == f"Disabled by {admin_user}."
    assert [call["endpoint"].pk for call in sent] == [endpoint.pk]
    admin_client.post(ENDPOINTS, {"action": "enable_endpoints", "_selected_action": [str(endpoint.pk)]})
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.disabled_at is None


def test_send_a_test_event_and_replay_it(admin_client, receiver):
    endpoint = endpoint_for(receiver)
    admin_client.post(ENDPOINTS, {"action": "send_test_event", "_selected_action": [str(endpoint.pk)]})
    webhooks.wait_for_deliveries()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event_type, delivery.status, delivery.last_response_status) == ("webhook.test", "succeeded", 200)

    listing = admin_client.get(DELIVERIES, {"status__exact": "succeeded"}).content.decode()
    assert delivery.event_id in listing
    assert delivery.event_id not in admin_client.get(DELIVERIES, {"status__exact": "failed"}).content.decode()
    detail = admin_client.get(f"{DELIVERIES}{delivery.pk}/change/").content.decode()
    assert "A test event from django-liveness." in detail and endpoint.secret not in detail

    admin_client.post(DELIVERIES, {"action": "replay", "_selected_action": [str(delivery.pk)]})
    webhooks.wait_for_deliveries()
    assert [event["id"] for event in receiver.delivered()] == [delivery.event_id] * 2


def test_deliveries_are_read_only(admin_client, receiver):
    endpoint = endpoint_for(receiver)
    webhooks.send_test_event(endpoint)
    webhooks.wait_for_deliveries()
    delivery = WebhookDelivery.objects.get()
    assert admin_client.get(f"{DELIVERIES}add/").status_code == 403
    admin_client.post(f"{DELIVERIES}{delivery.pk}/change/", {"status": "failed", "attempts": 9})
    assert WebhookDelivery.objects.filter(pk=delivery.pk, status="succeeded", attempts=1).exists()


def test_the_old_webhook_admin_path_still_works_for_a_release_and_warns():
    """django_liveness.webhooks.admin moved to django_liveness.admin.webhooks: the old path re-exports
    the same classes, with a DeprecationWarning."""
    import importlib
    import sys

    from django_liveness.admin import webhooks as moved

    sys.modules.pop("django_liveness.webhooks.admin", None)
    with pytest.warns(DeprecationWarning, match="django_liveness.admin.webhooks"):
        old = importlib.import_module("django_liveness.webhooks.admin")
    assert old.WebhookEndpointAdmin is moved.WebhookEndpointAdmin
    assert old.WebhookDeliveryAdmin is moved.WebhookDeliveryAdmin
