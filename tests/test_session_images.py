"""The session image: asked for at create, fetched and stored after the result, shown to reviewers
through a logged view, retried by the sync, deleted on erasure and by the retention purge."""

import re
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from django_liveness import services
from django_liveness.conf import validate
from django_liveness.exceptions import LivenessConfigurationError, ProviderUnavailable
from django_liveness.models import LivenessEvent, LivenessSession
from django_liveness.testing import ReferenceImageFactory, SubjectFactory, UserFactory, locmem_backend

from .api_support import API, assert_private_jpeg, client_for, grant, start, upload
from .conftest import API_VERSIONS

pytestmark = pytest.mark.django_db

RANDOM_NAME = re.compile(r"^liveness/session-images/[0-9a-f]{32}\.jpg$")


def staff(*codenames):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="django_liveness", codename__in=codenames)
    )
    return user


def kinds(session):
    return list(session.events.order_by("created_at", "id").values_list("kind", flat=True))


def completed(locmem, *, verify=True, **choices):
    subject = SubjectFactory()
    ReferenceImageFactory(subject=subject)
    session = services.start_session(subject, verify=verify)
    locmem.complete(session, **choices)
    with TestCase.captureOnCommitCallbacks(execute=True):  # the image is fetched once the result commits
        services.refresh_session(session)
    return LivenessSession.objects.get(pk=session.pk)


def file_exists(session):
    return session.session_image.storage.exists(session.session_image.name)


# --- through the REST API against the emulator, both API versions --------------------------


@pytest.mark.parametrize("api_version", API_VERSIONS)
def test_the_capture_is_stored_after_complete_before_the_remote_deletion(
    azure_backend, frontend, owner, subject, django_capture_on_commit_callbacks
):
    client = client_for(grant(owner, "add_referenceimage", "add_livenesssession", "view_livenesssession"))
    assert upload(client, subject).status_code == 201
    created = start(client, subject).json()
    frontend(created["auth_token"], verify=True)

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{API}/sessions/{created['id']}/complete/").status_code == 200

    session = LivenessSession.objects.get(pk=created["id"])
    assert session.session_image_id and RANDOM_NAME.match(session.session_image.name)
    assert file_exists(session)
    with session.session_image.open("rb") as stored:
        assert stored.read(2) == b"\xff\xd8"
    assert session.remote_deleted_at is not None
    assert kinds(session)[-2:] == ["session_image_stored", "remote_deleted"]  # fetched first, then deleted
    event = session.events.get(kind="session_image_stored")
    assert event.data == {"content_type": "image/jpeg", "size": session.session_image.size}


@pytest.mark.parametrize("api_version", API_VERSIONS)
def test_a_failed_fetch_keeps_the_result_and_the_sync_fetches_the_image_later(
    azure_backend, frontend, emulator_server, owner, subject, monkeypatch, django_capture_on_commit_callbacks
):
    client = client_for(grant(owner, "add_referenceimage", "add_livenesssession", "view_livenesssession"))
    upload(client, subject)
    created = start(client, subject).json()
    frontend(created["auth_token"], verify=True)
    fetch_image = azure_backend.get_session_image

    def unavailable(session_image_id):
        # The emulator answers 503 to the image's request and to every retry of it.
        emulator_server.state.faults.configure(error_next=10, error_status=503)
        try:
            return fetch_image(session_image_id)
        finally:
            emulator_server.state.faults.reset()

    monkeypatch.setattr(azure_backend, "get_session_image", unavailable)
    with django_capture_on_commit_callbacks(execute=True):
        body = client.post(f"{API}/sessions/{created['id']}/complete/").json()

    assert (body["status"], body["outcome"]) == ("completed", "passed")  # the result is never lost
    session = LivenessSession.objects.get(pk=created["id"])
    assert session.session_image_id and not session.session_image
    assert session.remote_deleted_at is None  # kept at the provider until the image is here
    error = session.events.get(kind="remote_error")
    assert (error.data["operation"], error.data["status"]) == ("session_image", 503)

    monkeypatch.setattr(azure_backend, "get_session_image", fetch_image)
    summary = services.sync_sessions()

    assert (summary["session_images"], summary["remote_deleted"], summary["errors"]) == (1, 1, 0)
    session.refresh_from_db()
    assert file_exists(session) and session.remote_deleted_at is not None
    assert services.sync_sessions()["session_images"] == 0  # nothing left to fetch


# --- LocMemBackend ----------------------------------------------------------------------


def test_by_default_only_verify_sessions_ask_for_the_image(locmem):
    liveness = completed(locmem, verify=False)
    verify = completed(locmem, verify=True)
    asked = [kwargs["enable_session_image"] for name, kwargs in locmem.calls if name.startswith("create")]
    assert asked == [False, True]
    assert not liveness.session_image_id and not liveness.session_image
    assert file_exists(verify)


def test_every_session_when_told(settings):
    settings.LIVENESS = {**settings.LIVENESS, "STORE_SESSION_IMAGE": True}
    locmem = locmem_backend()  # built for the new settings
    session = completed(locmem, verify=False)
    assert file_exists(session) and "session_image_stored" in kinds(session)


