"""The session state machine: transitions, stored fields, events and signals."""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from django_liveness import services, signals
from django_liveness.exceptions import (
    ConsentRequired,
    InvalidSessionState,
    NoReferenceImage,
    ProviderUnavailable,
    ServiceError,
    SessionNotFound,
    SubjectConflict,
    SubjectErased,
    Throttled,
)
from django_liveness.images import sample_face_image
from django_liveness.models import LivenessEvent, LivenessSession, ReferenceImage
from django_liveness.testing import ReferenceImageFactory, SubjectFactory, UserFactory, capture_signal, locmem_backend

from .conftest import past_the_fetch_window

pytestmark = pytest.mark.django_db

Status = LivenessSession.Status
LOCMEM = "django_liveness.backends.locmem.LocMemBackend"


@pytest.fixture
def oncommit(django_capture_on_commit_callbacks):
    """Run on-commit callbacks (signals) inside the test's transaction."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def subject():
    return SubjectFactory()


@pytest.fixture
def verify_session(subject, locmem):
    ReferenceImageFactory(subject=subject)
    return services.start_session(subject, verify=True)


def event_kinds(session):
    return list(LivenessEvent.objects.filter(session=session).values_list("kind", flat=True))


# --- start --------------------------------------------------------------------------------


def test_start_session_creates_it_at_the_provider_and_stores_the_token(subject, locmem, oncommit):
    user = UserFactory()
    with capture_signal(signals.session_created) as created, oncommit():
        session = services.start_session(subject, verify=False, device_correlation_id="device-1", started_by=user)

    session.refresh_from_db()
    assert session.status == Status.CREATED
    assert session.kind == LivenessSession.Kind.LIVENESS
    assert session.provider_session_id
    assert session.auth_token
    assert session.started_by == user
    assert session.device_correlation_id == "device-1"
    expected_expiry = timezone.now() + timedelta(seconds=600)
    assert abs((session.auth_token_expires_at - expected_expiry).total_seconds()) < 5
    assert locmem.calls == [
        (
            "create_session",
            {
                "operation_mode": "Passive",
                "device_correlation_id": "device-1",
                "auth_token_ttl_seconds": 600,
                "enable_session_image": False,  # STORE_SESSION_IMAGE is "verify"
            },
        )
    ]
    assert created == [{"sender": LivenessSession, "session": session, "subject": subject}]
    event = LivenessEvent.objects.get(session=session)
    assert (event.kind, event.actor, event.to_status) == ("session_created", user, "created")
    assert session.auth_token not in str(event.data)


def test_start_session_uses_the_configured_mode_and_ttl(subject, settings):
    settings.LIVENESS = {"BACKEND": LOCMEM, "OPERATION_MODE": "PassiveActive", "AUTH_TOKEN_TTL_SECONDS": 120}
    locmem = locmem_backend()
    session = services.start_session(subject, verify=False)
    assert session.operation_mode == "PassiveActive"
    assert locmem.calls[0][1]["auth_token_ttl_seconds"] == 120
    assert locmem.calls[0][1]["device_correlation_id"] == session.device_correlation_id  # generated


def test_verify_session_sends_the_active_reference_image(subject, locmem):
    ReferenceImageFactory(subject=subject, is_active=False)
    active = ReferenceImageFactory(subject=subject)
    session = services.start_session(subject, verify=True)
    assert session.reference_image == active
    assert locmem.calls[0][0] == "create_verify_session"
    assert locmem.calls[0][1]["reference_image"] == len(sample_face_image())
    active.refresh_from_db()
    assert active.quality_for_recognition == "high"
    assert set(active.face_rectangle) == {"top", "left", "width", "height"}


def test_verify_session_without_reference_image_is_refused_and_nothing_is_stored(subject, locmem):
    with pytest.raises(NoReferenceImage, match="no active reference image"):
        services.start_session(subject, verify=True)
    assert not LivenessSession.objects.exists()
    assert locmem.calls == []


def test_session_without_consent_is_refused(locmem):
    subject = SubjectFactory(consent=False)
    with pytest.raises(ConsentRequired):
        services.start_session(subject, verify=False)
    assert not LivenessSession.objects.exists()
    assert locmem.calls == []


@override_settings(LIVENESS={"BACKEND": LOCMEM, "REQUIRE_CONSENT": False})
def test_consent_is_not_needed_when_the_setting_is_off(locmem):
    assert services.start_session(SubjectFactory(consent=False), verify=False).status == Status.CREATED


def test_erased_subject_cannot_start_sessions(subject, locmem):
    subject.erased_at = timezone.now()
    subject.save()
    with pytest.raises(SubjectErased):
        services.start_session(subject, verify=False)


def test_provider_throttling_at_creation_stores_a_failed_session(subject, locmem, oncommit):
    locmem.fail_next(Throttled("Rate limit is exceeded.", status=429, retry_after=7))
    with capture_signal(signals.session_ended) as ended, oncommit(), pytest.raises(Throttled) as caught:
        services.start_session(subject, verify=False)
    assert caught.value.retry_after == 7
    session = LivenessSession.objects.get()
    assert (session.status, session.error_code, session.auth_token) == (Status.FAILED, "throttled", "")
    assert event_kinds(session) == ["remote_error", "status_changed"]
    assert ended == [{"sender": LivenessSession, "session": session, "subject": subject, "status": "failed"}]


# --- refresh ------------------------------------------------------------------------------


def test_passed_verify_session_is_completed_once_and_fires_verified(verify_session, locmem, oncommit):
    locmem.complete(verify_session, decision="realface", same_person=True)
    with capture_signal(signals.liveness_verified) as verified, capture_signal(
        signals.session_completed
    ) as completed, capture_signal(signals.liveness_failed) as failed, oncommit():
        session = services.refresh_session(verify_session)
        again = services.refresh_session(session)

    assert again.status == Status.COMPLETED
    session.refresh_from_db()
    assert session.status == Status.COMPLETED
    assert (session.liveness_decision, session.is_identical, session.match_confidence) == ("realface", True, 0.92)
    assert session.outcome == LivenessSession.Outcome.PASSED
    assert session.auth_token == ""
    assert session.completed_at and session.verified_at
    assert session.model_version == "2024-11-15"
    assert len(session.result_digest) == 64
    assert session.result_payload["status"] == "Succeeded"  # the provider's answer, sanitized
    assert "authToken" not in session.result_payload
    assert session.remote_deleted_at is not None
    session.subject.refresh_from_db()
    assert session.subject.verified_at == session.verified_at
    assert verified == [{"sender": LivenessSession, "session": session, "subject": session.subject}]
    assert completed == [
        {"sender": LivenessSession, "session": session, "subject": session.subject, "outcome": "passed"}
    ]
    assert failed == []
    assert event_kinds(session) == [
        "session_created",
        "status_changed",
        "result_stored",
        "session_image_stored",  # fetched before the remote deletion
        "remote_deleted",
    ]
    assert [call[0] for call in locmem.calls] == ["create_verify_session", "get_result", "get_session_image", "delete_session"]


@pytest.mark.parametrize(
    "choice, outcome, reason",
    [
        ({"decision": "spoofface"}, "failed", "spoof"),
        ({"same_person": False}, "failed", "not_identical"),
        ({"match_confidence": 0.5}, "failed", "low_confidence"),  # identical for the service, not for us
    ],
)
def test_failed_verify_session_fires_liveness_failed_with_the_reason(verify_session, locmem, oncommit, choice, outcome, reason):
    locmem.complete(verify_session, **choice)
    with capture_signal(signals.liveness_failed) as failed, capture_signal(signals.liveness_verified) as verified, oncommit():
        session = services.refresh_session(verify_session)
    assert session.outcome == outcome
    assert failed == [{"sender": LivenessSession, "session": session, "subject": session.subject, "reason": reason}]
    assert verified == []
    session.subject.refresh_from_db()
    assert session.subject.verified_at is None


def test_uncertain_result_needs_review_and_joins_the_queue(verify_session, locmem):
    locmem.complete(verify_session, decision="uncertain")
    session = services.refresh_session(verify_session)
    assert (session.outcome, session.review_status) == ("needs_review", "pending")


def test_plain_liveness_pass_does_not_verify_the_subject(subject, locmem, oncommit):
    session = services.start_session(subject, verify=False)
    locmem.complete(session)
    with capture_signal(signals.liveness_verified) as verified, oncommit():
        session = services.refresh_session(session)
    assert (session.outcome, session.is_identical, session.match_confidence) == ("passed", None, None)
    assert verified == []


def test_started_session_moves_to_started(subject, locmem):
    session = services.start_session(subject, verify=False)
    locmem.complete(session, finish=False)
    session = services.refresh_session(session)
    assert session.status == Status.STARTED
    assert session.started_at is not None


def test_session_past_its_token_ttl_expires(subject, locmem, oncommit):
    session = services.start_session(subject, verify=False)
    with time_machine.travel(timezone.now() + timedelta(seconds=601)), capture_signal(
        signals.session_ended
    ) as ended, oncommit():
        session = services.refresh_session(session)
    assert session.status == Status.EXPIRED
    assert session.auth_token == ""
    assert ended == [{"sender": LivenessSession, "session": session, "subject": subject, "status": "expired"}]


@pytest.mark.parametrize("error", [Throttled("slow down", status=429, retry_after=3), ProviderUnavailable("down", status=503)])
def test_transient_provider_error_keeps_the_session_and_records_the_error(verify_session, locmem, error):
    locmem.complete(verify_session)
    locmem.fail_next(error)
    with pytest.raises(type(error)):
        services.refresh_session(verify_session)
    verify_session.refresh_from_db()
    assert verify_session.status == Status.CREATED
    event = LivenessEvent.objects.filter(session=verify_session, kind="remote_error").get()
    assert event.data["code"] == error.code and event.data["operation"] == "get_result"
    # The result is not lost: the next refresh (after COMPLETE_MIN_INTERVAL_SECONDS) stores it.
    with past_the_fetch_window():
        assert services.refresh_session(verify_session).outcome == "passed"


def test_session_the_provider_lost_fails(subject, locmem):
    session = services.start_session(subject, verify=False)
    locmem.fail_next(SessionNotFound("Session ID is not found.", status=404))
    session = services.refresh_session(session)
    assert (session.status, session.error_code) == (Status.FAILED, "not_found")


def test_remote_session_is_kept_when_configured(subject, settings):
    settings.LIVENESS = {"BACKEND": LOCMEM, "DELETE_REMOTE_SESSION_ON_RESULT": False}
    locmem = locmem_backend()
    ReferenceImageFactory(subject=subject)
    session = services.start_session(subject, verify=True)
    locmem.complete(session)
    session = services.refresh_session(session)
    assert session.remote_deleted_at is None
    assert "delete_session" not in [call[0] for call in locmem.calls]
    assert [entry.session_id for entry in services.get_audit_entries(session)] == [session.provider_session_id]


@pytest.mark.parametrize("api_version", ["v1.2", "v1.2-preview.1"])
def test_audit_entries_come_from_the_stored_attempts_once_the_provider_has_none(subject, settings, api_version, oncommit):
    # GA keeps no audit entries at all; the preview's are gone once the session is deleted there.
    settings.LIVENESS = {**settings.LIVENESS, "OPTIONS": {"api_version": api_version}}
    ReferenceImageFactory(subject=subject)
    verify_session = services.start_session(subject, verify=True)
    locmem_backend().complete(verify_session, error_code="FaceWithMaskDetected")
    locmem_backend().complete(verify_session)
    with oncommit():  # the provider's copy is deleted once the result is stored
        session = services.refresh_session(verify_session)
    entries = services.get_audit_entries(session)
    assert all(entry.session_id == session.provider_session_id for entry in entries)
    assert entries[-1].response == {
        "attempt_status": "succeeded",
        "liveness_decision": "realface",
        "is_identical": True,
        "match_confidence": 0.92,
        "error_code": None,
    }
    if api_version == "v1.2":
        assert entries[0].response["error_code"] == "FaceWithMaskDetected"
    assert len(entries) == (2 if api_version == "v1.2" else 1)


def test_a_receiver_that_raises_does_not_lose_the_result(verify_session, locmem, oncommit, caplog):
    def broken(sender, **kwargs):
        raise RuntimeError("host bug")

    signals.liveness_verified.connect(broken, weak=False)
    try:
        locmem.complete(verify_session)
        with oncommit(), caplog.at_level(logging.ERROR):
            services.refresh_session(verify_session)
    finally:
        signals.liveness_verified.disconnect(broken)
    verify_session.refresh_from_db()
    assert verify_session.outcome == "passed"
    # Logged once, by Django's send_robust (it used to be logged a second time by django-liveness).
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [(record.name, "host bug" in record.getMessage()) for record in errors] == [("django.dispatch", True)]


def test_no_signal_for_a_change_that_is_rolled_back(verify_session, locmem, oncommit):
    locmem.complete(verify_session)
    with capture_signal(signals.session_completed) as completed, oncommit():
        with pytest.raises(RuntimeError), transaction.atomic():
            services.refresh_session(verify_session)
            raise RuntimeError("the caller's transaction fails")
    verify_session.refresh_from_db()
    assert verify_session.status == Status.CREATED
    assert completed == []
    assert "delete_session" not in [call[0] for call in locmem.calls]  # the provider keeps the result

    with oncommit():
        session = services.refresh_session(verify_session)
    assert (session.status, session.outcome) == (Status.COMPLETED, "passed")
    session.refresh_from_db()  # deleted at the provider after the answer
    assert session.remote_deleted_at is not None


# --- cancel -------------------------------------------------------------------------------


def test_cancel_deletes_the_remote_session(subject, locmem, oncommit):
    session = services.start_session(subject, verify=False)
    with capture_signal(signals.session_ended) as ended, oncommit():
        session = services.cancel_session(session)
    assert session.status == Status.CANCELED and session.remote_deleted_at is not None
    assert locmem.calls[-1][0] == "delete_session"
    assert ended[0]["status"] == "canceled"
    assert services.cancel_session(session).status == Status.CANCELED  # repeating is harmless


def test_completed_session_cannot_be_canceled(verify_session, locmem):
    locmem.complete(verify_session)
    session = services.refresh_session(verify_session)
    with pytest.raises(InvalidSessionState, match="already completed"):
        services.cancel_session(session)


def test_cancel_survives_a_provider_outage_and_sync_retries_the_deletion(subject, locmem):
    session = services.start_session(subject, verify=False)
    locmem.fail_next(ProviderUnavailable("down", status=503))
    session = services.cancel_session(session)
    assert session.status == Status.CANCELED and session.remote_deleted_at is None
    summary = services.sync_sessions()
    assert summary["remote_deleted"] == 1
    session.refresh_from_db()
    assert session.remote_deleted_at is not None


# --- review -------------------------------------------------------------------------------


@pytest.fixture
def uncertain_session(verify_session, locmem):
    locmem.complete(verify_session, decision="uncertain")
    return services.refresh_session(verify_session)


def test_approving_a_verify_session_fires_reviewed_and_verified_once(uncertain_session, oncommit):
    reviewer = UserFactory()
    with capture_signal(signals.session_reviewed) as reviewed, capture_signal(signals.liveness_verified) as verified, oncommit():
        session = services.review_session(uncertain_session, reviewer=reviewer, decision="approved", note="Checked the ID card.")
        services.review_session(session, reviewer=reviewer, decision="approved", note="Second look, same.")
    session.refresh_from_db()
    assert (session.review_status, session.reviewed_by, session.review_note) == ("approved", reviewer, "Second look, same.")
    assert session.verified_at is not None
    assert reviewed[0] == {
        "sender": LivenessSession,
        "session": session,
        "subject": session.subject,
        "reviewer": reviewer,
        "decision": "approved",
        "note": "Checked the ID card.",
    }
    assert len(reviewed) == 2
    assert len(verified) == 1
    reviews = LivenessEvent.objects.filter(session=session, kind="reviewed").order_by("id")
    assert [(e.data["decision"], e.data["previous"], e.actor) for e in reviews] == [
        ("approved", "pending", reviewer),
        ("approved", "approved", reviewer),
    ]


def test_rejecting_fires_liveness_failed(uncertain_session, oncommit):
    with capture_signal(signals.liveness_failed) as failed, oncommit():
        session = services.review_session(uncertain_session, reviewer=UserFactory(), decision="rejected", note="Screen replay.")
    assert failed == [
        {"sender": LivenessSession, "session": session, "subject": session.subject, "reason": "rejected_by_review"}
    ]


def test_rejecting_a_pass_withdraws_the_verification_and_fires_failed_once(verify_session, locmem, oncommit):
    earlier = services.start_session(verify_session.subject, verify=True)
    locmem.complete(earlier)
    earlier = services.refresh_session(earlier)
    locmem.complete(verify_session)
    passed = services.refresh_session(verify_session)
    subject = passed.subject
    subject.refresh_from_db()
    assert subject.verified_at == passed.verified_at

    reviewer = UserFactory()
    with capture_signal(signals.liveness_failed) as failed, oncommit():
        rejected = services.review_session(passed, reviewer=reviewer, decision="rejected", note="Mask, see frame 3.")
        services.review_session(rejected, reviewer=reviewer, decision="rejected", note="Confirmed by a second look.")
    subject.refresh_from_db()
    rejected.refresh_from_db()
    assert rejected.verified_at is None
    assert subject.verified_at == earlier.verified_at  # the subject's other verification still stands
    assert failed == [{"sender": LivenessSession, "session": rejected, "subject": rejected.subject, "reason": "rejected_by_review"}]

    with capture_signal(signals.liveness_verified) as verified, oncommit():
        approved = services.review_session(rejected, reviewer=reviewer, decision="approved", note="It was her after all.")
    subject.refresh_from_db()
    assert subject.verified_at == approved.verified_at is not None
    assert [call["session"] for call in verified] == [approved]


def test_rejecting_a_spoof_confirms_it_without_a_second_failed_signal(verify_session, locmem, oncommit):
    locmem.complete(verify_session, decision="spoofface")
    with capture_signal(signals.liveness_failed) as failed, capture_signal(signals.session_reviewed) as reviewed, oncommit():
        session = services.refresh_session(verify_session)
        services.review_session(session, reviewer=UserFactory(), decision="rejected", note="Printed photo.")
    assert [call["reason"] for call in failed] == ["spoof"]
    assert [call["decision"] for call in reviewed] == ["rejected"]
    session.subject.refresh_from_db()
    assert session.subject.verified_at is None


def test_review_needs_a_note_and_a_completed_session(uncertain_session, subject, locmem):
    with pytest.raises(ServiceError, match="needs a note"):
        services.review_session(uncertain_session, reviewer=UserFactory(), decision="approved", note="  ")
    with pytest.raises(ServiceError, match="'approved' or 'rejected'"):
        services.review_session(uncertain_session, reviewer=UserFactory(), decision="maybe", note="x")
    open_session = services.start_session(subject, verify=False)
    with pytest.raises(InvalidSessionState):
        services.review_session(open_session, reviewer=UserFactory(), decision="approved", note="x")


def test_flag_for_review(verify_session, locmem):
    locmem.complete(verify_session)
    session = services.refresh_session(verify_session)
    flagged = services.flag_for_review(session, actor=UserFactory(), note="Customer dispute")
    assert flagged.review_status == "pending"
    assert LivenessEvent.objects.filter(session=session, kind="flagged", message="Customer dispute").exists()


# --- reference images ---------------------------------------------------------------------


def test_reference_image_is_stored_under_a_random_name_and_replaces_the_active_one(subject):
    from django.core.files.uploadedfile import SimpleUploadedFile

    old = ReferenceImageFactory(subject=subject)
    upload = SimpleUploadedFile("jane-doe-passport.jpg", sample_face_image(), content_type="image/jpeg")
    image = services.add_reference_image(subject, upload)
    assert "jane" not in image.file.name and image.file.name.endswith(".jpg")
    assert image.file.storage.exists(image.file.name)
    assert (image.width, image.height, image.content_type, image.is_active) == (480, 640, "image/jpeg", True)
    old.refresh_from_db()
    assert old.is_active is False


def test_bad_reference_image_stores_nothing(subject):
    with pytest.raises(ValidationError):
        services.add_reference_image(subject, b"not an image")
    assert not ReferenceImage.objects.exists()


def test_failed_database_write_leaves_no_file(subject, monkeypatch):
    stored = []
    original_save = ReferenceImage.save

    def failing_save(self, *args, **kwargs):
        stored.append(self.file.name)
        raise RuntimeError("database down")

    monkeypatch.setattr(ReferenceImage, "save", failing_save)
    with pytest.raises(RuntimeError):
        services.add_reference_image(subject, sample_face_image())
    monkeypatch.setattr(ReferenceImage, "save", original_save)
    assert stored and not ReferenceImage.file.field.storage.exists(stored[0])
    assert not ReferenceImage.objects.exists()


def test_sync_expires_sessions_nobody_completed(subject, locmem):
    session = services.start_session(subject, verify=False)
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        summary = services.sync_sessions()
    session.refresh_from_db()
    assert session.status == Status.EXPIRED
    assert summary["refreshed"] == 1 and summary["changed"] == 1


# --- subjects -------------------------------------------------------------------------------


def test_find_or_create_subject_by_external_id_then_by_user():
    user = UserFactory()
    created, was_created = services.find_or_create_subject(external_id="crm-1", user=user, display_name="Ada")
    assert was_created and (created.external_id, created.user, created.display_name) == ("crm-1", user, "Ada")
    assert services.find_or_create_subject(external_id="crm-1") == (created, False)
    assert services.find_or_create_subject(user=user) == (created, False)
    assert services.find_or_create_subject(external_id="crm-1", user=user) == (created, False)
    fresh, was_created = services.find_or_create_subject(display_name="Bo")
    assert was_created and fresh.user is None and fresh.external_id  # a generated external_id


def test_find_or_create_subject_refuses_an_external_id_and_user_of_two_subjects():
    ada, bo = UserFactory(), UserFactory()
    SubjectFactory(external_id="crm-1", user=ada)
    SubjectFactory(external_id="crm-2", user=bo)
    with pytest.raises(SubjectConflict, match="linked to another user"):
        services.find_or_create_subject(external_id="crm-1", user=bo)
    with pytest.raises(SubjectConflict, match="another external_id"):
        services.find_or_create_subject(external_id="crm-3", user=bo)
