"""The admin as staff use it: lists, detail, review, images, actions, and query counts."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_liveness import services, signals
from django_liveness.models import LivenessEvent, LivenessSession, Subject
from django_liveness.testing import (
    LivenessSessionFactory,
    ReferenceImageFactory,
    SubjectFactory,
    UserFactory,
    capture_signal,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_liveness_livenesssession_changelist"


def staff(*codenames):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="django_liveness", codename__in=codenames))
    return user


@pytest.fixture
def viewer(client):
    client.force_login(staff("view_livenesssession", "view_subject", "view_referenceimage", "view_consent"))
    return client


@pytest.fixture
def reviewer_user():
    return staff("view_livenesssession", "change_livenesssession", "review_livenesssession", "view_subject", "view_referenceimage")


@pytest.fixture
def reviewer(client, reviewer_user):
    client.force_login(reviewer_user)
    return client


@pytest.fixture
def uncertain_session(locmem):
    subject = SubjectFactory(external_id="crm-uncertain", display_name="Una Certain")
    ReferenceImageFactory(subject=subject)
    session = services.start_session(subject, verify=True)
    locmem.complete(session, decision="uncertain")
    return services.refresh_session(session)


def test_session_list_shows_the_columns_and_filters(viewer, uncertain_session):
    passed = LivenessSessionFactory(completed=True, subject=SubjectFactory(external_id="crm-ok"))
    page = viewer.get(reverse(CHANGELIST)).content.decode()
    assert str(uncertain_session.pk)[:8] in page and str(passed.pk)[:8] in page
    assert "needs review" in page and "passed" in page and "same person (0.92)" in page
    filtered = viewer.get(reverse(CHANGELIST), {"outcome": "passed"}).content.decode()
    assert str(passed.pk)[:8] in filtered and str(uncertain_session.pk)[:8] not in filtered
    queue = viewer.get(reverse(CHANGELIST), {"queue": "yes"}).content.decode()
    assert str(uncertain_session.pk)[:8] in queue and str(passed.pk)[:8] not in queue


@pytest.mark.parametrize("term", ["crm-uncertain", "Una Certain", "provider", "uuid"])
def test_session_search(viewer, uncertain_session, term):
    other = LivenessSessionFactory(subject=SubjectFactory(external_id="crm-other"))
    term = {"provider": uncertain_session.provider_session_id, "uuid": str(uncertain_session.pk)}.get(term, term)
    page = viewer.get(reverse(CHANGELIST), {"q": term}).content.decode()
    assert str(uncertain_session.pk)[:8] in page and str(other.pk)[:8] not in page


def test_session_detail_shows_the_result_and_never_the_token(viewer, locmem):
    subject = SubjectFactory()
    ReferenceImageFactory(subject=subject)
    session = services.start_session(subject, verify=True)
    token = session.auth_token
    page = viewer.get(reverse("admin:django_liveness_livenesssession_change", args=[session.pk])).content.decode()
    assert token not in page
    locmem.complete(session)
    session = services.refresh_session(session)
    page = viewer.get(reverse("admin:django_liveness_livenesssession_change", args=[session.pk])).content.decode()
    assert token not in page
    assert "real face" in page and "2023-12-20-preview.06" in page and session.result_digest in page
    assert "&quot;livenessDecision&quot;: &quot;realface&quot;" in page  # the raw payload, pretty-printed
    assert "result stored" in page  # the timeline
    assert reverse("admin:django_liveness_referenceimage_file", args=[session.reference_image_id]) in page
    assert "<rect" in page  # the face rectangle drawn over the image
    assert 'name="decision"' not in page  # a viewer cannot judge
    assert reverse("admin:django_liveness_livenesssession_add") not in page


def test_sessions_cannot_be_added_or_edited(viewer, uncertain_session):
    assert viewer.get(reverse("admin:django_liveness_livenesssession_add")).status_code == 403
    url = reverse("admin:django_liveness_livenesssession_change", args=[uncertain_session.pk])
    viewer.post(url, {"status": "completed", "outcome": "passed"})
    uncertain_session.refresh_from_db()
    assert uncertain_session.outcome == "needs_review"


def test_reviewer_approves_with_a_note(reviewer, reviewer_user, uncertain_session, django_capture_on_commit_callbacks):
    url = reverse("admin:django_liveness_livenesssession_review", args=[uncertain_session.pk])
    page = reviewer.get(reverse("admin:django_liveness_livenesssession_change", args=[uncertain_session.pk])).content.decode()
    assert 'name="decision"' in page and url in page
    with capture_signal(signals.session_reviewed) as reviewed, capture_signal(
        signals.liveness_verified
    ) as verified, django_capture_on_commit_callbacks(execute=True):
        response = reviewer.post(url, {"decision": "approved", "note": "ID card matches."})
    assert response.status_code == 302
    uncertain_session.refresh_from_db()
    assert (uncertain_session.review_status, uncertain_session.reviewed_by, uncertain_session.review_note) == (
        "approved",
        reviewer_user,
        "ID card matches.",
    )
    assert reviewed[0]["decision"] == "approved" and reviewed[0]["reviewer"] == reviewer_user
    assert [v["session"] for v in verified] == [uncertain_session]
    assert LivenessEvent.objects.filter(session=uncertain_session, kind="reviewed", actor=reviewer_user).exists()


def test_a_review_needs_a_note_and_can_be_changed_by_a_new_review(reviewer, uncertain_session):
    url = reverse("admin:django_liveness_livenesssession_review", args=[uncertain_session.pk])
    reviewer.post(url, {"decision": "approved", "note": ""})
    uncertain_session.refresh_from_db()
    assert uncertain_session.review_status == "pending"
    reviewer.post(url, {"decision": "approved", "note": "ok"})
    reviewer.post(url, {"decision": "rejected", "note": "Fraud team says replay."})
    uncertain_session.refresh_from_db()
    assert uncertain_session.review_status == "rejected"
    decisions = LivenessEvent.objects.filter(session=uncertain_session, kind="reviewed").order_by("id")
    assert [event.data["decision"] for event in decisions] == ["approved", "rejected"]
    page = reviewer.get(reverse("admin:django_liveness_livenesssession_change", args=[uncertain_session.pk])).content.decode()
    assert "Fraud team says replay." in page and "ok" in page


def test_staff_without_the_review_permission_cannot_judge(viewer, uncertain_session):
    url = reverse("admin:django_liveness_livenesssession_review", args=[uncertain_session.pk])
    assert viewer.post(url, {"decision": "approved", "note": "x"}).status_code == 403
    uncertain_session.refresh_from_db()
    assert uncertain_session.review_status == "pending"


def test_reference_image_view_checks_permission_and_sets_private_headers(client):
    image = ReferenceImageFactory()
    url = reverse("admin:django_liveness_referenceimage_file", args=[image.pk])
    client.force_login(staff("view_livenesssession"))
    assert client.get(url).status_code == 403
    allowed = staff("view_referenceimage")
    client.force_login(allowed)
    response = client.get(url)
    assert response.status_code == 200
    directives = {d.strip() for d in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives and "public" not in directives
    assert response["Content-Type"] == "image/jpeg" and response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    assert LivenessEvent.objects.filter(kind="image_viewed", actor=allowed, subject=image.subject).count() == 1
    client.logout()
    assert client.get(url).status_code == 302  # to the login page


def test_refresh_and_mark_for_review_actions(reviewer, locmem):
    subject = SubjectFactory()
    session = services.start_session(subject, verify=False)
    locmem.complete(session)
    response = reviewer.post(reverse(CHANGELIST), {"action": "refresh_results", "_selected_action": [session.pk]}, follow=True)
    assert "1 session(s) changed" in response.content.decode()
    session.refresh_from_db()
    assert session.status == "completed"
    reviewer.post(reverse(CHANGELIST), {"action": "flag_for_review", "_selected_action": [session.pk]})
    session.refresh_from_db()
    assert session.review_status == "pending"


def test_cancel_action_asks_for_confirmation(reviewer, locmem):
    session = services.start_session(SubjectFactory(), verify=False)
    data = {"action": "cancel_sessions", "_selected_action": [session.pk]}
    confirm = reviewer.post(reverse(CHANGELIST), data)
    assert "Cancel liveness sessions?" in confirm.content.decode()
    session.refresh_from_db()
    assert session.status == "created"
    reviewer.post(reverse(CHANGELIST), {**data, "confirmed": "yes"})
    session.refresh_from_db()
    assert session.status == "canceled" and session.remote_deleted_at is not None


def test_subject_page_shows_images_consent_and_linked_sessions(viewer, uncertain_session):
    subject = uncertain_session.subject
    page = viewer.get(reverse("admin:django_liveness_subject_change", args=[subject.pk])).content.decode()
    assert reverse("admin:django_liveness_referenceimage_file", args=[uncertain_session.reference_image_id]) in page
    assert "identity verification" in page  # the consent inline
    assert str(uncertain_session.pk)[:8] in page
    sessions = viewer.get(reverse(CHANGELIST), {"subject": str(subject.pk)}).content.decode()
    assert str(uncertain_session.pk)[:8] in sessions


def test_erase_action_confirms_then_erases(client, locmem):
    client.force_login(staff("view_subject", "delete_subject"))
    subject = SubjectFactory()
    ReferenceImageFactory(subject=subject)
    url = reverse("admin:django_liveness_subject_changelist")
    data = {"action": "erase_biometric_data", "_selected_action": [subject.pk]}
    assert "Erase biometric data?" in client.post(url, data).content.decode()
    client.post(url, {**data, "confirmed": "yes"})
    subject.refresh_from_db()
    assert subject.erased_at is not None and not subject.reference_images.exists()


def test_events_are_read_only(viewer, client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    event = LivenessEvent.objects.create(kind="flagged", message="x")
    assert client.get(reverse("admin:django_liveness_livenessevent_add")).status_code == 403
    client.post(reverse("admin:django_liveness_livenessevent_change", args=[event.pk]), {"message": "changed"})
    event.refresh_from_db()
    assert event.message == "x"


def list_queries(client, **params):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse(CHANGELIST), params).status_code == 200
    return len(queries)


def test_session_list_query_count_is_constant_on_a_large_table(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    subjects = Subject.objects.bulk_create([Subject(external_id=f"bulk-{i}") for i in range(50)])
    now = timezone.now()

    def sessions(count):
        return [
            LivenessSession(
                subject=subjects[i % 50],
                kind="liveness",
                operation_mode="Passive",
                status="completed",
                liveness_decision="realface",
                outcome="passed",
                created_at=now,
            )
            for i in range(count)
        ]

    LivenessSession.objects.bulk_create(sessions(10))
    small = list_queries(client)
    small_filtered = list_queries(client, outcome="passed", q="bulk")
    LivenessSession.objects.bulk_create(sessions(20_000), batch_size=2000)
    assert list_queries(client) == small
    assert list_queries(client, outcome="passed", q="bulk") == small_filtered
