"""Prometheus metrics: a lifecycle against the emulator (GA client and preview SDK), then the view is
scraped and every value is checked; the gauges, the view's protection, gunicorn's multiprocess mode,
and a host without the extra."""

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from django_liveness import services
from django_liveness.exceptions import LivenessConfigurationError, ProviderUnavailable, Throttled
from django_liveness.models import LivenessSession
from django_liveness.services import face_resource
from django_liveness.testing import LivenessSessionFactory, ReferenceImageFactory, SubjectFactory, UserFactory

from .conftest import API_VERSIONS, past_the_fetch_window

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.metrics_urls")]

TOKEN = "metrics-token-for-tests-only"
ROOT = Path(__file__).resolve().parent.parent
Review = LivenessSession.ReviewStatus


@pytest.fixture
def metrics_token(settings):
    """The metrics token added to whatever LIVENESS the test runs with (after ``azure_backend``)."""
    settings.LIVENESS = {**settings.LIVENESS, "METRICS": {"TOKEN": TOKEN}}


def scrape(client, **headers):
    """The view's samples as {(name, (label pairs ...)): value}."""
    response = client.get("/metrics/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **headers)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"].startswith("max-age=0")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def changes(before, after, prefix):
    """What the samples named ``prefix``... gained between two scrapes (the metrics live as long as the
    process), leaving out the counters' ``_created`` timestamps."""
    return {
        (name, labels): value - before.get((name, labels), 0)
        for (name, labels), value in after.items()
        if name.startswith(prefix) and not name.endswith("_created") and value != before.get((name, labels), 0)
    }


@pytest.mark.parametrize("api_version", API_VERSIONS)
def test_a_lifecycle_is_counted_and_scraped(
    azure_backend, metrics_token, emulator_server, frontend, client, django_capture_on_commit_callbacks
):
    before = scrape(client)

    def completed(verify, decision):
        subject = SubjectFactory()
        if verify:
            ReferenceImageFactory(subject=subject)
        with django_capture_on_commit_callbacks(execute=True):
            session = services.start_session(subject, verify=verify)
        frontend(session.auth_token, verify=verify, decision=decision)
        with django_capture_on_commit_callbacks(execute=True):
            return services.refresh_session(session)

    assert completed(False, "realface").outcome == "passed"
    assert completed(True, "spoofface").outcome == "failed"
    uncertain = completed(False, "uncertain")
    with django_capture_on_commit_callbacks(execute=True):
        services.review_session(uncertain, reviewer=UserFactory(), decision=Review.APPROVED, note="Same face.")
    assert completed(True, "uncertain").review_status == Review.PENDING  # stays in the backlog
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_session(services.start_session(SubjectFactory(), verify=False))
    with django_capture_on_commit_callbacks(execute=True):
        still_open = services.start_session(SubjectFactory(), verify=False)
    emulator_server.state.faults.configure(throttle_next=1, retry_after=60)  # above max_retry_after: no retry
    with pytest.raises(Throttled):
        services.refresh_session(still_open)
    emulator_server.state.faults.configure(error_next=4, error_status=500)  # the first call and its 3 retries
    with pytest.raises(ProviderUnavailable), past_the_fetch_window():
        services.refresh_session(still_open)

    after = scrape(client)
    assert changes(before, after, "liveness_sessions_") == {
        ("liveness_sessions_created_total", (("kind", "liveness"),)): 4,
        ("liveness_sessions_created_total", (("kind", "liveness_with_verify"),)): 2,
        ("liveness_sessions_completed_total", (("kind", "liveness"), ("outcome", "passed"))): 1,
        ("liveness_sessions_completed_total", (("kind", "liveness"), ("outcome", "needs_review"))): 1,
        ("liveness_sessions_completed_total", (("kind", "liveness_with_verify"), ("outcome", "failed"))): 1,
        ("liveness_sessions_completed_total", (("kind", "liveness_with_verify"), ("outcome", "needs_review"))): 1,
        ("liveness_sessions_ended_total", (("kind", "liveness"), ("status", "canceled"))): 1,
    }
    assert changes(before, after, "liveness_reviews_total") == {
        ("liveness_reviews_total", (("decision", "approved"),)): 1
    }
    assert changes(before, after, "liveness_provider_errors_total") == {
        ("liveness_provider_errors_total", (("code", "throttled"), ("operation", "get_result"))): 1,
        ("liveness_provider_errors_total", (("code", "unavailable"), ("operation", "get_result"))): 1,
    }
    calls = {
        dict(labels)["operation"]: value
        for (name, labels), value in changes(before, after, "liveness_provider_request_duration_seconds_count").items()
    }
    # Four results fetched, and twice a failed fetch; each result deletes its session, as does the cancel;
    # the verify sessions' captures are kept as review evidence.
    assert calls == {"create": 4, "create_verify": 2, "get_result": 6, "delete": 5, "get_session_image": 2}
    assert changes(before, after, "liveness_time_to_result_seconds_count") == {
        ("liveness_time_to_result_seconds_count", (("kind", "liveness"),)): 2,
        ("liveness_time_to_result_seconds_count", (("kind", "liveness_with_verify"),)): 2,
    }
    assert after[("liveness_review_backlog_sessions", ())] == 1
    assert 0 <= after[("liveness_review_backlog_oldest_age_seconds", ())] < 60
    assert after[("liveness_open_sessions", (("status", "created"),))] == 1
    assert after[("liveness_open_sessions", (("status", "started"),))] == 0


