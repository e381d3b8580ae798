"""No subscription key, auth token or image bytes in any log line, whatever the log level.

One whole lifecycle runs with every logger at DEBUG (azure-core's HTTP logging included): consent,
upload through the API, a verify session with the real SDK against the emulator, a provider outage
and its retry, the result, the admin's image view, a refused request, erasure and purge. Then every
record is searched, message and traceback alike.
"""

import base64
import logging
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.test import APIClient

from django_liveness import services
from django_liveness.emulator.client import play_frontend
from django_liveness.images import sample_face_image
from django_liveness.testing import UserFactory

from .conftest import past_the_fetch_window

pytestmark = pytest.mark.django_db
API = "/api/liveness"
SECRET_KEY = "k-9f1d3c5e7a-not-for-logs"


@pytest.fixture
def every_log_record(caplog):
    """Capture every record at DEBUG; put the loggers' levels back afterwards."""
    touched = {name: logging.getLogger(name).level for name in ("", "azure", "django_liveness", "django")}
    for name in touched:
        logging.getLogger(name).setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield caplog
    for name, level in touched.items():
        logging.getLogger(name).setLevel(level)


def forms_of(data):
    """The ways image bytes could show up in a log line."""
    head = data[:48]
    return [head.hex(), head.hex().upper(), base64.b64encode(head).decode(), repr(head)[2:-1]]


def test_a_whole_lifecycle_logs_no_secret(emulator_server, settings, every_log_record, admin_client):
    emulator_server.state.key_override = SECRET_KEY
    settings.LIVENESS = {
        "BACKEND": "django_liveness.backends.azure.AzureFaceBackend",
        "OPTIONS": {"endpoint": emulator_server.endpoint, "key": SECRET_KEY, "retry_total": 0},
    }
    photo = sample_face_image()
    user = UserFactory()
    client = APIClient()
    client.force_authenticate(user)

    subject = client.post(f"{API}/subjects/", {}, format="json").json()["id"]
    consent = {"policy_version": "1", "text": "I agree.", "purpose": "identity verification"}
    assert client.post(f"{API}/subjects/{subject}/consent/", consent, format="json").status_code == 201
    upload = client.post(
        f"{API}/subjects/{subject}/reference-images/", {"image": SimpleUploadedFile("me.jpg", photo)}, format="multipart"
    )
    assert upload.status_code == 201
    created = client.post(f"{API}/sessions/", {"subject": subject, "verify": True}, format="json").json()
    token = created["auth_token"]
    play_frontend(emulator_server.endpoint, token, verify=True)

    emulator_server.state.faults.configure(error_next=1, error_status=503)  # a provider outage, logged
    assert client.post(f"{API}/sessions/{created['id']}/complete/").status_code == 503
    with past_the_fetch_window():
        completed = client.post(f"{API}/sessions/{created['id']}/complete/").json()
    assert completed["outcome"] == "passed"

    image_id = upload.json()["id"]
    assert admin_client.get(f"/admin/django_liveness/referenceimage/{image_id}/file/").status_code == 200
    assert client.get(f"{API}/sessions/not-a-uuid/").status_code == 404
    services.erase_subject(user.liveness_subject)
    call_command("liveness_purge", stdout=StringIO())
    emulator_server.state.key_override = None

    logged = []
    for record in every_log_record.records:
        logged.append(record.getMessage())
        if record.exc_info:
            logged.append(logging.Formatter().formatException(record.exc_info))
    text = "\n".join(logged)
    assert "Request URL" in text and "Provider error" in text  # the SDK's and our own logging ran
    assert SECRET_KEY not in text
    assert token not in text
    for form in forms_of(photo):
        assert form not in text
