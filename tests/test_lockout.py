"""Issue 14: a stable device correlation id per subject, and the lock after repeated failed checks,
through the REST API and the admin with the LocMemBackend."""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from django_liveness import services, signals
from django_liveness.conf import validate
from django_liveness.emulator.core import LIVENESS, LIVENESS_WITH_VERIFY
from django_liveness.exceptions import LivenessConfigurationError
from django_liveness.models import LivenessEvent, LivenessSession, WebhookDelivery
from django_liveness.testing import (
    ReferenceImageFactory,
    SubjectFactory,
    UserFactory,
    capture_signal,
    locmem_backend,
)
from django_liveness.webhooks import SUBJECT_LOCKED, create_endpoint

from .api_support import API, client_for, grant, start

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_liveness_subject_changelist"
NOW = timezone.now().replace(microsecond=0)
LOCKOUT = {"FAILURES": 5, "WINDOW_SECONDS": 900, "LOCK_SECONDS": 3600}


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    # The lockout, not the per-subject rate limit, is what these tests reach.
    settings.LIVENESS = {**settings.LIVENESS, "THROTTLE_RATES": dict.fromkeys(validate({})["THROTTLE_RATES"])}


def staff(*codenames):
    return grant(UserFactory(is_staff=True), *codenames)


def created_session(client, subject, **extra):
    response = start(client, subject, verify=extra.pop("verify", False), **extra)
    assert response.status_code == 201, response.json()
    return LivenessSession.objects.get(pk=response.json()["id"])


def sent_to_provider(locmem, session):
    """The create parameters the emulated Face service received for ``session``."""
    kind = LIVENESS_WITH_VERIFY if session.is_verify else LIVENESS
    return locmem.emulator.get_session(kind, session.provider_session_id).params


def fail(client, subject, *, verify=False):
    """One session whose result fails: a spoof, or (verify) a different person."""
    locmem = locmem_backend()  # the one built for the settings of the moment
    session = created_session(client, subject, verify=verify)
    if verify:
        locmem.complete(session, same_person=False)
    else:
        locmem.complete(session, decision="spoofface")
    body = client.post(f"{API}/sessions/{session.pk}/complete/").json()
    assert body["outcome"] == "failed"
    return session


# --- the device correlation id -----------------------------------------------------------------


def test_a_subject_sends_one_device_id_for_all_its_sessions_and_another_subject_another(owner, subject, locmem):
    client = client_for(owner)
    first, second = created_session(client, subject), created_session(client, subject)
    other_subject = SubjectFactory(user=UserFactory())
    other = created_session(client_for(other_subject.user), other_subject)

    subject.refresh_from_db()
    assert str(uuid.UUID(subject.device_correlation_id)) == subject.device_correlation_id  # a random UUID
    assert first.device_correlation_id == second.device_correlation_id == subject.device_correlation_id
    assert sent_to_provider(locmem, first).device_correlation_id == subject.device_correlation_id
    assert sent_to_provider(locmem, second).device_correlation_id == subject.device_correlation_id
    assert other.device_correlation_id not in ("", subject.device_correlation_id)
    creates = [call["device_correlation_id"] for operation, call in locmem.calls if operation == "create_session"]
    assert creates == [subject.device_correlation_id, subject.device_correlation_id, other.device_correlation_id]


def test_an_app_s_own_device_id_is_used_when_sent(app_user, subject, locmem):
    session = created_session(client_for(app_user), subject, device_correlation_id="phone-42")
    assert session.device_correlation_id == "phone-42"
    assert sent_to_provider(locmem, session).device_correlation_id == "phone-42"


@pytest.mark.parametrize("api_version", ["v1.2", "v1.2-preview.1"])
@pytest.mark.parametrize("verify", [False, True])
def test_set_in_client_sends_the_flag_and_no_id(app_user, subject, settings, api_version, verify):
    settings.LIVENESS = {**settings.LIVENESS, "OPTIONS": {"api_version": api_version}}
    ReferenceImageFactory(subject=subject)
    locmem = locmem_backend()
    session = created_session(client_for(app_user), subject, verify=verify, device_correlation_id_set_in_client=True)

    params = sent_to_provider(locmem, session)
    assert (params.device_correlation_id_set_in_client, params.device_correlation_id) == (True, None)
    assert locmem.calls[-1][1]["device_correlation_id"] is None
    assert session.device_correlation_id == ""


def test_an_id_and_set_in_client_together_are_refused(owner, subject, locmem):
    response = start(
        client_for(owner), subject, verify=False, device_correlation_id="x", device_correlation_id_set_in_client=True
    )
    assert response.status_code == 400
    assert response.json()["code"] == "device_correlation_id_set_in_client"
    assert locmem.calls == [] and not LivenessSession.objects.exists()


