"""Consent, erasure, retention purge and provider reconciliation."""

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from django_liveness import services, signals
from django_liveness.exceptions import ConsentRequired, ProviderUnavailable, SessionNotFound, SubjectErased
from django_liveness.images import sample_face_image
from django_liveness.models import Consent, LivenessEvent, LivenessSession, ReferenceImage
from django_liveness.testing import (
    LivenessSessionFactory,
    ReferenceImageFactory,
    SubjectFactory,
    UserFactory,
    capture_signal,
    locmem_backend,
)

pytestmark = pytest.mark.django_db
API = "/api/liveness"


@pytest.fixture
def oncommit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def completed_verify_session(subject, locmem):
    session = services.start_session(subject, verify=True)
    locmem.complete(session)
    with TestCase.captureOnCommitCallbacks(execute=True):  # deleted at the provider on commit
        return services.refresh_session(session)


def test_consent_is_granted_withdrawn_and_listed_over_the_api():
    owner = UserFactory()
    subject = SubjectFactory(user=owner, consent=False)
    client = APIClient()
    client.force_authenticate(owner)
    granted = client.post(
        f"{API}/subjects/{subject.pk}/consent/",
        {"policy_version": "2026-01", "text": "I agree.", "purpose": "account recovery"},
        format="json",
    )
    assert granted.status_code == 201
    assert granted.json()["text_sha256"] == hashlib.sha256(b"I agree.").hexdigest()
    assert services.has_valid_consent(subject)
    assert client.delete(f"{API}/subjects/{subject.pk}/consent/").status_code == 204
    assert not services.has_valid_consent(subject)
    (record,) = client.get(f"{API}/subjects/{subject.pk}/consent/").json()
    assert record["withdrawn_at"] is not None
    assert list(LivenessEvent.objects.filter(subject=subject).values_list("kind", flat=True)) == [
        "consent_granted",
        "consent_withdrawn",
    ]
    bad = client.post(f"{API}/subjects/{subject.pk}/consent/", {"text": "x"}, format="json")
    assert bad.status_code == 400 and set(bad.json()["fields"]) == {"policy_version", "purpose"}
    stranger = APIClient()
    stranger.force_authenticate(UserFactory())
    assert stranger.get(f"{API}/subjects/{subject.pk}/consent/").status_code == 404


def test_withdrawing_consent_cancels_open_sessions_and_stops_new_ones(locmem):
    subject = SubjectFactory()
    session = services.start_session(subject, verify=False)
    services.withdraw_consent(subject)
    session.refresh_from_db()
    assert session.status == "canceled" and session.remote_deleted_at is not None
    with pytest.raises(ConsentRequired):
        services.start_session(subject, verify=False)


def test_erasure_removes_images_redacts_sessions_and_fires_once(locmem, oncommit):
    subject = SubjectFactory()
    image = ReferenceImageFactory(subject=subject)
    name, storage = image.file.name, image.file.storage
    session = completed_verify_session(subject, locmem)
    open_session = services.start_session(subject, verify=False)
    actor = UserFactory()
    with capture_signal(signals.subject_erased) as erased, oncommit():
        summary = services.erase_subject(subject, actor=actor)
        again = services.erase_subject(subject, actor=actor)
    assert summary["images"] == 1 and summary["sessions_redacted"] == 2
    assert again["already_erased"] is True
    assert erased == [{"sender": LivenessSession, "subject": subject, "actor": actor}]
    assert not ReferenceImage.objects.exists() and not storage.exists(name)
    session.refresh_from_db()
    assert (session.result_payload, session.face_rectangle, session.result_digest) == (None, None, "")
    assert (session.outcome, session.liveness_decision, session.completed_at is not None) == ("passed", "realface", True)
    open_session.refresh_from_db()
    assert open_session.status == "canceled"
    with pytest.raises(SubjectErased):
        services.start_session(subject, verify=False)
    with pytest.raises(SubjectErased):
        services.add_reference_image(subject, b"")


