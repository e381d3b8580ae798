"""The admin as staff use it: lists, detail, review, images, actions, and query counts."""

import html
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_liveness import services, signals
from django_liveness.models import (
    LivenessEvent,
    LivenessSession,
    ReferenceImage,
    Subject,
)
from django_liveness.testing import (
    ConsentFactory,
    LivenessSessionFactory,
    ReferenceImageFactory,
    SubjectFactory,
    UserFactory,
    capture_signal,
)

from .api_support import assert_private_jpeg

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_liveness_livenesssession_changelist"


def row(session):
    """What marks a session's row in the list: the link to its page (its id may be in the search box)."""
    return reverse("admin:django_liveness_livenesssession_change", args=[session.pk])


def text(fragment):
    """What a reader sees of an HTML fragment: its text, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def headers(page, table_id="result_list"):
    """The column headers of a table, in order (the action checkbox has none)."""
    start = page.index(f'id="{table_id}"') if table_id else page.index("<thead>")
    head = page[page.index("<thead>", start) : page.index("</thead>", start)]
    return [label for label in (text(th) for th in re.findall(r"<th[^>]*>(.*?)</th>", head, re.DOTALL)) if label]


def cell(page, session, column):
    """The text of one column of a session's row in the list."""
    start = page.index(row(session))
    match = re.search(rf'<t[hd] class="field-{column}[^"]*">(.*?)</t[hd]>', page[page.rindex("<tr", 0, start) :], re.DOTALL)
    return text(match.group(1))


def title(page):
    return text(re.search(r"<h1>(.*?)</h1>", page, re.DOTALL).group(1))


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


def test_session_list_shows_the_outcome_that_counts_in_few_columns(viewer, uncertain_session, reviewer_user):
    started = LivenessSessionFactory(status="started", subject=SubjectFactory(display_name="Otto Open"))
    services.review_session(uncertain_session, reviewer=reviewer_user, decision="approved", note="ID card matches.")
    page = viewer.get(reverse(CHANGELIST)).content.decode()
    assert headers(page) == ["Subject", "Outcome", "Review", "Created at"]  # they fit at 1280 px (tests/test_browser_admin.py)
    assert title(page) == "Select liveness session to view"  # nothing here is edited
    short = str(uncertain_session.pk)[:8]
    assert cell(page, uncertain_session, "subject_summary") == f"Una Certain liveness with verify · {short}"
    # the reviewer's approval counts; the provider's decision stays beside it
    assert cell(page, uncertain_session, "outcome_summary") == "passed provider: uncertain, same person (0.92)"
    assert cell(page, uncertain_session, "review_summary") == f"approved by {reviewer_user}"
    assert cell(page, started, "outcome_summary") == "started"  # no outcome yet: the status
    assert cell(page, started, "review_summary") == "not reviewed"


@pytest.mark.parametrize("term", ["crm-uncertain", "Una Certain", "provider", "uuid"])
def test_session_search(viewer, uncertain_session, term):
    other = LivenessSessionFactory(subject=SubjectFactory(external_id="crm-other"))
    term = {"provider": uncertain_session.provider_session_id, "uuid": str(uncertain_session.pk)}.get(term, term)
    page = viewer.get(reverse(CHANGELIST), {"q": term}).content.decode()
    assert row(uncertain_session) in page and row(other) not in page


def test_search_by_uuid_keeps_the_filters(viewer, uncertain_session):
    for term in [uncertain_session.pk, uncertain_session.subject_id]:
        assert row(uncertain_session) in viewer.get(reverse(CHANGELIST), {"q": term}).content.decode()
        filtered = viewer.get(reverse(CHANGELIST), {"q": term, "outcome": "passed"}).content.decode()
        assert row(uncertain_session) not in filtered and "0 results" in filtered


