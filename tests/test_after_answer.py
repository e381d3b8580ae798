"""The answer first, the rest after it: complete/ answers once the result is stored; the session
image's fetch and the remote deletion run afterwards (a task with workers, a thread of the process
with the immediate backend), say so while pending, and liveness_sync finishes what did not happen."""

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from django_liveness import services, tasks
from django_liveness.models import LivenessSession, Subject
from django_liveness.services import after_answer
from django_liveness.common.tasks_framework import USES_DJANGO_TASKS, task_backends
from django_liveness.testing import ReferenceImageFactory, SubjectFactory, wait_for_after_answer

from .api_support import API, client_for

pytestmark = pytest.mark.django_db(transaction=True)

# A worker that never runs what is enqueued: as when the worker died between the answer and the work.
DEAD_WORKER = {
    "default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend" if USES_DJANGO_TASKS else "django_tasks.backends.dummy.DummyBackend"}
}
REMOTE_WORK = ("get_session_image", "delete_session")


def remote_calls(locmem):
    return [operation for operation, _ in locmem.calls if operation in REMOTE_WORK]


def completed_at_the_provider(owner, locmem):
    subject = Subject.objects.filter(user=owner).first()
    if subject is None:
        subject = SubjectFactory(user=owner)
        ReferenceImageFactory(subject=subject)
    session = services.start_session(subject, verify=True)
    locmem.complete(session)
    return session


def test_with_a_dead_worker_the_answer_says_what_is_pending_and_liveness_sync_finishes_it(owner, locmem, settings):
    settings.TASKS = DEAD_WORKER
    session = completed_at_the_provider(owner, locmem)

    response = client_for(owner).post(f"{API}/sessions/{session.pk}/complete/")

    body = response.json()
    assert response.status_code == 200 and (body["status"], body["outcome"]) == ("completed", "passed")
    assert body["pending"] == ["session_image", "remote_deletion"]
    assert remote_calls(locmem) == []  # none of it ran in the request
    enqueued = task_backends["default"].results
    assert [(result.task.name, result.args) for result in enqueued] == [("finish_after_answer_task", [str(session.pk)])]
    assert client_for(owner).get(f"{API}/sessions/{session.pk}/").json()["pending"] == ["session_image", "remote_deletion"]

    call_command("liveness_sync", "--here", "--skip-orphans", stdout=StringIO())

    session.refresh_from_db()
    assert session.session_image and session.remote_deleted_at is not None
    assert remote_calls(locmem) == ["get_session_image", "delete_session"]  # the image first, once each
    assert client_for(owner).get(f"{API}/sessions/{session.pk}/").json()["pending"] == []


def test_the_task_fetches_the_image_then_deletes_and_leaves_a_session_the_sync_holds(owner, locmem, settings):
    settings.TASKS = DEAD_WORKER
    held, free = completed_at_the_provider(owner, locmem), completed_at_the_provider(owner, locmem)
    for session in (held, free):
        assert client_for(owner).post(f"{API}/sessions/{session.pk}/complete/").json()["pending"]
    LivenessSession.objects.filter(pk=held.pk).update(sync_lease_until=timezone.now() + timedelta(minutes=5))

    assert tasks.finish_after_answer_task.call(str(held.pk)) is False  # a sync worker is on it
    assert remote_calls(locmem) == []
    assert tasks.finish_after_answer_task.call(str(free.pk)) is True
    assert remote_calls(locmem) == ["get_session_image", "delete_session"]

    free.refresh_from_db()
    assert free.pending_after_answer == [] and free.sync_lease_until is None
    assert list(free.events.values_list("kind", flat=True).order_by("created_at", "id"))[-2:] == ["session_image_stored", "remote_deleted"]
    held.refresh_from_db()
    assert held.pending_after_answer == ["session_image", "remote_deletion"]