def test_erasure_drops_the_photo_fingerprint_from_the_event_log(locmem):
    subject = SubjectFactory()
    services.add_reference_image(subject, sample_face_image())
    services.erase_subject(subject)
    uploads = LivenessEvent.objects.filter(subject=subject, kind="image_uploaded")
    assert uploads.count() == 1 and "sha256" not in uploads.get().data


def test_erase_over_the_api_needs_ownership_or_permission(locmem):
    owner = UserFactory()
    subject = SubjectFactory(user=owner)
    stranger = APIClient()
    stranger.force_authenticate(UserFactory())
    assert stranger.post(f"{API}/subjects/{subject.pk}/erase/").status_code == 404
    client = APIClient()
    client.force_authenticate(owner)
    response = client.post(f"{API}/subjects/{subject.pk}/erase/")
    assert response.status_code == 200
    subject.refresh_from_db()
    assert subject.erased_at is not None


def test_purge_applies_retention_and_a_second_run_does_nothing(locmem):
    subject = SubjectFactory()
    ReferenceImageFactory(subject=subject)
    session = completed_verify_session(subject, locmem)
    fresh_subject = SubjectFactory()
    ReferenceImageFactory(subject=fresh_subject)

    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert services.apply_retention(dry_run=True)["payloads_redacted"] == 1
        assert services.apply_retention() == {
            "reference_images": 0,
            "payloads_redacted": 1,
            "session_images": 0,
            "sessions_deleted": 0,
            "remote_deleted": 0,
            "subjects_erased": 0,
            "idempotency_keys": 0,
            "webhook_deliveries": 0,
        }
    session.refresh_from_db()
    assert session.result_payload is None and session.outcome == "passed"

    with time_machine.travel(timezone.now() + timedelta(days=366)):
        assert services.apply_retention()["reference_images"] == 2
    assert not ReferenceImage.objects.exists()

    with time_machine.travel(timezone.now() + timedelta(days=1096)):
        assert services.apply_retention()["sessions_deleted"] == 1
        assert set(services.apply_retention().values()) == {0}
    assert not LivenessSession.objects.exists()
    assert LivenessEvent.objects.filter(kind="purged").count() == 3


def test_purge_keeps_provider_sessions_when_told_to_until_their_rows_go(settings):
    settings.LIVENESS = {**settings.LIVENESS, "DELETE_REMOTE_SESSION_ON_RESULT": False}
    locmem = locmem_backend()
    subject = SubjectFactory()
    ReferenceImageFactory(subject=subject)
    session = completed_verify_session(subject, locmem)
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert services.apply_retention()["remote_deleted"] == 0
    assert locmem.get_result(session.provider_session_id, verify=True).liveness_decision == "realface"
    with time_machine.travel(timezone.now() + timedelta(days=1096)):
        assert services.apply_retention()["remote_deleted"] == 1
    with pytest.raises(SessionNotFound):
        locmem.get_result(session.provider_session_id, verify=True)
    assert not LivenessSession.objects.exists()


def test_purge_erases_subjects_who_withdrew_consent(locmem):
    subject = SubjectFactory()
    ReferenceImageFactory(subject=subject)
    services.withdraw_consent(subject)
    out = StringIO()
    call_command("liveness_purge", "--dry-run", stdout=out)
    assert "1 subject(s) erased" in out.getvalue() and "Would purge" in out.getvalue()
    assert ReferenceImage.objects.count() == 1
    call_command("liveness_purge", stdout=out)
    subject.refresh_from_db()
    assert subject.erased_at is not None and not ReferenceImage.objects.exists()


def test_purge_retries_remote_deletions_and_counts_a_provider_404_as_done(locmem):
    subject = SubjectFactory()
    session = services.start_session(subject, verify=False)
    locmem.fail_next(ProviderUnavailable("down", status=503))
    services.cancel_session(session)
    session.refresh_from_db()
    assert session.remote_deleted_at is None
    locmem.emulator.delete_session("liveness", session.provider_session_id)  # gone at the provider already
    assert services.apply_retention()["remote_deleted"] == 1
    session.refresh_from_db()
    assert session.remote_deleted_at is not None