def test_the_gauges_are_read_at_scrape_time(metrics_token, client, django_assert_num_queries):
    now = timezone.now()
    with time_machine.travel(now - timedelta(hours=2), tick=False):
        LivenessSessionFactory(completed=True, outcome="needs_review", review_status=Review.PENDING)
    with time_machine.travel(now - timedelta(minutes=5), tick=False):
        LivenessSessionFactory(completed=True, outcome="needs_review", review_status=Review.PENDING)
    LivenessSessionFactory(completed=True, outcome="needs_review", review_status=Review.APPROVED)
    LivenessSessionFactory(status="started")
    LivenessSessionFactory.create_batch(2)  # created
    LivenessSessionFactory(status="expired")

    with time_machine.travel(now, tick=False), django_assert_num_queries(2):  # the gauges' two aggregates
        samples = scrape(client)

    assert samples[("liveness_review_backlog_sessions", ())] == 2
    assert samples[("liveness_review_backlog_oldest_age_seconds", ())] == 7200
    assert samples[("liveness_open_sessions", (("status", "created"),))] == 2
    assert samples[("liveness_open_sessions", (("status", "started"),))] == 1


def test_an_empty_backlog_is_zero(metrics_token, client):
    samples = scrape(client)
    assert samples[("liveness_review_backlog_sessions", ())] == 0
    assert samples[("liveness_review_backlog_oldest_age_seconds", ())] == 0


def test_openmetrics_when_the_scraper_asks(metrics_token, client):
    response = client.get(
        "/metrics/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0"
    )
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().rstrip().endswith("# EOF")


def staff(*, is_staff=True, permission=True):
    user = UserFactory(is_staff=is_staff)
    if permission:
        user.user_permissions.add(Permission.objects.get(codename="view_livenesssession"))
    return user


@pytest.mark.parametrize(
    "token, authorization, user, status",
    [
        (None, "", None, 403),
        (TOKEN, "", None, 403),
        (TOKEN, f"Bearer {TOKEN}x", None, 403),
        (TOKEN, f"Basic {TOKEN}", None, 403),
        (None, "Bearer ", None, 403),  # no token configured: no empty one matches
        (TOKEN, f"Bearer {TOKEN}", None, 200),
        (TOKEN, f"bearer {TOKEN}", None, 200),
        (None, "", {}, 200),
        (None, "", {"permission": False}, 403),
        (None, "", {"is_staff": False}, 403),
    ],
)
def test_the_view_answers_only_the_scraper_and_staff(client, settings, token, authorization, user, status):
    settings.LIVENESS = {**settings.LIVENESS, "METRICS": {"TOKEN": token}}
    if user is not None:
        client.force_login(staff(**user))
    response = client.get("/metrics/", HTTP_AUTHORIZATION=authorization)
    assert response.status_code == status
    assert (b"liveness_open_sessions" in response.content) == (status == 200)