def test_review_queue_is_oldest_first(viewer):
    now = timezone.now()
    sessions = [LivenessSessionFactory(completed=True, review_status="pending") for _ in range(3)]
    for age, session in zip([2, 5, 1], sessions):
        LivenessSession.objects.filter(pk=session.pk).update(created_at=now - timedelta(days=age))
    oldest_first = [sessions[1], sessions[0], sessions[2]]

    def order(**params):
        page = viewer.get(reverse(CHANGELIST), params).content.decode()
        return sorted(sessions, key=lambda session: page.index(row(session)))

    assert order(queue="yes") == oldest_first
    assert order() == oldest_first[::-1]  # the full list stays newest first
    assert order(queue="yes", o="-4") == oldest_first[::-1]  # an explicit ordering still wins (4: created)


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
    assert "real face" in page and "2024-11-15" in page and session.result_digest in page
    assert "&quot;livenessDecision&quot;: &quot;realface&quot;" in page  # the raw payload, pretty-printed
    assert "result stored" in page  # the timeline
    assert reverse("admin:django_liveness_referenceimage_file", args=[session.reference_image_id]) in page
    assert "<rect" in page  # the face rectangle drawn over the image
    assert title(page) == "View liveness session"
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


def test_the_review_form_makes_the_reviewer_choose(reviewer, uncertain_session):
    page = reviewer.get(row(uncertain_session)).content.decode()
    select = page[page.index('<select name="decision"') : page.index("</select>", page.index('<select name="decision"'))]
    assert "required" in select[: select.index(">")]  # the browser refuses an empty choice too
    assert re.findall(r'<option value="([^"]*)"( selected)?>', select) == [("", " selected"), ("approved", ""), ("rejected", "")]
    url = reverse("admin:django_liveness_livenesssession_review", args=[uncertain_session.pk])
    response = reviewer.post(url, {"note": "Looks fine."}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["A review needs a decision and a note."]
    assert response.redirect_chain == [(row(uncertain_session), 302)]
    uncertain_session.refresh_from_db()
    assert uncertain_session.review_status == "pending"


def test_saving_a_review_returns_to_the_queue_with_its_filters(reviewer, uncertain_session):
    filters = "queue=yes&kind=liveness_with_verify"
    page = reviewer.get(row(uncertain_session), {"_changelist_filters": filters}).content.decode()
    action = html.unescape(re.search(r'<form method="post" action="([^"]+/review/[^"]*)"', page).group(1))
    assert action.endswith("?" + urlencode({"_changelist_filters": filters}))
    response = reviewer.post(action, {"decision": "rejected", "note": "Replay attack."}, follow=True)
    assert response.redirect_chain == [(reverse(CHANGELIST) + "?" + filters, 302)]
    (message,) = response.context["messages"]
    assert (message.level_tag, text(str(message))) == ("success", f"Liveness session {str(uncertain_session.pk)[:8]} of Una Certain rejected.")
    assert f'href="{html.escape(row(uncertain_session) + "?" + urlencode({"_changelist_filters": filters}))}"' in str(message)


def test_the_page_title_says_whether_the_user_may_review(client, viewer, uncertain_session, reviewer_user):
    assert title(viewer.get(row(uncertain_session)).content.decode()) == "View liveness session"
    client.force_login(reviewer_user)
    page = client.get(row(uncertain_session)).content.decode()
    assert title(page) == "Review liveness session" and "Change liveness session" not in page
    assert title(client.get(reverse(CHANGELIST)).content.decode()) == "Select liveness session to review"
    started = LivenessSessionFactory(status="started")  # not reviewable yet
    page = client.get(row(started)).content.decode()
    assert title(page) == "View liveness session" and 'name="decision"' not in page


def test_the_timeline_reads_what_the_frontend_reported(viewer, uncertain_session):
    services.start_capture(uncertain_session.pk, browser_secret="a-browser-secret")
    services.record_client_event(uncertain_session, code="CameraPermissionDenied", message="Permission denied by the user.")
    page = viewer.get(row(uncertain_session)).content.decode()
    timeline = page[page.index('class="liveness-table"', page.index("field-timeline")) :]
    events = [text(what) for what in re.findall(r"<tr><td[^>]*>[^<]*</td><td[^>]*>(.*?)</td>", timeline[: timeline.index("</table>")], re.DOTALL)]
    assert events[0] == "Session created"
    assert events[-2:] == ["Capture link opened", "Frontend reported CameraPermissionDenied: Permission denied by the user."]


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
    assert_private_jpeg(response)
    assert LivenessEvent.objects.filter(kind="image_viewed", actor=allowed, subject=image.subject).count() == 1
    client.logout()
    assert client.get(url).status_code == 302  # to the login page


def test_only_fetching_the_image_is_a_logged_view(viewer, uncertain_session):
    image_url = reverse("admin:django_liveness_referenceimage_file", args=[uncertain_session.reference_image_id])
    pages = [row(uncertain_session), reverse("admin:django_liveness_subject_change", args=[uncertain_session.subject_id])]
    for url in pages * 2:
        page = viewer.get(url).content.decode()
        # held back until staff ask for it: a browser fetches nothing inside a <template>
        assert re.search(rf'<template><img src="{image_url}"', page) and "Show image (logged)" in page, url
    assert not LivenessEvent.objects.filter(kind="image_viewed").exists()
    assert viewer.get(image_url).status_code == 200
    assert LivenessEvent.objects.filter(kind="image_viewed", subject=uncertain_session.subject).count() == 1


def test_refresh_and_mark_for_review_actions(reviewer, locmem):
    subject = SubjectFactory()
    session = services.start_session(subject, verify=False)
    locmem.complete(session)
    response = reviewer.post(reverse(CHANGELIST), {"action": "refresh_results", "_selected_action": [session.pk]}, follow=True)
    assert "1 session changed." in response.content.decode()
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


def shown_fields(fragment):
    """The read-only fields of an admin form, in order: [(label, value)]. Django 6 puts a field's help
    text between its label and its value, Django 5.2 after the value."""
    help_text = r"(?:<div class=\"help\"[^>]*>\s*<div>.*?</div>\s*</div>\s*)?"
    pairs = re.findall(rf"<label[^>]*>(.*?)</label>\s*{help_text}<div class=\"readonly\">(.*?)</div>", fragment, re.DOTALL)
    return [(text(label), text(value)) for label, value in pairs]


def test_subject_page_stacks_consents_and_images_to_fit(viewer):
    consent = ConsentFactory(granted_by=UserFactory(username="alice"))
    ReferenceImageFactory(subject=consent.subject)
    page = viewer.get(reverse("admin:django_liveness_subject_change", args=[consent.subject_id])).content.decode()
    images = shown_fields(page[page.index('id="reference_images-group"') : page.index('id="consents-group"')])
    assert [label for label, _ in images] == ["Image:", "File:", "Is active:", "Quality for recognition:", "Created at:"]
    assert images[1][1].startswith("480 × 640 px, image/jpeg, ")
    consents = shown_fields(page[page.index('id="consents-group"') :])
    assert [label for label, _ in consents] == ["Policy version:", "Purpose:", "Granted:", "Withdrawn:", "Text sha256:"]
    assert consents[2][1].endswith(" by alice") and consents[3][1] == "-"


def test_a_subject_page_mentions_erasure_only_once_it_happened(viewer, locmem):
    subject = SubjectFactory()
    url = reverse("admin:django_liveness_subject_change", args=[subject.pk])
    page = viewer.get(url).content.decode()
    assert "Not erased" in page and "no new sessions are allowed" not in page
    services.erase_subject(subject)
    page = viewer.get(url).content.decode()
    assert "Not erased" not in page and "Biometric data erased; no new sessions are allowed." in page


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
    assert list_queries(client, p=300) == small  # past the counting cap

    def page(number):
        return client.get(reverse(CHANGELIST), {"p": number}).content.decode()

    assert "10000+ liveness sessions" in page(1) and "All 10000+ selected" in page(1)
    with override_settings(USE_THOUSAND_SEPARATOR=True):
        assert "10,000 liveness sessions" in page(1)  # grouped digits, never a mangled "100,00+"
    assert 'href="?p=201"' in page(200) and "10050+ liveness sessions" in page(200)  # the next page stays reachable
    assert "20010 liveness sessions" in page(401)  # the last page counts exactly
    assert client.get(reverse(CHANGELIST), {"p": 402}).url.endswith("?e=1")  # past the end


def test_deleting_a_reference_image_removes_its_file(client, django_capture_on_commit_callbacks):
    user = staff("view_referenceimage", "delete_referenceimage")
    client.force_login(user)
    image = ReferenceImageFactory()
    storage, name = image.file.storage, image.file.name
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:django_liveness_referenceimage_delete", args=[image.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not ReferenceImage.objects.filter(pk=image.pk).exists() and not storage.exists(name)
    assert LivenessEvent.objects.filter(kind="image_deleted", actor=user, subject=image.subject).count() == 1


def test_deleting_subjects_removes_their_photos(client, django_capture_on_commit_callbacks):
    user = staff("view_subject", "delete_subject", "delete_referenceimage")
    client.force_login(user)
    one, two = ReferenceImageFactory(), ReferenceImageFactory()
    files = [(image.file.storage, image.file.name) for image in (one, two)]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:django_liveness_subject_delete", args=[one.subject_id]), {"post": "yes"})
        data = {"action": "delete_selected", "_selected_action": [two.subject_id], "post": "yes"}
        client.post(reverse("admin:django_liveness_subject_changelist"), data)
    assert not Subject.objects.exists() and not any(storage.exists(name) for storage, name in files)
    assert LivenessEvent.objects.filter(kind="subject_deleted", actor=user).count() == 2


def test_a_subject_with_sessions_is_erased_not_deleted(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    session = LivenessSessionFactory(completed=True)
    page = client.get(reverse("admin:django_liveness_subject_delete", args=[session.subject_id])).content.decode()
    assert "permission to delete" in page  # the sessions are the audit trail
    client.post(reverse("admin:django_liveness_subject_delete", args=[session.subject_id]), {"post": "yes"})
    assert LivenessSession.objects.filter(pk=session.pk).exists()


def test_reference_image_view_is_404_when_the_file_is_gone(client):
    client.force_login(staff("view_referenceimage"))
    image = ReferenceImageFactory()
    image.file.storage.delete(image.file.name)
    assert client.get(reverse("admin:django_liveness_referenceimage_file", args=[image.pk])).status_code == 404
    assert not LivenessEvent.objects.filter(kind="image_viewed").exists()


def test_cancel_skips_a_session_that_ended_meanwhile(reviewer, locmem, monkeypatch):
    from django_liveness.services import sessions

    session = services.start_session(SubjectFactory(), verify=False)
    end = sessions._end_without_result

    def result_arrives_first(session, *args, **kwargs):
        locmem.complete(session)
        services.refresh_session(session)
        return end(session, *args, **kwargs)

    monkeypatch.setattr(sessions, "_end_without_result", result_arrives_first)
    data = {"action": "cancel_sessions", "_selected_action": [session.pk], "confirmed": "yes"}
    response = reviewer.post(reverse(CHANGELIST), data, follow=True)
    assert response.status_code == 200
    notes = [(m.level_tag, m.message) for m in response.context["messages"]]
    assert notes == [("success", "0 sessions canceled.")]
    session.refresh_from_db()
    assert session.status == "completed"


def test_verify_result_without_a_confidence(viewer):
    session = LivenessSessionFactory(completed=True, kind="liveness_with_verify", is_identical=True, match_confidence=None)
    assert "same person" in viewer.get(reverse(CHANGELIST)).content.decode()
    page = viewer.get(row(session))
    assert page.status_code == 200 and "same person" in page.content.decode()


def test_the_change_form_saves_nothing_and_reviews_post_to_the_review_view(reviewer, uncertain_session):
    url = row(uncertain_session)
    page = reviewer.get(url).content.decode()
    change_form_ends = page.index("</form>", page.index('id="livenesssession_form"'))
    review_url = reverse("admin:django_liveness_livenesssession_review", args=[uncertain_session.pk])
    assert page.index(f'action="{review_url}"') > change_form_ends  # a nested form would post to the change view
    LivenessSession.objects.filter(pk=uncertain_session.pk).update(review_status="approved")  # a review meanwhile
    response = reviewer.post(url, {"decision": "rejected", "note": "x", "_save": "Save"})
    assert response.status_code == 302
    stored = LivenessSession.objects.get(pk=uncertain_session.pk)
    assert stored.review_status == "approved" and stored.updated_at == uncertain_session.updated_at


def test_no_admin_page_shows_the_auth_token(client, locmem):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    image = ReferenceImageFactory()
    session = services.start_session(image.subject, verify=True)
    assert session.auth_token
    event = LivenessEvent.objects.filter(session=session).first()
    pages = [
        reverse(CHANGELIST),
        f"{reverse(CHANGELIST)}?q={session.pk}",  # reverse(query=...) is Django 5.2+
        row(session),
        reverse("admin:django_liveness_livenesssession_history", args=[session.pk]),
        reverse("admin:django_liveness_subject_changelist"),
        reverse("admin:django_liveness_subject_change", args=[session.subject_id]),
        reverse("admin:django_liveness_subject_history", args=[session.subject_id]),
        reverse("admin:django_liveness_referenceimage_change", args=[image.pk]),
        reverse("admin:django_liveness_livenessevent_changelist"),
        reverse("admin:django_liveness_livenessevent_change", args=[event.pk]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert session.auth_token not in response.content.decode(), url


def form_fields(page, form_id):
    """The names of the fields a staff user could submit in one form of a page: those inside it that a
    form attribute does not give to another form, and those anywhere whose form attribute names it."""
    start = page.index(f'id="{form_id}"')
    end = page.index("</form>", start)
    names = set()
    for control in re.finditer(r"<(?:input|select|textarea|button)\b[^>]*>", page):
        owner = re.search(r'\bform="([^"]*)"', control.group())
        if (owner.group(1) == form_id) if owner else start < control.start() < end:
            names.update(re.findall(r'\bname="([^"]+)"', control.group()))
    return names


def test_nothing_the_provider_produced_is_editable(client, uncertain_session):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    event = LivenessEvent.objects.filter(session=uncertain_session).first()
    pages = {
        "livenesssession_form": row(uncertain_session),
        "referenceimage_form": reverse("admin:django_liveness_referenceimage_change", args=[uncertain_session.reference_image_id]),
        "livenessevent_form": reverse("admin:django_liveness_livenessevent_change", args=[event.pk]),
    }
    for form_id, url in pages.items():
        assert form_fields(client.get(url).content.decode(), form_id) <= {"csrfmiddlewaretoken"}, url


def test_editing_a_subject_keeps_a_verification_stored_meanwhile(client, monkeypatch):
    from django_liveness.admin import SubjectAdmin

    client.force_login(staff("view_subject", "change_subject"))
    subject = SubjectFactory(display_name="Ada")
    as_loaded = Subject.objects.get(pk=subject.pk)
    verified = timezone.now()
    Subject.objects.filter(pk=subject.pk).update(verified_at=verified)  # a pass lands while staff edit
    monkeypatch.setattr(SubjectAdmin, "get_object", lambda self, request, object_id, from_field=None: as_loaded)

    url = reverse("admin:django_liveness_subject_change", args=[subject.pk])
    response = client.post(url, {"external_id": subject.external_id, "display_name": "Ada L.", "user": ""})
    assert response.status_code == 302
    subject.refresh_from_db()
    assert (subject.display_name, subject.verified_at) == ("Ada L.", verified)


def field_text(page, field):
    """What a reader sees of one read-only field of an admin page."""
    return text(re.search(rf'field-{field}\b.*?<div class="readonly">(.*?)</div>', page, re.DOTALL).group(1))


def test_the_face_box_is_said_in_words(viewer, uncertain_session):
    box = {"left": 120, "top": 80, "width": 200, "height": 240}
    LivenessSession.objects.filter(pk=uncertain_session.pk).update(face_rectangle=box)
    ReferenceImage.objects.filter(pk=uncertain_session.reference_image_id).update(face_rectangle=box | {"left": 7})
    page = viewer.get(row(uncertain_session)).content.decode()
    assert field_text(page, "face_box") == "Face at 120, 80 px (left, top), 200 × 240 px"
    image = reverse("admin:django_liveness_referenceimage_change", args=[uncertain_session.reference_image_id])
    assert field_text(viewer.get(image).content.decode(), "face_box") == "Face at 7, 80 px (left, top), 200 × 240 px"
    LivenessSession.objects.filter(pk=uncertain_session.pk).update(face_rectangle=None)
    assert field_text(viewer.get(row(uncertain_session)).content.decode(), "face_box") == "-"


def test_the_review_form_comes_after_the_evidence_and_posts_on_its_own(reviewer, uncertain_session):
    page = reviewer.get(row(uncertain_session)).content.decode()
    assert page.index("liveness-evidence") < page.index('id="review"') < page.index("field-timeline")
    assert form_fields(page, "liveness-review") == {"csrfmiddlewaretoken", "decision", "note"}


def test_error_rows_show_only_for_a_session_with_an_error(viewer, uncertain_session):
    page = viewer.get(row(uncertain_session)).content.decode()
    assert "field-error_code" not in page and "field-error_message" not in page
    LivenessSession.objects.filter(pk=uncertain_session.pk).update(error_code="FaceNotFound", error_message="No face.")
    page = viewer.get(row(uncertain_session)).content.decode()
    assert field_text(page, "error_code") == "FaceNotFound" and field_text(page, "error_message") == "No face."
