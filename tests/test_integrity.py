"""The integrity holes found in review, each closed in the service layer and proven here: the
audit trail cannot be wiped, relinks leave a trace, erasure and withdrawal finish whatever ends
meanwhile, no session outlives an erasure, the queue holds only reviewable sessions, an
Idempotency-Key holds no transaction across the provider call, and the outcome that counts is
what people read."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from django_liveness import privacy, services
from django_liveness.exceptions import InvalidSessionState, SubjectConflict, SubjectErased, SubjectHasSessions
from django_liveness.models import IdempotencyKey, LivenessEvent, LivenessSession, ReferenceImage, Subject
from django_liveness.services import sessions as session_service
from django_liveness.testing import (
    LivenessSessionFactory,
    SubjectFactory,
    UserFactory,
)

from .api_support import API, client_for, start

pytestmark = pytest.mark.django_db


# --- 1. a user cannot wipe their own audit trail ---------------------------------------------


def test_a_subject_with_sessions_is_never_deleted_over_the_api(owner, subject, locmem):
    start(client_for(owner), subject, verify=False)
    response = client_for(owner).delete(f"{API}/subjects/{subject.pk}/")
    assert response.status_code == 409 and response.json()["code"] == "subject_has_sessions"
    assert "erase" in response.json()["detail"]
    assert Subject.objects.filter(pk=subject.pk).exists() and LivenessSession.objects.count() == 1

    # Erasing is what a person who wants to go can do: the biometric data goes, the trail stays.
    assert client_for(owner).post(f"{API}/subjects/{subject.pk}/erase/").status_code == 200
    assert LivenessSession.objects.filter(subject=subject).count() == 1


def test_a_subject_without_sessions_is_deleted_with_an_event(owner, subject):
    assert client_for(owner).delete(f"{API}/subjects/{subject.pk}/").status_code == 204
    event = LivenessEvent.objects.get(kind="subject_deleted")
    assert event.data == {"subject": str(subject.pk), "images": 0} and event.actor == owner
    assert not LivenessEvent.objects.filter(kind="image_deleted").exists()


def test_the_service_refuses_to_delete_a_subject_with_sessions():
    session = LivenessSessionFactory(completed=True)
    with pytest.raises(SubjectHasSessions):
        services.delete_subject(session.subject)
    assert LivenessSession.objects.filter(pk=session.pk).exists()


# --- 2. relinking a subject leaves a trace ------------------------------------------------------


def test_relinking_over_the_api_is_logged_and_resets_the_verification(app_user):
    old_user, new_user = UserFactory(), UserFactory()
    subject = SubjectFactory(user=old_user, external_id="crm-1")
    verified = LivenessSessionFactory(subject=subject, completed=True, kind="liveness_with_verify")
    Subject.objects.filter(pk=subject.pk).update(verified_at=verified.completed_at)

    response = client_for(app_user).patch(f"{API}/subjects/{subject.pk}/", {"user": new_user.pk}, format="json")

    assert response.status_code == 200 and response.json()["verified_at"] is None
    subject.refresh_from_db()
    assert (subject.user, subject.verified_at) == (new_user, None)
    event = LivenessEvent.objects.get(kind="subject_changed")
    assert event.actor == app_user
    assert event.data["user"] == {"old": old_user.pk, "new": new_user.pk}
    assert event.data["verified_at"]["new"] is None


def test_a_new_display_name_keeps_the_verification(owner, subject):
    Subject.objects.filter(pk=subject.pk).update(verified_at="2026-11-01T00:00:00Z")
    response = client_for(owner).patch(f"{API}/subjects/{subject.pk}/", {"display_name": "Ada L."}, format="json")
    assert response.status_code == 200 and response.json()["verified_at"] is not None
    change = LivenessEvent.objects.get(kind="subject_changed").data
    assert change == {"display_name": {"old": subject.display_name, "new": "Ada L."}}


def test_relinking_in_the_admin_is_logged_and_resets_the_verification(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    subject = SubjectFactory(external_id="crm-2", display_name="Bo")
    Subject.objects.filter(pk=subject.pk).update(verified_at="2026-11-01T00:00:00Z")
    url = reverse("admin:django_liveness_subject_change", args=[subject.pk])
    response = client.post(url, admin_form(subject, external_id="crm-3"))
    assert response.status_code == 302, response.content.decode()[:2000]
    subject.refresh_from_db()
    assert (subject.external_id, subject.verified_at) == ("crm-3", None)
    event = LivenessEvent.objects.get(kind="subject_changed")
    assert event.actor == staff and event.data["external_id"] == {"old": "crm-2", "new": "crm-3"}


def test_a_subject_added_in_the_admin_is_the_one_it_shows(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(reverse("admin:django_liveness_subject_add"), admin_form(None, external_id="crm-9", display_name="Cy"))
    assert response.status_code == 302
    subject = Subject.objects.get(external_id="crm-9")
    assert subject.display_name == "Cy" and str(subject.pk) in client.get(response.url).content.decode()


def admin_form(subject, **changes):
    values = {"external_id": subject.external_id, "display_name": subject.display_name, "user": ""} if subject else {}
    values.update(changes)
    for prefix in ("reference_images", "consents"):
        values.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    return values


# --- 3. erasure, withdrawal and purge finish when a session ends meanwhile --------------------


@pytest.fixture
def result_arrives_first(locmem, monkeypatch):
    """Every session about to be canceled gets its result first, between the query and the lock."""
    end = session_service._end_without_result

    def racing(session, *args, **kwargs):
        if not LivenessSession.objects.get(pk=session.pk).is_final:
            locmem.complete(session)
            services.refresh_session(session)
        return end(session, *args, **kwargs)

    monkeypatch.setattr(session_service, "_end_without_result", racing)


def test_erasure_finishes_when_a_session_ended_meanwhile(owner, subject, result_arrives_first):
    session = services.start_session(subject, verify=False)
    response = client_for(owner).post(f"{API}/subjects/{subject.pk}/erase/")
    assert response.status_code == 200
    subject.refresh_from_db()
    assert subject.erased_at is not None
    erased = LivenessEvent.objects.get(kind="erased").data
    assert (erased["sessions_canceled"], erased["sessions_redacted"]) == (0, 1)
    session.refresh_from_db()
    assert (session.status, session.redacted_at is not None) == ("completed", True)


def test_withdrawal_finishes_when_a_session_ended_meanwhile(owner, subject, result_arrives_first):
    services.start_session(subject, verify=False)
    other = services.start_session(SubjectFactory(), verify=False)
    assert client_for(owner).delete(f"{API}/subjects/{subject.pk}/consent/").status_code == 204
    assert not subject.consents.filter(withdrawn_at__isnull=True).exists()
    other.refresh_from_db()
    assert other.status == "created"  # another subject's session is not touched


def test_withdrawal_reports_what_it_did(subject, locmem):
    services.start_session(subject, verify=False)
    assert privacy.withdraw_consent(subject) == {"consents": 1, "sessions_canceled": 1}


def test_purge_finishes_when_a_session_ended_meanwhile(subject, result_arrives_first):
    services.start_session(subject, verify=False)
    privacy.withdraw_consent(subject)  # canceled nothing: the result came first
    summary = privacy.purge()
    assert summary["subjects_erased"] == 1
    subject.refresh_from_db()
    assert subject.erased_at is not None


# --- 4. no session outlives an erasure ------------------------------------------------------------


def test_a_session_started_while_the_subject_is_erased_is_canceled_and_deleted(subject, locmem, monkeypatch):
    create = locmem.create_session

    def erased_while_the_provider_creates(**options):
        created = create(**options)
        privacy.erase_subject(Subject.objects.get(pk=subject.pk))
        return created

    monkeypatch.setattr(locmem, "create_session", erased_while_the_provider_creates)
    with pytest.raises(SubjectErased):
        services.start_session(subject, verify=False)
    session = LivenessSession.objects.get()
    assert (session.status, session.auth_token) == ("canceled", "")
    assert session.remote_deleted_at is not None
    assert [operation for operation, _ in locmem.calls] == ["create_session", "delete_session"]


def test_the_erasure_is_read_under_lock_when_a_session_starts(subject, locmem):
    stale = Subject.objects.get(pk=subject.pk)
    privacy.erase_subject(subject)
    with pytest.raises(SubjectErased):
        services.start_session(stale, verify=False)  # the caller's copy says "not erased"
    assert not LivenessSession.objects.exists() and locmem.calls == []


# --- 5. only completed sessions enter the review queue -------------------------------------------


def test_an_open_session_cannot_be_flagged_for_review(subject, locmem):
    session = services.start_session(subject, verify=False)
    with pytest.raises(InvalidSessionState):
        services.flag_for_review(session)
    session.refresh_from_db()
    assert session.review_status == ""


def test_the_admin_says_which_sessions_could_not_be_flagged(client, subject, locmem):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    open_session = services.start_session(subject, verify=False)
    done = LivenessSessionFactory(completed=True)
    data = {"action": "flag_for_review", "_selected_action": [open_session.pk, done.pk]}
    response = client.post(reverse("admin:django_liveness_livenesssession_changelist"), data, follow=True)
    notes = [(m.level_tag, m.message) for m in response.context["messages"]]
    assert ("success", "1 session in the review queue.") in notes
    assert any(level == "warning" and str(open_session.pk)[:8] in text for level, text in notes)


# --- 6. an Idempotency-Key holds no transaction across the provider call --------------------------


@pytest.mark.django_db(transaction=True)
def test_the_key_is_claimed_before_and_recorded_after_the_provider_call(locmem, monkeypatch):
    owner = UserFactory()
    subject = SubjectFactory(user=owner)
    client = client_for(owner)
    seen = {}
    create = locmem.create_session

    def provider_call(**options):
        seen["in_transaction"] = connection.in_atomic_block
        seen["claim"] = list(IdempotencyKey.objects.values_list("key", "response_status"))  # committed: visible
        repeat = client.post(f"{API}/sessions/", {"subject": str(subject.pk)}, format="json", headers={"Idempotency-Key": "k"})
        seen["repeat"] = (repeat.status_code, repeat.json()["code"])
        return create(**options)

    monkeypatch.setattr(locmem, "create_session", provider_call)
    first = client.post(f"{API}/sessions/", {"subject": str(subject.pk)}, format="json", headers={"Idempotency-Key": "k"})

    assert first.status_code == 201
    assert seen == {"in_transaction": False, "claim": [("k", None)], "repeat": (409, "idempotency_key_in_use")}
    assert IdempotencyKey.objects.get().response_body == {"id": first.json()["id"]}


# --- 7. the right conflict for an unlinked subject ------------------------------------------------


def test_an_external_id_of_an_unlinked_subject_says_so():
    SubjectFactory(external_id="crm-5", user=None)
    with pytest.raises(SubjectConflict, match="linked to no user"):
        services.find_or_create_subject(external_id="crm-5", user=UserFactory())


# --- 10. everything a person reads shows the outcome that counts ----------------------------------


def test_a_rejected_pass_reads_failed_everywhere_with_the_providers_decision_beside_it(client):
    reviewer = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(reviewer)
    session = LivenessSessionFactory(completed=True)
    services.review_session(session, reviewer=reviewer, decision="rejected", note="Photo of a photo.")
    changelist = reverse("admin:django_liveness_livenesssession_changelist")

    listed = client.get(changelist).content.decode()
    assert ">failed<" in listed and "provider: real face" in listed
    assert str(session.pk)[:8] in client.get(changelist, {"outcome": "failed"}).content.decode()
    assert str(session.pk)[:8] not in client.get(changelist, {"outcome": "passed"}).content.decode()
    subject_page = client.get(reverse("admin:django_liveness_subject_change", args=[session.subject_id])).content.decode()
    assert ">failed<" in subject_page
    detail = client.get(reverse("admin:django_liveness_livenesssession_change", args=[session.pk])).content.decode()
    assert "Reviewed: rejected" in detail


# --- 14. what is stored of an upload is the image alone -------------------------------------------


def test_an_uploaded_polyglot_is_stored_without_its_payload_and_with_the_digest_of_what_is_kept(owner, subject):
    from django_liveness.images import sample_face_image

    polyglot = sample_face_image() + b"<html><script>steal()</script></html>PK\x03\x04"
    image = SimpleUploadedFile("face.jpg", polyglot, content_type="image/jpeg")
    response = client_for(owner).post(f"{API}/subjects/{subject.pk}/reference-images/", {"image": image})
    assert response.status_code == 201
    stored = ReferenceImage.objects.get()
    with stored.file.open("rb") as file:
        kept = file.read()
    assert b"<html>" not in kept and kept.endswith(b"\xff\xd9")
    assert response.json()["sha256"] == stored.sha256 == hashlib.sha256(kept).hexdigest()
    assert response.json()["size"] == len(kept) < len(polyglot)


# --- the layers: API views and admin classes write nothing themselves ------------------------------


def test_api_views_admin_classes_and_the_capture_page_write_through_the_service_layer():
    import ast
    from pathlib import Path

    import django_liveness

    package = Path(django_liveness.__file__).parent
    writes = {"save", "delete", "create", "update", "bulk_create", "bulk_update", "get_or_create", "update_or_create"}
    not_models = {"digest"}  # api/idempotency.py hashes the body: digest.update() writes no row
    offenders = []
    paths = [*sorted(path for edge in ("admin", "api", "capture") for path in (package / edge).rglob("*.py"))]
    assert {"sessions.py", "subjects.py", "images.py", "webhooks.py", "views.py", "hosted.py", "stats.py"} <= {
        path.name for path in paths
    }
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in writes:
                target = ast.unparse(node.func.value)
                if not target.startswith(("services", "privacy")) and target not in not_models:
                    offenders.append(f"{path.name}:{node.lineno} {ast.unparse(node.func)}()")
    assert offenders == []



def test_drf_mixins_never_save_for_the_api():
    """DRF's mixins would call ``serializer.save()`` or ``instance.delete()``: every API view that
    uses one overrides the hook with a service call."""
    import inspect

    from rest_framework import mixins

    from django_liveness.api import views

    hooks = {mixins.CreateModelMixin: "perform_create", mixins.UpdateModelMixin: "perform_update", mixins.DestroyModelMixin: "perform_destroy"}
    missing = []
    for name, view in inspect.getmembers(views, inspect.isclass):
        for mixin, hook in hooks.items():
            if issubclass(view, mixin) and getattr(view, hook) is getattr(mixin, hook):
                missing.append(f"{name}.{hook}")
    assert missing == []