def create_remote_only(locmem):
    return locmem.create_session(operation_mode="Passive", device_correlation_id="x", auth_token_ttl_seconds=600)


@pytest.fixture
def preview_locmem(settings):
    """The orphan sweep needs the provider's session list: only the preview has one."""
    settings.LIVENESS = {**settings.LIVENESS, "OPTIONS": {"api_version": "v1.2-preview.1"}}
    return locmem_backend()


def test_sync_skips_the_orphan_sweep_where_the_provider_cannot_list_sessions(locmem):
    create_remote_only(locmem)
    out = StringIO()
    with time_machine.travel(timezone.now() + timedelta(minutes=20)):
        call_command("liveness_sync", stdout=out)
    assert "The provider cannot list its sessions (Face API v1.2): no orphan sweep." in out.getvalue()
    assert services.delete_orphan_remote_sessions() is None
    assert [operation for operation, _ in locmem.calls] == ["create_session"]


def test_sync_deletes_provider_sessions_with_no_local_row(settings, preview_locmem):
    settings.LIVENESS = {**settings.LIVENESS, "AUTH_TOKEN_TTL_SECONDS": 3600}  # the known one stays open
    locmem = locmem_backend()  # the backend built for these settings
    orphan = create_remote_only(locmem)
    kept = services.start_session(SubjectFactory(), verify=False)
    out = StringIO()
    with time_machine.travel(timezone.now() + timedelta(minutes=20)):
        call_command("liveness_sync", stdout=out)
    assert "Deleted 1 provider session(s) with no local row." in out.getvalue()
    remaining = [remote.session_id for remote in locmem.list_sessions(verify=False)]
    assert remaining == [kept.provider_session_id] and orphan.session_id not in remaining


def test_sync_leaves_a_session_that_is_still_being_created(preview_locmem):
    """The local row gets its provider id only when the create call returns: give it time."""
    locmem = preview_locmem
    young = create_remote_only(locmem)
    assert services.delete_orphan_remote_sessions() == 0
    assert young.session_id in [remote.session_id for remote in locmem.list_sessions(verify=False)]


def test_sync_checks_each_orphan_again_before_deleting_it(preview_locmem, monkeypatch):
    locmem = preview_locmem
    remote = create_remote_only(locmem)
    listed = locmem.list_sessions

    def list_then_store(*, verify):
        sessions = listed(verify=verify)
        # The create call returns and its row is saved while the sync is running.
        if not verify:
            LivenessSessionFactory(provider_session_id=remote.session_id)
        return sessions

    monkeypatch.setattr(locmem, "list_sessions", list_then_store)
    with time_machine.travel(timezone.now() + timedelta(minutes=20)):
        assert services.delete_orphan_remote_sessions() == 0
    assert "delete_session" not in [operation for operation, _ in locmem.calls]


def test_consent_for_erased_subject_is_refused():
    subject = SubjectFactory()
    services.erase_subject(subject)
    with pytest.raises(SubjectErased):
        services.grant_consent(subject, policy_version="1", text="x", purpose="y")
    assert Consent.objects.filter(subject=subject).count() == 1


def test_purge_deletes_expired_idempotency_keys(locmem):
    from django_liveness.models import IdempotencyKey

    user = UserFactory()
    subject = SubjectFactory(user=user)
    client = APIClient()
    client.force_authenticate(user)
    body = {"subject": str(subject.pk), "verify": False}
    client.post(f"{API}/sessions/", body, format="json", headers={"Idempotency-Key": "old"})
    with time_machine.travel(timezone.now() + timedelta(hours=23)):
        client.post(f"{API}/sessions/", body, format="json", headers={"Idempotency-Key": "new"})
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        assert services.apply_retention(dry_run=True)["idempotency_keys"] == 1
        assert IdempotencyKey.objects.count() == 2
        out = StringIO()
        call_command("liveness_purge", stdout=out)
    assert "1 expired Idempotency-Key(s) deleted." in out.getvalue()
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
