"""What an ordinary signed-in user could abuse (issue 23): refused but costly requests that the rate
limits did not count, limits that concurrent requests slipped past, create options that weaken the
check, and complete/ as an unbounded provider call. With LocMemBackend; the PostgreSQL tests send
real concurrent requests."""

import threading
import time

import pytest
import time_machine
from django.test import Client
from django.utils import timezone, translation
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from django_liveness import services
from django_liveness.common import costly_work
from django_liveness.api.throttling import RateLimitMixin, SessionCreateUserThrottle
from django_liveness.backends.locmem import LocMemBackend
from django_liveness.exceptions import ProviderUnavailable
from django_liveness.images import sample_face_image
from django_liveness.models import LivenessEvent, LivenessSession, ReferenceImage
from django_liveness.testing import SubjectFactory, UserFactory, locmem_backend

from .api_support import API, client_for, start, upload
from .conftest import past_the_fetch_window
from .test_capture_link import open_link, page_config, started_page
from .threads import in_threads

pytestmark = pytest.mark.django_db


def limit(settings, **rates):
    settings.LIVENESS = {**settings.LIVENESS, "THROTTLE_RATES": rates}


def provider_calls(locmem, operation):
    return [name for name, _ in locmem.calls].count(operation)


# --- costly refusals count; refusals before any work do not -----------------------------------------


def test_a_refused_upload_that_was_decoded_counts_against_the_upload_limit(owner, subject, settings):
    limit(settings, upload_user="1/hour")
    client = client_for(owner)
    refused = upload(client, subject, sample_face_image()[:2000])  # a truncated JPEG: read and decoded, then refused
    assert refused.status_code == 400 and refused.json()["fields"]["image"]
    throttled = upload(client, subject)
    assert throttled.status_code == 429 and throttled.json()["code"] == "throttled" and int(throttled["Retry-After"]) > 0
    assert not ReferenceImage.objects.exists()


def test_an_upload_refused_before_any_work_does_not_count(owner, settings):
    limit(settings, upload_user="1/hour", upload_subject="1/hour")
    subject = SubjectFactory(user=owner, consent=False)
    client = client_for(owner)
    assert [upload(client, subject).json()["code"] for _ in range(3)] == ["consent_required"] * 3
    services.grant_consent(subject, policy_version="1", text="I agree.", purpose="test")
    assert [upload(client, subject).status_code for _ in range(2)] == [201, 429]


def test_a_start_refused_after_its_provider_call_counts(owner, subject, settings):
    limit(settings, session_create_user="1/hour")
    locmem = locmem_backend()  # the one the settings above built
    client = client_for(owner)
    locmem.fail_next(ProviderUnavailable("down", status=503))
    assert start(client, subject, verify=False).json()["code"] == "provider_unavailable"
    throttled = start(client, subject, verify=False)
    assert throttled.status_code == 429 and throttled.json()["code"] == "throttled"
    assert provider_calls(locmem, "create_session") == 1


def test_a_start_refused_before_the_provider_call_does_not_count(owner, subject, settings):
    limit(settings, session_create_user="1/hour", session_create_subject="1/hour")
    client = client_for(owner)
    assert start(client, subject, verify=True).json()["code"] == "no_reference_image"  # no provider call
    assert [start(client, subject, verify=False).status_code for _ in range(2)] == [201, 429]


class LimitedView(RateLimitMixin, APIView):
    pass


def test_concurrent_requests_cannot_all_slip_under_a_limit(settings):
    """Every request checks its limit while the others are still working: with a check before the work
    and a count after it, all five passed a limit of one."""
    limit(settings, session_create_user="1/hour")
    user = UserFactory()
    everyone_tried = threading.Barrier(5)
    passed, refused = [], []

    def request():
        view = LimitedView()
        view.request = Request(APIRequestFactory().post("/"))
        view.request.user = user
        try:
            with view.rate_limits(SessionCreateUserThrottle()):
                costly_work.spend()
                everyone_tried.wait()  # the work takes until every other request has been checked
                passed.append(1)
        except Throttled:
            refused.append(1)
            everyone_tried.wait()

    threads = [threading.Thread(target=request) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(passed), len(refused)) == (1, 4)