def test_staff_reset_the_device_id_and_the_next_session_gets_a_new_one(owner, subject, client, locmem):
    first = created_session(client_for(owner), subject)
    reviewer = staff("view_subject", "change_subject")
    client.force_login(reviewer)
    data = {"action": "reset_device_correlation_id", "_selected_action": [subject.pk]}
    assert "Reset the device correlation id?" in client.post(reverse(CHANGELIST), data).content.decode()
    client.post(reverse(CHANGELIST), {**data, "confirmed": "yes"})

    event = LivenessEvent.objects.get(kind="device_id_reset")
    assert (event.subject_id, event.actor, event.data) == (
        subject.pk,
        reviewer,
        {"previous": first.device_correlation_id},
    )
    following = created_session(client_for(owner), subject)
    assert following.device_correlation_id not in ("", first.device_correlation_id)
    assert sent_to_provider(locmem, following).device_correlation_id == following.device_correlation_id


# --- the lockout -------------------------------------------------------------------------------


def test_five_failures_in_the_window_lock_the_subject_once(
    owner, subject, settings, django_capture_on_commit_callbacks
):
    settings.LIVENESS = {**settings.LIVENESS, "LOCKOUT": LOCKOUT}
    locmem = locmem_backend()
    create_endpoint("https://example.com/hook", events=[SUBJECT_LOCKED])
    ReferenceImageFactory(subject=subject)
    client = client_for(owner)
    with time_machine.travel(NOW, tick=False) as clock, capture_signal(signals.subject_locked) as locked:
        with django_capture_on_commit_callbacks(execute=True):
            for verify in (False, True, False, True):  # spoofs and a different person both count
                fail(client, subject, verify=verify)
                clock.shift(60)
        subject.refresh_from_db()
        assert subject.locked_until is None and locked == []  # not after 4

        with django_capture_on_commit_callbacks(execute=True):
            fail(client, subject)
        subject.refresh_from_db()
        until = timezone.now() + timedelta(seconds=3600)
        assert subject.locked_until == until
        assert locked == [{"sender": LivenessSession, "subject": subject, "locked_until": until, "failures": 5}]

        calls = len(locmem.calls)
        refused = start(client, subject, verify=False)
        assert refused.status_code == 429
        assert refused.json()["code"] == "subject_locked"
        assert refused["Retry-After"] == "3600"
        assert len(locmem.calls) == calls and LivenessSession.objects.count() == 5  # nothing stored, no provider call

    event = LivenessEvent.objects.get(kind="subject_locked")
    assert (event.subject_id, event.data["failures"]) == (subject.pk, 5)
    delivery = WebhookDelivery.objects.get(event_type="subject.locked")
    assert delivery.payload["data"] == {
        "subject": {"id": str(subject.pk), "external_id": subject.external_id},
        "locked_until": until.isoformat().replace("+00:00", "Z"),
        "failures": 5,
    }


def test_a_failure_stored_while_locked_does_not_lock_again(
    owner, subject, settings, django_capture_on_commit_callbacks
):
    settings.LIVENESS = {**settings.LIVENESS, "LOCKOUT": {**LOCKOUT, "FAILURES": 2}}
    locmem = locmem_backend()
    client = client_for(owner)
    open_one = created_session(client, subject)  # started before the lock, completed after it
    with capture_signal(signals.subject_locked) as locked, django_capture_on_commit_callbacks(execute=True):
        fail(client, subject)
        fail(client, subject)
        locmem.complete(open_one, decision="spoofface")
        client.post(f"{API}/sessions/{open_one.pk}/complete/")
    assert len(locked) == 1 and LivenessEvent.objects.filter(kind="subject_locked").count() == 1


def test_failures_spread_beyond_the_window_do_not_lock(owner, subject, settings):
    settings.LIVENESS = {**settings.LIVENESS, "LOCKOUT": LOCKOUT}
    client = client_for(owner)
    with time_machine.travel(NOW, tick=False) as clock:
        for _ in range(8):
            fail(client, subject)
            clock.shift(240)  # four failures at most in any 15 minutes
    subject.refresh_from_db()
    assert subject.locked_until is None


def test_approved_failures_do_not_count(owner, subject, settings):
    settings.LIVENESS = {**settings.LIVENESS, "LOCKOUT": LOCKOUT}
    client = client_for(owner)
    approved = fail(client, subject)
    services.review_session(approved, reviewer=UserFactory(), decision="approved", note="a glare, checked by phone")
    for _ in range(4):
        fail(client, subject)
    subject.refresh_from_db()
    assert subject.locked_until is None
    fail(client, subject)
    subject.refresh_from_db()
    assert subject.locked_until is not None


