"""The measurements behind ``python -m benchmarks``; each returns a list of result dicts
(``name``, ``value``, ``unit``, and for a goal ``goal`` and ``passed``)."""

import collections
import contextlib
import io
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FULL = {"repeats": 15, "rows": (100, 50_000), "sync_sessions": 1000, "sync_latency_ms": 50, "upload_repeats": 7, "lifecycles": 60}
SMOKE = {"repeats": 2, "rows": (10, 200), "sync_sessions": 20, "sync_latency_ms": 5, "upload_repeats": 1, "lifecycles": 3}
IDEAL_THREADS = 32


class CountingApp:
    """WSGI middleware: how many calls of each method reached each session id."""

    def __init__(self, app):
        self.app = app
        self.calls = collections.Counter()

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        if "-sessions/" in path:
            self.calls[(environ["REQUEST_METHOD"], path.rsplit("/", 1)[-1])] += 1
        return self.app(environ, start_response)


@contextlib.contextmanager
def emulator():
    """The emulator on a free loopback port, and LIVENESS pointed at it (GA, no retries to hide a cost)."""
    from django.test import override_settings

    from django_liveness.emulator import state
    from django_liveness.emulator.server import EmulatorApplication, EmulatorServer

    state.reset()
    app = CountingApp(EmulatorApplication())
    with EmulatorServer(app) as server:
        server.app, server.state = app, state
        liveness = {
            "BACKEND": "django_liveness.backends.azure.AzureFaceBackend",
            "OPTIONS": {"endpoint": server.endpoint, "key": state.subscription_key(), "read_timeout": 30},
            "THROTTLE_RATES": dict.fromkeys(["session_create_user", "session_create_subject", "upload_user", "upload_subject", "complete_user", "complete_session"]),
        }
        with override_settings(LIVENESS=liveness):
            yield server


def goal(name, value, target, passed, unit="", spread=None):
    return {"name": name, "value": value, "unit": unit, "goal": target, "passed": bool(passed), "spread": spread}


def figure(name, value, unit="", spread=None):
    return {"name": name, "value": value, "unit": unit, "spread": spread}


def _spread(samples):
    return f"{min(samples):.3g}..{max(samples):.3g}"


def _owner_with_reference():
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from django_liveness.testing import ReferenceImageFactory, SubjectFactory, UserFactory
    from django_liveness.webhooks import outbox

    user = UserFactory(password="pw")
    subject = SubjectFactory(user=user)
    ReferenceImageFactory(subject=subject)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")  # as a mobile app: one statement
    client.get("/api/liveness/sessions/")  # permissions cached, as after the first request
    outbox.subscribed_types()  # and the webhook subscriptions (none: no query per event)
    return client, subject


def _play_frontend(server, provider_session_id):
    from django_liveness.images import sample_face_image

    token, kind = server.state.emulator.token_for(provider_session_id)
    server.state.emulator.detect(token, kind, sample_face_image(), api_version="v1.2")


# --- the REST lifecycle against the same provider calls made directly ----------------------------


def _iqr(samples):
    """The interquartile range of ``samples``, as text (the middle half of the runs lies in it)."""
    if len(samples) < 2:
        return f"{samples[0]:.3g}..{samples[0]:.3g}"
    low, _, high = statistics.quantiles(samples, n=4, method="inclusive")
    return f"IQR {low:.3g}..{high:.3g}"