class SlowLocMemBackend(LocMemBackend):
    """The in-memory provider, slow to create a session: concurrent requests overlap for sure."""

    def create_session(self, **kwargs):
        time.sleep(0.3)
        return super().create_session(**kwargs)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_five_concurrent_starts_under_a_limit_of_one_start_one_session(settings):
    settings.LIVENESS = {
        "BACKEND": f"{__name__}.SlowLocMemBackend",
        "THROTTLE_RATES": {"session_create_user": "1/hour"},
    }
    owner = UserFactory()
    subject = SubjectFactory(user=owner)
    answers = in_threads(5, lambda: start(client_for(owner), subject, verify=False).status_code)
    assert sorted(answers) == [201, 429, 429, 429, 429]
    assert LivenessSession.objects.count() == 1 and provider_calls(locmem_backend(), "create_session") == 1


# --- the liveness mode and the device id are the server's ------------------------------------------


@pytest.mark.parametrize(
    "option",
    [
        {"operation_mode": "Passive"},
        {"operation_mode": "PassiveActive"},
        {"device_correlation_id": "a-fresh-device-every-try"},
        {"device_correlation_id_set_in_client": True},
    ],
)
def test_an_ordinary_user_may_not_choose_the_mode_or_the_device_id(owner, subject, settings, option):
    settings.LIVENESS = {**settings.LIVENESS, "OPERATION_MODE": "PassiveActive"}
    locmem = locmem_backend()
    refused = start(client_for(owner), subject, verify=False, **option)
    assert refused.status_code == 403
    body = refused.json()
    assert body["code"] == "session_option_not_allowed"
    assert list(option)[0] in body["detail"] and "add_livenesssession" in body["detail"]
    assert locmem.calls == [] and not LivenessSession.objects.exists()


def test_the_refusal_answers_in_the_request_s_language(owner, subject, locmem):
    with translation.override("fr"):
        refused = start(client_for(owner), subject, verify=False, operation_mode="Passive")
    assert refused.json()["detail"].startswith("operation_mode : c’est le serveur qui les choisit")


def test_an_ordinary_user_s_session_gets_the_server_s_mode_and_the_subject_s_device_id(owner, subject, settings):
    settings.LIVENESS = {**settings.LIVENESS, "OPERATION_MODE": "PassiveActive"}
    locmem = locmem_backend()
    assert start(client_for(owner), subject, verify=False, device_correlation_id_set_in_client=False).status_code == 201
    subject.refresh_from_db()
    [(operation, sent)] = locmem.calls
    assert (sent["operation_mode"], sent["device_correlation_id"]) == ("PassiveActive", subject.device_correlation_id)
    assert LivenessSession.objects.get().operation_mode == "PassiveActive"


def test_an_app_may_choose_the_mode_and_the_device_id(app_user, subject, settings):
    settings.LIVENESS = {**settings.LIVENESS, "OPERATION_MODE": "PassiveActive"}
    locmem = locmem_backend()
    created = start(client_for(app_user), subject, verify=False, operation_mode="Passive", device_correlation_id="kiosk-7")
    assert created.status_code == 201
    [(operation, sent)] = locmem.calls
    assert (sent["operation_mode"], sent["device_correlation_id"]) == ("Passive", "kiosk-7")


# --- complete/: one provider call per session per COMPLETE_MIN_INTERVAL_SECONDS -----------------------


@pytest.fixture
def session_id(owner, subject, locmem):
    return start(client_for(owner), subject, verify=False).json()["id"]


def open_session(owner, subject):
    """A new open session's id, and the backend that holds it (made after any settings change)."""
    return start(client_for(owner), subject, verify=False).json()["id"], locmem_backend()


def test_fifty_completes_of_an_open_session_make_one_provider_call(owner, session_id, locmem):
    client = client_for(owner)
    with time_machine.travel(timezone.now(), tick=False):
        answers = [client.post(f"{API}/sessions/{session_id}/complete/") for _ in range(50)]
    assert {answer.status_code for answer in answers} == {200}
    assert {answer.json()["status"] for answer in answers} == {"created"}
    assert {answer["Retry-After"] for answer in answers} == {"5"}
    assert provider_calls(locmem, "get_result") == 1


def test_the_window_ends_and_the_next_complete_fetches_the_result(owner, session_id, locmem):
    client = client_for(owner)
    client.post(f"{API}/sessions/{session_id}/complete/")
    locmem.complete(LivenessSession.objects.get())
    early = client.post(f"{API}/sessions/{session_id}/complete/")
    assert (early.json()["status"], int(early["Retry-After"])) == ("created", 5)
    with past_the_fetch_window():
        done = client.post(f"{API}/sessions/{session_id}/complete/")
    assert (done.status_code, done.json()["outcome"]) == (200, "passed") and "Retry-After" not in done
    assert provider_calls(locmem, "get_result") == 2