def test_low_confidence_and_uncertain_results_do_not_count(owner, subject, settings):
    # The service finds the same person (0.92), below this host's threshold: a low confidence.
    settings.LIVENESS = {
        **settings.LIVENESS,
        "LOCKOUT": {**LOCKOUT, "FAILURES": 1},
        "VERIFY_CONFIDENCE_THRESHOLD": 0.99,  # far above 0.92: outside the review band around it
    }
    locmem = locmem_backend()
    ReferenceImageFactory(subject=subject)
    client = client_for(owner)
    session = created_session(client, subject, verify=True)
    locmem.complete(session)
    assert client.post(f"{API}/sessions/{session.pk}/complete/").json()["outcome"] == "failed"
    session = created_session(client, subject)
    locmem.complete(session, decision="uncertain")
    client.post(f"{API}/sessions/{session.pk}/complete/")
    subject.refresh_from_db()
    assert subject.locked_until is None


def test_the_lock_ends_after_lock_seconds_and_counting_starts_again(owner, subject, settings):
    settings.LIVENESS = {**settings.LIVENESS, "LOCKOUT": {**LOCKOUT, "FAILURES": 2}}
    client = client_for(owner)
    with time_machine.travel(NOW, tick=False) as clock:
        fail(client, subject)
        fail(client, subject)
        clock.shift(3599)
        assert start(client, subject, verify=False)["Retry-After"] == "1"
        clock.shift(1)
        fail(client, subject)  # the failures that caused the lock no longer count
        subject.refresh_from_db()
        assert subject.locked_until == NOW + timedelta(seconds=3600)


def test_staff_lift_the_lock_and_earlier_failures_no_longer_count(owner, subject, client, settings):
    settings.LIVENESS = {**settings.LIVENESS, "LOCKOUT": {**LOCKOUT, "FAILURES": 2}}
    api = client_for(owner)
    fail(api, subject)
    fail(api, subject)
    reviewer = staff("view_subject", "change_subject")
    client.force_login(reviewer)
    page = client.get(reverse("admin:django_liveness_subject_change", args=[subject.pk])).content.decode()
    assert "Locked until" in page
    listed = client.get(reverse(CHANGELIST), {"locked": "yes"}).context["cl"].result_list
    assert list(listed) == [subject]

    data = {"action": "lift_lock", "_selected_action": [subject.pk]}
    assert "Lift the lock?" in client.post(reverse(CHANGELIST), data).content.decode()
    client.post(reverse(CHANGELIST), {**data, "confirmed": "yes"})

    event = LivenessEvent.objects.get(kind="lock_lifted")
    assert (event.subject_id, event.actor) == (subject.pk, reviewer)
    assert list(client.get(reverse(CHANGELIST), {"locked": "yes"}).context["cl"].result_list) == []
    assert (
        "Not locked" in client.get(reverse("admin:django_liveness_subject_change", args=[subject.pk])).content.decode()
    )
    fail(api, subject)  # one failure after the lift: below the limit
    subject.refresh_from_db()
    assert not services.is_locked(subject)


def test_lockout_none_disables_it(owner, subject, settings):
    settings.LIVENESS = {**settings.LIVENESS, "LOCKOUT": None}
    client = client_for(owner)
    with capture_signal(signals.subject_locked) as locked:
        for _ in range(6):
            fail(client, subject)
    subject.refresh_from_db()
    assert subject.locked_until is None and locked == []
    assert start(client, subject, verify=False).status_code == 201


@pytest.mark.parametrize(
    "lockout", [{"FAILURES": 0}, {"WINDOW_SECONDS": True}, {"LOCK_SECONDS": "1h"}, {"UNKNOWN": 1}, []]
)
def test_a_wrong_lockout_setting_is_refused(lockout):
    with pytest.raises(LivenessConfigurationError, match="LOCKOUT"):
        validate({"LOCKOUT": lockout})


def test_a_refused_start_uses_up_no_rate_limit_quota(owner, subject, settings):
    settings.LIVENESS = {**settings.LIVENESS, "THROTTLE_RATES": {"session_create_subject": "1/hour"}}
    client = client_for(owner)
    subject.locked_until = timezone.now() + timedelta(minutes=5)
    subject.save(update_fields=["locked_until"])
    assert [start(client, subject, verify=False).json()["code"] for _ in range(3)] == ["subject_locked"] * 3
    services.lift_lock(subject)
    assert start(client, subject, verify=False).status_code == 201
    assert start(client, subject, verify=False).json()["code"] == "throttled"  # the one start was counted