def lifecycle(server, sizes):
    """The person's wait: from asking for a session to knowing the result.

    Through the app: POST sessions/ + POST complete/ (whose answer carries the result). The bare
    minimum: the raw GA client (azure-core, as the app's backend uses it) creating the session and
    making one GET of the result. Interleaved pairs (app, raw, app, raw...) so that both see the same
    machine; the ratio of each pair, its median and IQR. The person's capture (the emulator's
    frontend part) is outside both timings. Work after the answer (the session image's fetch, the
    remote deletion) runs in the app's background; each pair waits for it before the next."""
    from django_liveness.backends import get_backend, reset_backend
    from django_liveness.images import sample_face_image
    from django_liveness.models import LivenessSession

    client, subject = _owner_with_reference()
    results = []
    for latency, target in ((0, 3.0), (100, 1.15)):
        server.state.faults.configure(latency_ms=latency)
        reset_backend()
        raw = get_backend().client  # the GA client the REST API uses, called directly
        app_times, raw_times = [], []
        for _ in range(sizes["repeats"] + 1):  # the first pair warms connections and caches
            started = time.perf_counter()
            created = client.post("/api/liveness/sessions/", {"subject": str(subject.pk), "verify": True}, format="json")
            app_create = time.perf_counter() - started
            session = LivenessSession.objects.get(pk=created.json()["id"])
            _play_frontend(server, session.provider_session_id)
            started = time.perf_counter()
            completed = client.post(f"/api/liveness/sessions/{session.pk}/complete/")
            app_times.append(app_create + time.perf_counter() - started)
            assert completed.json()["status"] == "completed", completed.content
            _after_answer_done()

            started = time.perf_counter()
            body = raw.create_verify_session(
                {"livenessOperationMode": "Passive", "deviceCorrelationId": "bench", "authTokenTimeToLiveInSeconds": 600},
                sample_face_image(),
            )
            raw_create = time.perf_counter() - started
            _play_frontend(server, body["sessionId"])
            started = time.perf_counter()
            raw.get_session(body["sessionId"], verify=True)
            raw_times.append(raw_create + time.perf_counter() - started)
            raw.delete_session(body["sessionId"], verify=True)  # not timed: the person does not wait for it
        ratios = [app / raw for app, raw in zip(app_times[1:], raw_times[1:])]
        ratio = statistics.median(ratios)
        results.append(goal(f"person's wait, app / raw create + GET, {latency} ms latency", ratio, f"<= {target}x", ratio <= target, "x", _iqr(ratios)))
        results.append(figure(f"  app: create + complete, {latency} ms latency", statistics.median(app_times[1:]) * 1000, " ms", _iqr([t * 1000 for t in app_times[1:]])))
        results.append(figure(f"  raw: create + GET, {latency} ms latency", statistics.median(raw_times[1:]) * 1000, " ms", _iqr([t * 1000 for t in raw_times[1:]])))
    server.state.faults.reset()
    return results


def _after_answer_done():
    """Wait for the work a complete/ left for after its answer (none where the app has no such work)."""
    from django_liveness.testing import wait_for_after_answer

    wait_for_after_answer(timeout=60)


# --- queries of the everyday calls at two table sizes --------------------------------------------