def test_the_view_only_reads(metrics_token, client):
    assert client.post("/metrics/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


@pytest.mark.parametrize("token", ["fifteen-letters", 12345678901234567890, ""])
def test_a_weak_token_is_a_configuration_error(settings, token):
    from django_liveness.conf import liveness_settings

    settings.LIVENESS = {**settings.LIVENESS, "METRICS": {"TOKEN": token}}
    with pytest.raises(LivenessConfigurationError, match=r"METRICS.*TOKEN.*at least 16 characters") as raised:
        _ = liveness_settings.METRICS
    assert not token or str(token) not in str(raised.value)  # the message never repeats a secret


@pytest.mark.parametrize("tracing", ["yes", None])
def test_tracing_is_true_or_false(settings, tracing):
    from django_liveness.conf import liveness_settings

    settings.LIVENESS = {**settings.LIVENESS, "TRACING": tracing}
    with pytest.raises(LivenessConfigurationError, match=r"LIVENESS\['TRACING'\] must be True or False"):
        _ = liveness_settings.TRACING


RECORD_IN_A_WORKER = """
import os, sys, types
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
django.setup()
from django_liveness import signals
from django_liveness.observability import metrics
from django_liveness.models import LivenessSession
session = types.SimpleNamespace(kind=sys.argv[1], created_at=None, completed_at=None)
for _ in range(int(sys.argv[2])):
    signals.session_created.send(sender=LivenessSession, session=session, subject=None)
metrics.observe_provider_call("create", 0.2, "throttled")
"""


def test_gunicorn_workers_are_summed_in_multiprocess_mode(metrics_token, client, tmp_path, monkeypatch):
    """Two worker processes count into PROMETHEUS_MULTIPROC_DIR; a scrape in a third reads both."""
    environment = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for kind, times in (("liveness", 3), ("liveness_with_verify", 2)):
        worker = subprocess.run(
            [sys.executable, "-c", RECORD_IN_A_WORKER, kind, str(times)],
            check=False, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60,
        )
        assert worker.returncode == 0, worker.stderr
    assert len(list(tmp_path.glob("*.db"))) >= 2  # one file per process and metric type

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = scrape(client)

    created = {labels: value for (name, labels), value in samples.items() if name == "liveness_sessions_created_total"}
    # The workers' counts only: this process's own are not read.
    assert created == {(("kind", "liveness"),): 3, (("kind", "liveness_with_verify"),): 2}
    assert samples[("liveness_provider_errors_total", (("code", "throttled"), ("operation", "create")))] == 2
    assert samples[("liveness_provider_request_duration_seconds_count", (("operation", "create"),))] == 2
    assert samples[("liveness_open_sessions", (("status", "created"),))] == 0  # the gauges, once, from the database


WITHOUT_THE_EXTRAS = """
import os, sys
for name in ("prometheus_client", "opentelemetry"):
    sys.modules[name] = None  # as if not installed: importing them raises ImportError
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django_liveness import services
from django_liveness.exceptions import LivenessConfigurationError
from django_liveness.testing import SubjectFactory, locmem_backend
session = services.start_session(SubjectFactory(), verify=False)
locmem_backend().complete(session)
assert services.refresh_session(session).outcome == "passed"
try:
    import django_liveness.observability.metrics.views
except LivenessConfigurationError as error:
    print(error)
loaded = sorted(n for n, m in sys.modules.items() if n.startswith(("prometheus_client", "opentelemetry")) and m)
print("loaded:", loaded)
"""


def test_a_host_without_the_extras_runs_sessions_and_mounting_the_view_says_what_to_install():
    environment = {name: value for name, value in os.environ.items() if name != "LIVENESS_TEST_DB"}  # in memory
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_THE_EXTRAS],
        check=False, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    message, loaded = result.stdout.strip().splitlines()
    assert 'pip install "django-liveness[metrics]"' in message
    assert loaded == "loaded: []"


def test_every_metric_the_docs_name_is_served(metrics_token, client):
    """The metrics table and the alerting rules of docs/operations.md name only metrics the view serves."""
    response = client.get("/metrics/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    served = {family.name for family in text_string_to_metric_families(response.content.decode())}
    docs = (ROOT / "docs" / "operations.md").read_text()
    table = re.findall(r"^\| `(liveness_\w+)`", docs, re.MULTILINE)
    rules = re.findall(r"\bliveness_\w+", docs.split("## Alerting")[1].split("```")[1])
    documented = set(table) | set(rules)
    # A family's name without the suffixes its samples add.
    named = {re.sub(r"_(total|count|bucket|sum)$", "", name) for name in documented}
    assert named and named <= served, named - served


@pytest.mark.parametrize("api_version", ["v1.3-preview.1"])
def test_the_resource_settings_calls_are_counted(azure_backend, metrics_token, emulator_server, client):
    before = scrape(client)
    face_resource.get_liveness_settings()
    face_resource.set_abuse_monitoring(False)
    face_resource.get_client_assets_token()
    after = scrape(client)

    calls = {
        dict(labels)["operation"]: value
        for (name, labels), value in changes(before, after, "liveness_provider_request_duration_seconds_count").items()
    }
    assert calls == {"get_settings": 1, "set_settings": 1, "get_client_assets_token": 1}
