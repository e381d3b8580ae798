"""docs/webhooks.md says what the code does: its schemas are the code's, its retry schedule is the
code's, and its two receiver examples verify and handle real deliveries."""

import importlib.util
import json
import re
import threading
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.core.wsgi import get_wsgi_application

from django_liveness import services, webhooks
from django_liveness.models import WebhookDelivery
from django_liveness.testing import ReferenceImageFactory, SubjectFactory, locmem_backend
from django_liveness.services import webhook_delivery as sending
from django_liveness.webhook_protocol.events import SCHEMAS

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGE = (DOCS / "webhooks.md").read_text()


def test_the_schema_files_are_the_code_s_schemas():
    files = {path.name.removesuffix(".json") for path in (DOCS / "webhook-schemas").glob("*.json")}
    assert files == set(SCHEMAS)
    for event_type, schema in SCHEMAS.items():
        written = json.loads((DOCS / "webhook-schemas" / f"{event_type}.json").read_text())
        assert written == schema, f"docs/webhook-schemas/{event_type}.json is out of date"
        assert f'--8<-- "docs/webhook-schemas/{event_type}.json"' in PAGE
        assert f"| `{event_type}` |" in PAGE


def _written(wait):
    seconds = int(wait.total_seconds())
    return f"{seconds // 3600} h" if seconds >= 3600 else f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"


def test_the_documented_schedule_is_the_code_s():
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|", PAGE, flags=re.MULTILINE)
    assert [int(attempt) for attempt, _ in rows] == list(range(1, sending.MAX_ATTEMPTS + 1))
    assert [wait.strip() for _, wait in rows[1:]] == [_written(wait) for wait in sending.RETRY_SCHEDULE]


def verified_and_failed_sessions():
    """A passed verify session and a spoof: liveness.verified and liveness.failed."""
    locmem = locmem_backend()
    subject = SubjectFactory(external_id="customer-4711")
    ReferenceImageFactory(subject=subject)
    passed = services.start_session(subject, verify=True)
    locmem.complete(passed, match_confidence=0.93)
    services.refresh_session(passed)
    spoof = services.start_session(subject, verify=False)
    locmem.complete(spoof, decision="spoofface")
    services.refresh_session(spoof)
    webhooks.wait_for_deliveries()


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, DOCS / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.mark.django_db(transaction=True)
def test_the_plain_python_receiver_verifies_and_handles_each_event_once(monkeypatch, capsys):
    monkeypatch.setenv("LIVENESS_WEBHOOK_SECRET", "whsec_placeholder")
    example = load_example("webhook_receiver_plain")
    server = example.ThreadingHTTPServer(("127.0.0.1", 0), example.Handler)
    try:
        url = serve(server) + "/"
        endpoint, example.SECRET = webhooks.create_endpoint(url, events=["liveness.verified", "liveness.failed"])
        verified_and_failed_sessions()
        webhooks.replay(WebhookDelivery.objects.all())  # the same ids again: dropped
        webhooks.wait_for_deliveries()
        example.SECRET = "whsec_" + "A" * 44  # a wrong secret: refused
        webhooks.send_test_event(endpoint)
        webhooks.wait_for_deliveries()
    finally:
        server.shutdown()
        server.server_close()
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["grant access to customer-4711", "revoke access of customer-4711 because spoof"]
    statuses = dict(WebhookDelivery.objects.values_list("event_type", "last_response_status"))
    assert statuses == {"liveness.verified": 204, "liveness.failed": 204, "webhook.test": 400}


@pytest.mark.django_db(transaction=True)
def test_the_django_receiver_verifies_and_handles_each_event_once(settings, monkeypatch):
    from docs.examples import webhook_receiver_django as example

    granted, revoked = [], []
    monkeypatch.setattr(example, "grant_access", granted.append)
    monkeypatch.setattr(example, "revoke_access", lambda external_id, *, reason: revoked.append((external_id, reason)))
    settings.ROOT_URLCONF = "tests.webhook_urls"
    server = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=ThreadingWSGIServer, handler_class=QuietHandler)
    try:
        url = serve(server) + "/hooks/liveness/"
        endpoint, settings.LIVENESS_WEBHOOK_SECRET = webhooks.create_endpoint(
            url, events=["liveness.verified", "liveness.failed"]
        )
        verified_and_failed_sessions()
        webhooks.replay(WebhookDelivery.objects.all())
        webhooks.wait_for_deliveries()
        settings.LIVENESS_WEBHOOK_SECRET = "whsec_" + "A" * 44
        webhooks.send_test_event(endpoint)
        webhooks.wait_for_deliveries()
    finally:
        server.shutdown()
        server.server_close()
    assert granted == ["customer-4711"] and revoked == [("customer-4711", "spoof")]
    statuses = dict(WebhookDelivery.objects.values_list("event_type", "last_response_status"))
    assert statuses == {"liveness.verified": 204, "liveness.failed": 204, "webhook.test": 400}