def queries(server, sizes):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_liveness.models import LivenessSession, Subject

    targets = {"create": 8, "complete": 8, "retrieve": 3, "list": 4}  # issue 26: <= 8 each
    results = []
    counts_by_size = {}
    first_creates = []
    for rows in sizes["rows"]:
        present = LivenessSession.objects.count()
        if rows > present:
            subjects = Subject.objects.bulk_create([Subject(external_id=f"bench-{present}-{n}") for n in range(max(1, (rows - present) // 10))])
            LivenessSession.objects.bulk_create(
                # Ended sessions of other people: they fill the table, and leave the sync nothing to do.
                [
                    LivenessSession(subject=subjects[n % len(subjects)], kind="liveness", operation_mode="Passive", status="expired")
                    for n in range(rows - present)
                ],
                batch_size=5000,
            )
        client, subject = _owner_with_reference()

        def count(call):
            with CaptureQueriesContext(connection) as captured:
                response = call()
            return response, len([q for q in captured.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")])

        new = lambda: client.post("/api/liveness/sessions/", {"subject": str(subject.pk), "verify": True}, format="json")  # noqa: E731
        # The subject's first create also stores its device id and the reference image's first
        # facts (one-time writes, shown apart); the goal counts the create of every day.
        _, first_create = count(new)
        created, create = count(new)
        session = LivenessSession.objects.get(pk=created.json()["id"])
        _play_frontend(server, session.provider_session_id)
        _, complete = count(lambda: client.post(f"/api/liveness/sessions/{session.pk}/complete/"))
        _, retrieve = count(lambda: client.get(f"/api/liveness/sessions/{session.pk}/"))
        _, list_ = count(lambda: client.get("/api/liveness/sessions/"))
        counts_by_size[rows] = {"create": create, "complete": complete, "retrieve": retrieve, "list": list_}
        first_creates.append(first_create)
    for call, target in targets.items():
        values = [counts_by_size[rows][call] for rows in sizes["rows"]]
        flat = len(set(values)) == 1
        shown = " / ".join(f"{value} at {rows:,} rows" for value, rows in zip(values, sizes["rows"]))
        results.append(goal(f"queries of {call}", shown, f"<= {target}, flat", flat and max(values) <= target))
    results.append(figure("  queries of a subject's first create (its device id, the reference's first facts)", " / ".join(map(str, first_creates))))
    return results


# --- the sync of sessions nobody completed -------------------------------------------------------


def _ready_sessions(server, count):
    """``count`` sessions completed at the emulator, waiting for the sync: the only open ones (those
    other benchmarks left open, e.g. the queries' first creates, are marked expired, so that each
    run syncs exactly these)."""
    from django_liveness import services
    from django_liveness.models import LivenessSession
    from django_liveness.testing import SubjectFactory

    server.state.faults.reset()
    LivenessSession.objects.filter(status__in=list(LivenessSession.OPEN_STATUSES)).update(status="expired")
    subject = SubjectFactory()
    sessions = [services.start_session(subject, verify=False) for _ in range(count)]
    for session in sessions:
        _play_frontend(server, session.provider_session_id)
    return sessions


def _worker_env(server, **extra):
    from django.conf import settings
    from django.db import connection

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings_worker",
        "LIVENESS_TEST_DB": "postgres",
        "LIVENESS_WORKER_DB": connection.settings_dict["NAME"],
        "LIVENESS_WORKER_ENDPOINT": server.endpoint,
        "LIVENESS_WORKER_KEY": server.state.subscription_key(),
        "LIVENESS_TEST_REDIS": settings.BENCH_REDIS,  # RQ workers: the bench's own Redis database
        "PYTHONPATH": str(ROOT),
        **extra,
    }


@contextlib.contextmanager
def _processes():
    """A list for the subprocesses a benchmark starts (with ``_start``): however the block ends, each
    one is killed with its process group (an RQ worker's work horse too) and reaped."""
    running = []
    try:
        yield running
    finally:
        for process in running:
            _kill_tree(process.pid)
            process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


def _children(pid):
    """The ids of the processes whose parent is ``pid`` (from /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(stat.parent.name))
    return children


def _kill_tree(pid):
    """Kill the process group of ``pid`` (started in a session of its own) and, first stopped so that
    it forks no more, the groups of its children: an RQ work horse is forked into a session of its
    own, and would otherwise go on with its task, connected to the database."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGSTOP)
    for group in [*_children(pid), pid]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def _start(running, args, env, **popen):
    """Start ``python args...`` in its own process group, listed in ``running`` (``_processes``)."""
    process = subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT, start_new_session=True, **popen)
    running.append(process)
    return process


def throughput(server, sizes):
    """REST lifecycles a second with 1 and with 2 worker processes (0 ms provider latency), and the
    CPU per lifecycle split into the app's (the worker processes, start-up left out) and the
    emulator's (this process: it serves the emulator in threads and otherwise waits)."""
    server.state.faults.reset()
    results = []
    for workers in (1, 2):
        count = sizes["lifecycles"]
        server.app.calls.clear()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        own_before = time.process_time()
        started = time.perf_counter()
        with _processes() as running:
            processes = [
                _start(running, ["-m", "benchmarks.throughput_worker", str(count)], _worker_env(server, LIVENESS_WORKER_TASKS="immediate"), stdout=subprocess.PIPE, text=True)
                for _ in range(workers)
            ]
            answers = [process.communicate(timeout=600)[0].split() for process in processes]
        elapsed = time.perf_counter() - started  # process start-up included: a few seconds
        emulator_cpu = time.process_time() - own_before
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        children_cpu = (children_after.ru_utime - children_before.ru_utime) + (children_after.ru_stime - children_before.ru_stime)
        start_up_cpu = sum(float(answer[-2]) for answer in answers)  # each worker's CPU before its first lifecycle
        finished = sum(int(answer[-1]) for answer in answers)
        assert finished == workers * count, f"{finished} of {workers * count} lifecycles finished"
        deleted = sum(number for (method, _id), number in server.app.calls.items() if method == "DELETE")
        assert deleted == finished, f"{deleted} of {finished} sessions deleted at the provider after the answer"
        name = f"throughput, {workers} worker process{'es' if workers > 1 else ''}"
        results.append(figure(name, finished / elapsed, " lifecycles/s"))
        results.append(figure(f"  {name}: CPU per lifecycle, app", (children_cpu - start_up_cpu) / finished * 1000, " ms"))
        results.append(figure(f"  {name}: CPU per lifecycle, emulator", emulator_cpu / finished * 1000, " ms"))
        results.append(figure(f"  {name}: CPU of a worker's start-up, app", start_up_cpu / workers * 1000, " ms"))
    return results


def sync(server, sizes):
    from django.test import override_settings

    from django_liveness import services
    from django_liveness.backends import get_backend, reset_backend
    from django_liveness.models import LivenessSession

    count, latency = sizes["sync_sessions"], sizes["sync_latency_ms"]
    results = []

    # The ideal: the same provider calls (result, then delete) made by 32 threads, nothing else.
    sessions = _ready_sessions(server, count)
    reset_backend()
    raw = get_backend().client
    with contextlib.suppress(Exception):  # the client's first call pays its imports and connection: not timed
        raw.get_session("warm-up", verify=False)
    server.state.faults.configure(latency_ms=latency)

    def calls(session):
        raw.get_session(session.provider_session_id, verify=False)
        raw.delete_session(session.provider_session_id, verify=False)

    started = time.perf_counter()
    with ThreadPoolExecutor(IDEAL_THREADS) as pool:
        list(pool.map(calls, sessions))
    ideal = time.perf_counter() - started
    LivenessSession.objects.filter(pk__in=[session.pk for session in sessions]).delete()  # gone at the provider
    results.append(figure(f"sync ideal: {count} sessions by {IDEAL_THREADS} threads, {latency} ms", ideal, " s"))

    # One process: liveness_sync with as many threads.
    sync_settings = {"CONCURRENCY": IDEAL_THREADS, "BATCH_SIZE": 250, "LEASE_SECONDS": 300}
    from django.conf import settings

    with override_settings(LIVENESS={**settings.LIVENESS, "SYNC": sync_settings}):
        server.state.faults.reset()
        _ready_sessions(server, count)
        server.state.faults.configure(latency_ms=latency)
        server.app.calls.clear()
        started = time.perf_counter()
        services.sync_sessions(limit=count)
        one = time.perf_counter() - started
    results.append(goal("sync, 1 process / threaded ideal", ideal / one, ">= 0.8", ideal / one >= 0.8, "", f"{one:.3g} s"))

    # Two processes at once, as two machines' cron jobs would run.
    server.state.faults.reset()
    ready = _ready_sessions(server, count)
    server.state.faults.configure(latency_ms=latency)
    server.app.calls.clear()
    env = _worker_env(server, LIVENESS_WORKER_CONCURRENCY=str(IDEAL_THREADS // 2))
    started = time.perf_counter()
    with _processes() as running:
        workers = [
            _start(running, ["-m", "django", "liveness_sync", "--here", "--skip-orphans", "--limit", str(count)], env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)
        ]
        for worker in workers:
            output = worker.communicate(timeout=600)[0]
            if worker.returncode:
                raise RuntimeError(f"a sync process failed: {output[-2000:]}")
            print("  worker: " + " | ".join(line for line in output.splitlines() if "Refreshed" in line or "Enqueued" in line), file=sys.stderr)
    two = time.perf_counter() - started
    results.append(goal("sync, 2 processes / threaded ideal", ideal / two, ">= 0.8", ideal / two >= 0.8, "", f"{two:.3g} s"))
    results.append(_fetched_twice_or_missed(server, ready, "2 processes"))

    # Two RQ workers, started and idle beforehand, as a deployment keeps them: from `liveness_sync`
    # enqueueing the sync (one task per batch) until every session is final and done at the provider.
    rq, app_cpu, emulator_cpu, ready = _sync_by_rq_workers(server, count, latency, workers=2)
    results.append(goal("sync, 2 RQ workers / threaded ideal", ideal / rq, ">= 0.8", ideal / rq >= 0.8, "", f"{rq:.3g} s"))
    results.append(_fetched_twice_or_missed(server, ready, "2 RQ workers"))
    results.append(figure("  sync, 2 RQ workers: CPU per session, app", app_cpu / count * 1000, " ms"))
    results.append(figure("  sync, 2 RQ workers: CPU per session, emulator", emulator_cpu / count * 1000, " ms"))
    server.state.faults.reset()
    return results


def _fetched_twice_or_missed(server, sessions, who):
    """The goal that none of ``sessions`` was fetched twice or missed, counted at the emulator since
    the calls were cleared."""
    fetched = {provider_id: number for (method, provider_id), number in server.app.calls.items() if method == "GET"}
    twice = sum(1 for number in fetched.values() if number > 1)
    missed = len({session.provider_session_id for session in sessions} - set(fetched))
    return goal(f"sessions fetched twice / missed, {who}", f"{twice} / {missed}", "0 / 0", twice == 0 and missed == 0)


RQ_TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
RQ_BATCH = 100  # SYNC["BATCH_SIZE"] of the RQ run (the app's default): 10 tasks for 1,000 sessions


def _not_done(ids):
    """Of the sessions ``ids``, a queryset of those the sync has not finished: still open, or ended with
    work left at the provider (the session image to fetch, or the remote session to delete)."""
    from django.db.models import Q

    from django_liveness.conf import liveness_settings
    from django_liveness.models import LivenessSession
    from django_liveness.services import session_images

    sessions = LivenessSession.objects.filter(pk__in=ids)
    leftovers = sessions.filter(status__in=list(LivenessSession.FINAL_STATUSES), remote_deleted_at__isnull=True).exclude(provider_session_id="")
    if not liveness_settings.DELETE_REMOTE_SESSION_ON_RESULT:
        leftovers = session_images.missing_filter(leftovers)
    return sessions.filter(Q(status__in=list(LivenessSession.OPEN_STATUSES)) | Q(pk__in=leftovers.values("pk")))


def _wait_until(condition, *, timeout, processes, logs, what):
    """Poll ``condition()`` until true; fail when ``timeout`` passes or one of ``processes`` exits."""
    deadline = time.monotonic() + timeout
    while not condition():
        for process, log in zip(processes, logs):
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"an RQ worker exited ({process.returncode}) before {what}: {log.read().decode(errors='replace')[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _cpu_seconds(pid):
    """CPU seconds of process ``pid`` and of the children it has reaped (user + system, /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(tick) for tick in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime, stime, cutime, cstime


def _sync_by_rq_workers(server, count, latency, *, workers):
    """Seconds from ``liveness_sync`` (with the RQ task backend) enqueueing the sync of ``count``
    ready sessions until each one is final and done, the work shared by ``workers`` RQ workers
    (``rqworker default --job-class django_tasks_rq.Job``, IDEAL_THREADS threads between them) on
    the bench's Redis database, emptied before and after; the workers are stopped however it ends.
    Also the CPU seconds, from the enqueueing until the workers are idle again, of the workers
    (their work horses included: the app) and of this process (the emulator's threads, and the
    enqueueing and polling, a little), and the sessions: ``(seconds, app CPU, emulator CPU, sessions)``."""
    import redis
    from django.conf import settings
    from django.core.management import call_command
    from django.test import override_settings
    from rq import Queue, Worker

    redis_db = redis.Redis.from_url(settings.BENCH_REDIS)
    redis_db.flushdb()
    env = _worker_env(server, LIVENESS_WORKER_CONCURRENCY=str(IDEAL_THREADS // workers), LIVENESS_WORKER_BATCH=str(RQ_BATCH))
    try:
        with _processes() as running, contextlib.ExitStack() as stack:
            logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(workers)]
            processes = [
                _start(running, ["-m", "django", "rqworker", "default", "--job-class", "django_tasks_rq.Job"], env, stdout=log, stderr=subprocess.STDOUT)
                for log in logs
            ]
            server.state.faults.reset()
            sessions = _ready_sessions(server, count)  # while the workers start
            ids = [session.pk for session in sessions]
            _wait_until(lambda: len(Worker.all(connection=redis_db)) == workers, timeout=120, processes=processes, logs=logs, what="the workers were ready")
            server.state.faults.configure(latency_ms=latency)
            server.app.calls.clear()
            sync_settings = {**settings.LIVENESS.get("SYNC", {}), "BATCH_SIZE": RQ_BATCH}
            workers_cpu, own_cpu = sum(map(_cpu_seconds, (p.pid for p in processes))), time.process_time()
            started = time.perf_counter()
            with override_settings(TASKS=RQ_TASKS, LIVENESS={**settings.LIVENESS, "SYNC": sync_settings}):
                call_command("liveness_sync", "--skip-orphans", "--limit", str(count), stdout=io.StringIO())
            _wait_until(lambda: not _not_done(ids).exists(), timeout=600, processes=processes, logs=logs, what="the sessions were done")
            elapsed = time.perf_counter() - started
            # The tasks left find nothing to do: once they are run, the workers idle, stop them. RQ's
            # warm shutdown (SIGTERM) sometimes hangs a minute joining its pubsub thread (rq/rq#1613):
            # a worker still there after a few seconds is killed with its group on leaving.
            queue = Queue("default", connection=redis_db)
            idle = lambda: queue.count == 0 and all(worker.get_state() == "idle" for worker in Worker.all(connection=redis_db))  # noqa: E731
            _wait_until(idle, timeout=120, processes=processes, logs=logs, what="the workers were idle")
            workers_cpu = sum(map(_cpu_seconds, (p.pid for p in processes))) - workers_cpu  # their horses reaped
            own_cpu = time.process_time() - own_cpu
            for process in processes:
                process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 5
            for process in processes:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
    finally:
        redis_db.flushdb()  # the tasks left (they would find nothing to do) and the workers' records
    return elapsed, workers_cpu, own_cpu, sessions


# --- uploads: memory and time against Pillow's own open + load -----------------------------------

UPLOAD_PROBE = """
import io, sys, time
sys.path.insert(0, {root!r})
import django, os
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
django.setup()
from PIL import Image
from django_liveness.images import validate_reference_image
data = open({path!r}, "rb").read()
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # the peak RSS (VmHWM) starts again from the RSS of now
before = rss("VmRSS:")
started = time.perf_counter()
{call}
print(time.perf_counter() - started, rss("VmHWM:") - before)
"""


def _photo_jpeg(path):
    """A noisy 4:3 photo as a JPEG just under the 6 MB limit (noise compresses badly, as photos do)."""
    from PIL import Image

    limit = 6 * 1024 * 1024
    for quality in range(95, 40, -5):
        buffer = io.BytesIO()
        Image.effect_noise((3000, 2250), 40).convert("RGB").save(buffer, format="JPEG", quality=quality)
        if buffer.tell() < limit:
            Path(path).write_bytes(buffer.getvalue())
            return buffer.tell()
    raise RuntimeError("could not make a photo under 6 MB")


BOMB_CALL = """
from django.core.exceptions import ValidationError
try:
    validate_reference_image(data)
    raise SystemExit("the PNG bomb was accepted")
except ValidationError:
    pass
"""


def _probe(path, call, repeats):
    """``[(seconds, peak RSS rise in bytes)]`` of ``call`` on the file at ``path``, each in a fresh process."""
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", UPLOAD_PROBE.format(root=str(ROOT), path=path, call=call)],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )
        seconds, rss = out.stdout.split()
        runs.append((float(seconds), int(rss)))
    return runs


def upload_bomb(folder, sizes):
    """A 2 MB PNG (64 x 64) whose pixels would inflate to 2 GiB: refused within 1 s, memory bounded."""
    from tests.image_bombs import png_inflation_bomb

    path = os.path.join(folder, "bomb.png")
    Path(path).write_bytes(png_inflation_bomb(2 << 30))
    size = os.path.getsize(path)
    runs = _probe(path, BOMB_CALL, sizes["upload_repeats"])
    seconds = statistics.median(t for t, _ in runs)
    rise = statistics.median(rss for _, rss in runs) / size
    spread = _spread([t for t, _ in runs]) if len(runs) > 1 else None
    return [
        goal(f"upload: PNG bomb ({size / 1e6:.1f} MB, inflates to 2 GiB) refused in", seconds, "<= 1 s", seconds <= 1, "s", spread),
        goal("upload: PNG bomb peak RSS rise / file", rise, "<= 3x", rise <= 3, "x"),
    ]


def uploads(server, sizes):
    import tempfile

    results = []
    with tempfile.TemporaryDirectory() as folder:
        results.extend(upload_bomb(folder, sizes))
        path = os.path.join(folder, "photo.jpg")
        size = _photo_jpeg(path)
        probes = {
            "validate": "validate_reference_image(data)",
            "pillow": "image = Image.open(io.BytesIO(data)); image.load()",
        }
        measured = {name: _probe(path, call, sizes["upload_repeats"]) for name, call in probes.items()}
    rise = statistics.median(rss for _, rss in measured["validate"]) / size
    results.append(goal(f"upload peak RSS rise / file ({size / 1e6:.1f} MB JPEG)", rise, "<= 3x", rise <= 3, "x"))
    ratio = statistics.median(t for t, _ in measured["validate"]) / statistics.median(t for t, _ in measured["pillow"])
    results.append(goal("upload validation time / Pillow open+load", ratio, "<= 1.5x", ratio <= 1.5, "x"))
    pillow_rise = statistics.median(rss for _, rss in measured["pillow"]) / size
    results.append(figure("  Pillow open+load peak RSS rise / file", pillow_rise, "x"))
    return results


BENCHMARKS = [lifecycle, queries, sync, uploads, throughput]
