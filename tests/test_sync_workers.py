"""Several worker processes share the sync on PostgreSQL: RQ workers on the real Redis, and
cron-style runs, against the emulator over HTTP. Every provider call is counted at the emulator."""

import collections
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from django_liveness import services
from django_liveness.models import LivenessSession
from django_liveness.testing import SubjectFactory

# One Redis database for every RQ test: under pytest-xdist (--dist loadgroup) they run one at a time.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("redis")]

ROOT = Path(__file__).resolve().parent.parent
RQ_TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}


@pytest.fixture
def redis_queue(settings):
    import redis

    connection_ = redis.Redis.from_url(settings.RQ_QUEUES["default"]["URL"])
    connection_.flushdb()
    yield connection_
    connection_.flushdb()


@pytest.fixture
def worker_env(emulator_server):
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings_worker",
        "LIVENESS_TEST_DB": "postgres",
        "LIVENESS_WORKER_DB": connection.settings_dict["NAME"],
        "LIVENESS_WORKER_ENDPOINT": emulator_server.endpoint,
        "LIVENESS_WORKER_KEY": emulator_server.key,
        "PYTHONPATH": str(ROOT),
    }


def completed_sessions(emulator_server, count):
    """``count`` sessions created through the GA backend, each completed at the emulator."""
    subject = SubjectFactory()
    sessions = [services.start_session(subject, verify=False) for _ in range(count)]
    emulator = emulator_server.state.emulator
    for session in sessions:
        token, kind = emulator.token_for(session.provider_session_id)
        emulator.detect(token, kind, _image(), api_version="v1.2")
    return sessions


def _image():
    from django_liveness.images import sample_face_image

    return sample_face_image()


def provider_calls(emulator_server, method):
    """How many times each session id was asked for with ``method``, counted at the emulator."""
    calls = collections.Counter()
    for call_method, path, _agent, _key in emulator_server.recording.requests:
        if call_method == method and "-sessions/" in path:
            calls[path.rsplit("/", 1)[-1]] += 1
    return calls


def manage(env, *args, **popen):
    return subprocess.Popen([sys.executable, "-m", "django", *args], env=env, cwd=ROOT, **popen)


def test_two_rq_workers_share_500_sessions_none_twice_none_missed(azure_backend, emulator_server, worker_env, settings, redis_queue):
    sessions = completed_sessions(emulator_server, 500)
    settings.TASKS = RQ_TASKS
    settings.LIVENESS = {**settings.LIVENESS, "SYNC": {"BATCH_SIZE": 50}}
    from django.core.management import call_command

    call_command("liveness_sync", "--skip-orphans", stdout=open(os.devnull, "w"))  # enqueues 10 tasks
    workers = [
        manage(worker_env, "rqworker", "default", "--burst", "--job-class", "django_tasks_rq.Job",
               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for worker in workers:
        _, errors = worker.communicate(timeout=240)
        assert worker.returncode == 0, errors.decode()[-2000:]

    ids = {session.provider_session_id for session in sessions}
    assert set(LivenessSession.objects.values_list("status", flat=True)) == {"completed"}
    fetched = provider_calls(emulator_server, "GET")
    assert set(fetched) == ids and set(fetched.values()) == {1}  # every session fetched, and only once
    assert set(provider_calls(emulator_server, "DELETE").values()) == {1}


def test_a_worker_killed_mid_batch_loses_nothing(azure_backend, emulator_server, worker_env):
    sessions = completed_sessions(emulator_server, 60)
    # A lease long enough for the survivor to start and finish on a busy machine before it runs out.
    env = {**worker_env, "LIVENESS_WORKER_LEASE": "10"}
    emulator_server.state.faults.configure(latency_ms=400)  # slow enough to be killed mid-batch
    doomed = manage(env, "liveness_sync", "--here", "--skip-orphans", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not LivenessSession.objects.filter(sync_lease_until__isnull=False).exists():
        assert time.monotonic() < deadline, "the worker never claimed a batch"
        time.sleep(0.05)
    doomed.kill()
    doomed.wait()
    emulator_server.state.faults.reset()
    held = set(LivenessSession.objects.filter(sync_lease_until__isnull=False, status="created").values_list("pk", flat=True))
    assert held  # claims of the dead worker

    survivor = manage(env, "liveness_sync", "--here", "--skip-orphans", stdout=subprocess.PIPE)
    assert b"Refreshed" in survivor.communicate(timeout=60)[0]
    still_held = set(LivenessSession.objects.filter(status="created").values_list("pk", flat=True))
    assert still_held and still_held <= held  # what the dead worker held waits for its lease

    lease_ends = LivenessSession.objects.filter(pk__in=held).aggregate(end=Max("sync_lease_until"))["end"]
    time.sleep(max(0, (lease_ends - timezone.now()).total_seconds()) + 0.2)  # the lease runs out
    assert manage(env, "liveness_sync", "--here", "--skip-orphans", stdout=subprocess.DEVNULL).wait(timeout=60) == 0
    assert set(LivenessSession.objects.filter(pk__in=[s.pk for s in sessions]).values_list("status", flat=True)) == {"completed"}