def test_inside_the_window_the_answer_is_what_is_stored_now(subject, locmem):
    session = services.start_session(subject, verify=False)
    read_before = LivenessSession.objects.get(pk=session.pk)  # another process's copy, read earlier
    locmem.complete(session)
    assert services.refresh_session(session).status == "completed"
    assert services.refresh_session(read_before).status == "completed"  # no fetch, but not stale
    assert provider_calls(locmem, "get_result") == 1


def test_a_provider_outage_costs_one_call_and_one_event_per_window(owner, session_id, locmem):
    locmem.fail_next(ProviderUnavailable("down", status=503), times=50)
    client = client_for(owner)
    answers = [client.post(f"{API}/sessions/{session_id}/complete/").status_code for _ in range(50)]
    assert answers == [503] + [200] * 49
    assert provider_calls(locmem, "get_result") == 1
    assert LivenessEvent.objects.filter(kind="remote_error").count() == 1


def hosted_page(capture_url):
    """The hosted page's calls after the link was opened: (a client with its page token, complete's URL)."""
    browser, started = started_page(capture_url)
    config = page_config(open_link(capture_url, browser)) | started
    return Client(headers=config["headers"]), config["urls"]["complete"]


def test_the_hosted_pages_completes_share_the_window(owner, subject, locmem):
    page, complete_url = hosted_page(start(client_for(owner), subject, verify=False).json()["capture_url"])
    with time_machine.travel(timezone.now(), tick=False):
        answers = [page.post(complete_url) for _ in range(50)]
        api = client_for(owner).post(f"{API}/sessions/{LivenessSession.objects.get().pk}/complete/")
    assert {answer.status_code for answer in answers} == {api.status_code} == {200}
    assert provider_calls(locmem, "get_result") == 1


def test_in_background_fifty_completes_queue_one_fetch(owner, subject, settings):
    settings.LIVENESS = {**settings.LIVENESS, "COMPLETE_IN_BACKGROUND": True}
    session_id, locmem = open_session(owner, subject)
    client = client_for(owner)
    with time_machine.travel(timezone.now(), tick=False):
        answers = [client.post(f"{API}/sessions/{session_id}/complete/") for _ in range(50)]
    assert {(answer.status_code, answer.json()["status"]) for answer in answers} == {(202, "created")}
    assert provider_calls(locmem, "get_result") == 1


def in_the_middle_of_an_hour():
    """Half past the current hour: "1/hour" counts in fixed windows of a clock hour, and a test run
    just before the hour would see its later request in a new window."""
    return time_machine.travel(timezone.now().replace(minute=30, second=0))


def test_complete_is_rate_limited_per_user_counting_provider_calls_only(owner, subject, settings):
    limit(settings, complete_user="1/hour")
    with in_the_middle_of_an_hour():
        session_id, locmem = open_session(owner, subject)
        client = client_for(owner)
        assert [client.post(f"{API}/sessions/{session_id}/complete/").status_code for _ in range(3)] == [200] * 3
        with past_the_fetch_window():
            throttled = client.post(f"{API}/sessions/{session_id}/complete/")
    assert throttled.status_code == 429 and throttled.json()["code"] == "throttled"
    assert provider_calls(locmem, "get_result") == 1


def test_the_hosted_pages_complete_is_rate_limited_per_page_token(owner, subject, settings):
    limit(settings, complete_session="1/hour")
    with in_the_middle_of_an_hour():
        page, complete_url = hosted_page(start(client_for(owner), subject, verify=False).json()["capture_url"])
        locmem = locmem_backend()
        assert page.post(complete_url).status_code == 200
        with past_the_fetch_window():
            throttled = page.post(complete_url)
    assert throttled.status_code == 429 and throttled.json()["code"] == "throttled"
    assert provider_calls(locmem, "get_result") == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_completes_in_several_connections_make_one_provider_call(settings):
    settings.LIVENESS = {"BACKEND": "django_liveness.backends.locmem.LocMemBackend"}
    owner = UserFactory()
    subject = SubjectFactory(user=owner)
    session_id = start(client_for(owner), subject, verify=False).json()["id"]
    answers = in_threads(8, lambda: client_for(owner).post(f"{API}/sessions/{session_id}/complete/").status_code)
    assert answers == [200] * 8
    assert provider_calls(locmem_backend(), "get_result") == 1