def test_an_erasure_during_a_pending_fetch_leaves_no_image_behind(owner, locmem, settings, monkeypatch):
    settings.TASKS = DEAD_WORKER
    session = completed_at_the_provider(owner, locmem)
    client_for(owner).post(f"{API}/sessions/{session.pk}/complete/")
    download = locmem.get_session_image

    def erased_meanwhile(session_image_id):
        image = download(session_image_id)
        services.erase_subject(LivenessSession.objects.get(pk=session.pk).subject)  # while the bytes travel
        return image

    monkeypatch.setattr(locmem, "get_session_image", erased_meanwhile)
    storage = LivenessSession._meta.get_field("session_image").storage
    _, files_before = storage.listdir("liveness/session-images") if storage.exists("liveness/session-images") else ([], [])

    tasks.finish_after_answer_task.call(str(session.pk))

    session.refresh_from_db()
    assert (session.session_image.name, session.session_image_id) == ("", "")
    assert session.redacted_at is not None and "session_image" not in session.pending_after_answer
    _, files_after = storage.listdir("liveness/session-images") if storage.exists("liveness/session-images") else ([], [])
    assert files_after == files_before  # no file was written for the erased subject
    assert not session.events.filter(kind="session_image_stored").exists()


@pytest.mark.postgres
def test_a_slow_provider_for_the_image_and_the_deletion_does_not_hold_the_answer(owner, locmem, monkeypatch):
    """The immediate backend: the work runs in a thread after the commit. The image's fetch is held
    until the answer has arrived, so it cannot have been part of it (events, not the clock)."""
    session = completed_at_the_provider(owner, locmem)
    answered, fetch_started = threading.Event(), threading.Event()
    order = []
    download, delete = locmem.get_session_image, locmem.delete_session

    def held_image(session_image_id):
        fetch_started.set()
        assert answered.wait(30), "the answer never came while the fetch was held"
        order.append("get_session_image")
        return download(session_image_id)

    def delete_session(session_id, *, verify):
        order.append("delete_session")
        return delete(session_id, verify=verify)

    monkeypatch.setattr(locmem, "get_session_image", held_image)
    monkeypatch.setattr(locmem, "delete_session", delete_session)

    response = client_for(owner).post(f"{API}/sessions/{session.pk}/complete/")
    order.append("answer")
    answered.set()

    assert response.status_code == 200 and response.json()["status"] == "completed"
    assert response.json()["pending"] == ["session_image", "remote_deletion"]
    assert fetch_started.wait(30)  # it had started in its thread, and waited for the answer
    wait_for_after_answer()
    assert order == ["answer", "get_session_image", "delete_session"]
    session.refresh_from_db()
    assert session.session_image and session.remote_deleted_at is not None and session.sync_lease_until is None


def test_the_admin_says_what_is_pending_at_the_provider(owner, locmem, settings, admin_client):
    settings.TASKS = DEAD_WORKER
    session = completed_at_the_provider(owner, locmem)
    client_for(owner).post(f"{API}/sessions/{session.pk}/complete/")
    url = reverse("admin:django_liveness_livenesssession_change", args=[session.pk])

    page = admin_client.get(url).content.decode()
    assert "Pending at the provider" in page
    assert "fetch the session image, delete the provider&#x27;s copy" in page

    tasks.finish_after_answer_task.call(str(session.pk))
    page = admin_client.get(url).content.decode()
    assert "fetch the session image" not in page and "delete the provider&#x27;s copy" not in page


@pytest.mark.postgres
def test_a_full_queue_leaves_the_work_to_liveness_sync(owner, locmem, monkeypatch):
    """The threads' queue is bounded: beyond it the answer does not wait either, and the sync finishes."""
    monkeypatch.setattr(after_answer, "MAX_QUEUED", 0)
    session = completed_at_the_provider(owner, locmem)

    response = client_for(owner).post(f"{API}/sessions/{session.pk}/complete/")

    assert response.status_code == 200 and response.json()["status"] == "completed"
    wait_for_after_answer()
    assert remote_calls(locmem) == []
    session.refresh_from_db()
    assert session.pending_after_answer == ["session_image", "remote_deletion"]

    call_command("liveness_sync", "--skip-orphans", stdout=StringIO())
    session.refresh_from_db()
    assert session.pending_after_answer == [] and remote_calls(locmem) == ["get_session_image", "delete_session"]