def test_false_asks_for_and_stores_nothing(settings):
    settings.LIVENESS = {**settings.LIVENESS, "STORE_SESSION_IMAGE": False}
    locmem = locmem_backend()  # built for the new settings
    session = completed(locmem, verify=True)
    assert [kwargs.get("enable_session_image") for name, kwargs in locmem.calls if name.startswith("create")] == [False]
    assert "get_session_image" not in [name for name, _kwargs in locmem.calls]
    assert not session.session_image_id and not session.session_image
    assert session.remote_deleted_at is not None


def test_without_remote_deletion_the_image_is_still_fetched(settings):
    settings.LIVENESS = {**settings.LIVENESS, "DELETE_REMOTE_SESSION_ON_RESULT": False}
    locmem = locmem_backend()  # built for the new settings
    session = completed(locmem)
    assert file_exists(session) and session.remote_deleted_at is None


def test_a_failed_fetch_is_retried_by_the_sync_command(locmem):
    subject = SubjectFactory()
    ReferenceImageFactory(subject=subject)
    session = services.start_session(subject, verify=True)
    locmem.complete(session)
    with TestCase.captureOnCommitCallbacks() as after_commit:
        services.refresh_session(session)
    locmem.fail_next(ProviderUnavailable("The service is down.", status=503))  # the image's fetch
    for callback in after_commit:
        callback()

    session.refresh_from_db()
    assert session.status == "completed" and not session.session_image and session.remote_deleted_at is None
    assert session.events.get(kind="remote_error").data["operation"] == "session_image"

    out = StringIO()
    call_command("liveness_sync", stdout=out)
    assert "1 provider session(s) deleted, 1 session image(s) stored." in out.getvalue()
    session.refresh_from_db()
    assert file_exists(session) and session.remote_deleted_at is not None


def test_the_setting_is_validated():
    for value in ("yes", 1, None):
        with pytest.raises(LivenessConfigurationError, match="STORE_SESSION_IMAGE"):
            validate({"STORE_SESSION_IMAGE": value})


# --- the admin ----------------------------------------------------------------------------


def test_a_permitted_reviewer_sees_the_capture_and_the_view_is_logged(client, locmem):
    session = completed(locmem, decision="uncertain")
    url = reverse("admin:django_liveness_livenesssession_session_image", args=[session.pk])
    reviewer = staff("view_livenesssession", "review_livenesssession", "view_referenceimage")
    client.force_login(reviewer)

    page = client.get(reverse("admin:django_liveness_livenesssession_change", args=[session.pk])).content.decode()
    assert re.search(rf'<template><img src="{url}"', page) and "Show image (logged)" in page
    assert page.count("<svg viewBox=") == 2  # a face box on the capture and on the reference image
    queue = client.get(reverse("admin:django_liveness_livenesssession_changelist") + "?queue=yes").content.decode()
    assert f'<img class="liveness-thumbnail" src="{url}"' in queue
    assert not LivenessEvent.objects.filter(kind="session_image_viewed").exists()  # the pages fetched nothing

    response = client.get(url)
    assert_private_jpeg(response)
    viewed = LivenessEvent.objects.get(kind="session_image_viewed")
    assert (viewed.session_id, viewed.actor) == (session.pk, reviewer)


def test_the_capture_is_refused_to_others(client, locmem):
    session = completed(locmem)
    url = reverse("admin:django_liveness_livenesssession_session_image", args=[session.pk])
    client.force_login(staff("view_livenesssession"))  # may not see biometric images
    assert client.get(url).status_code == 403
    queue = client.get(reverse("admin:django_liveness_livenesssession_changelist") + "?queue=yes").content.decode()
    assert "liveness-thumbnail" not in queue
    client.force_login(staff("view_livenesssession", "view_referenceimage"))
    missing = reverse(
        "admin:django_liveness_livenesssession_session_image", args=["00000000-0000-0000-0000-000000000000"]
    )
    assert client.get(missing).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to the login page
    assert not LivenessEvent.objects.filter(kind="session_image_viewed").exists()


# --- erasure and retention ------------------------------------------------------------------


def test_erasure_deletes_the_file(locmem):
    session = completed(locmem)
    name = session.session_image.name
    with TestCase.captureOnCommitCallbacks(execute=True):
        summary = services.erase_subject(session.subject)
    assert summary["session_images"] == 1
    session.refresh_from_db()
    assert (session.session_image.name, session.session_image_id) == ("", "")
    assert not session.session_image.storage.exists(name)


def test_purge_deletes_the_image_after_session_image_days(locmem):
    session = completed(locmem)
    name = session.session_image.name
    with time_machine.travel(timezone.now() + timedelta(days=89)):
        assert services.apply_retention()["session_images"] == 0
    with time_machine.travel(timezone.now() + timedelta(days=91)):
        assert services.apply_retention(dry_run=True)["session_images"] == 1
        out = StringIO()
        with TestCase.captureOnCommitCallbacks(execute=True):
            call_command("liveness_purge", stdout=out)
        assert "1 session image(s)" in out.getvalue()
    session.refresh_from_db()
    assert not session.session_image and not session.session_image_id
    assert not session.session_image.storage.exists(name)
    assert session.outcome == "passed"  # the decision stays for the audit trail
