import shutil
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from django_liveness.backends import reset_backend
from django_liveness.conf import liveness_settings
from django_liveness.testing import SubjectFactory, UserFactory, locmem_backend


@pytest.fixture(autouse=True, scope="session")
def _remove_test_media():
    """Test uploads go to a temporary MEDIA_ROOT; remove it when the run ends."""
    from django.conf import settings

    yield
    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fresh_backend():
    """Every test starts with a newly built backend (an empty LocMemBackend by default)."""
    reset_backend()
    yield
    reset_backend()


@pytest.fixture(autouse=True)
def _after_answer_done():
    """No test leaves work after the answer running (a thread of this process) into the next one."""
    from django_liveness.testing import wait_for_after_answer

    yield
    wait_for_after_answer(timeout=60)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Rate-limit counters live in the cache: no test inherits another's."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def locmem():
    return locmem_backend()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that passed but could not make some of its checks (browser_support.skip_check: a tool
    missing outside CI) is reported as skipped, with the reason, rather than as passed."""
    outcome = yield
    if call.when != "call":
        return
    from .browser_support import skipped_checks

    reasons = list(dict.fromkeys(skipped_checks))
    skipped_checks.clear()
    report = outcome.get_result()
    if reasons and report.passed:
        path, line, _name = item.reportinfo()
        report.outcome = "skipped"
        report.longrepr = (str(path), (line or 0) + 1, f"Skipped: {'; '.join(reasons)} (its other checks passed)")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` need real row locks: run them only on PostgreSQL. Tests marked
    ``schemathesis`` (minutes against a live server) run only when asked for: ``-m schemathesis``."""
    from django.conf import settings

    if "schemathesis" not in (config.getoption("markexpr") or ""):
        skip_fuzz = pytest.mark.skip(reason="schemathesis against a live server takes minutes: make test-schema")
        for item in items:
            if "schemathesis" in item.keywords:
                item.add_marker(skip_fuzz)
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (make test-postgres)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def emulator_server():
    """The emulator mounted in the test project, served on a free loopback port (real HTTP)."""
    from django.core.wsgi import get_wsgi_application

    from django_liveness.emulator import state
    from django_liveness.emulator.server import EmulatorServer

    from .openapi import RecordingApp

    state.reset()
    app = RecordingApp(get_wsgi_application(), prefix="/emulator")
    with EmulatorServer(app, prefix="/emulator") as server:
        server.key = state.subscription_key()
        server.state = state
        server.recording = app
        yield server
    state.reset()
    # Every answer the emulator gave in the test must match the Face API's OpenAPI description.
    app.validate_all()


API_VERSIONS = ["v1.2", "v1.2-preview.1", "v1.3-preview.1"]
# The versions the GA client (azure-core's PipelineClient) speaks: the same paths and bodies.
GA_CLIENT_VERSIONS = ["v1.2", "v1.3-preview.1"]


@pytest.fixture
def api_version():
    """The Face API version of ``azure_backend``: GA unless a test parametrizes ``api_version``."""
    return "v1.2"


@pytest.fixture
def client_attempts():
    """LIVENESS["CLIENT_ATTEMPTS"] of ``azure_backend``: the default unless a test says otherwise."""
    return 1


def as_many_attempts_as_v12(api_version):
    """A ``client_attempts`` for tests written for v1.2's three captures per session: v1.3 allows one
    unless told, so they ask it for three (``client_attempts = pytest.fixture(name=...)(this)``)."""
    return 3 if api_version == "v1.3-preview.1" else 1


@pytest.fixture
def azure_backend(emulator_server, settings, api_version, client_attempts):
    """LIVENESS switched to AzureFaceBackend talking to the emulator, short retries: GA through
    azure-core's PipelineClient, or the preview through the real SDK."""
    settings.LIVENESS = {
        "BACKEND": "django_liveness.backends.azure.AzureFaceBackend",
        "CLIENT_ATTEMPTS": client_attempts,
        "OPTIONS": {
            "api_version": api_version,
            "endpoint": emulator_server.endpoint,
            "key": emulator_server.key,
            "retry_backoff_factor": 0.01,
            "retry_backoff_max": 2,
            "read_timeout": 5,
        },
    }
    from django_liveness.backends import get_backend

    return get_backend()


@pytest.fixture
def frontend(emulator_server, api_version):
    """Play the frontend over HTTP in the test's API version: ``frontend(token, verify=..., ...)``."""
    from functools import partial

    from django_liveness.emulator.client import play_frontend

    return partial(play_frontend, emulator_server.endpoint, api_version=api_version)


# --- the users and subjects of the REST API tests (test_api_*.py) ---------------------------


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def subject(owner):
    return SubjectFactory(user=owner)


@pytest.fixture
def app_user():
    """An integration (service account) with the model permissions."""
    from .api_support import grant

    return grant(
        UserFactory(),
        "view_subject",
        "add_subject",
        "change_subject",
        "add_livenesssession",
        "view_livenesssession",
        "change_livenesssession",
        "delete_livenesssession",
        "add_referenceimage",
        "view_referenceimage",
    )


def past_the_fetch_window():
    """Travel past LIVENESS['COMPLETE_MIN_INTERVAL_SECONDS']: the next refresh or complete/ of an
    open session fetches again (inside it, the stored session is the answer)."""
    seconds = liveness_settings.COMPLETE_MIN_INTERVAL_SECONDS + 1
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds))
