"""The host the quickstart documents, as a new user builds it: the wheel built from this checkout and
installed in a fresh virtualenv, a `startproject` site configured as docs/quickstart.md says (file
SQLite, `migrate` before any key), the standalone emulator, webhooks to a loopback receiver, and
six verify lifecycles at once through `runserver`, every other one finished on the hosted capture
link (opened, started, reloaded and completed by a browser of its own).

With LIVENESS_TEST_DB=postgres the same site runs on a database of its own on the PostgreSQL
server. It runs the Django version of the test run (so a CI matrix moves it along).
"""

import json
import os
import re
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import django
import pytest
import requests

from django_liveness.images import sample_face_image

from .example_server import ROOT, free_port
from .test_docs_flows import marked_blocks
from .webhook_receiver import Receiver

pytestmark = pytest.mark.host

LIFECYCLES = 6
PASSWORD = "host-test-password"
ON_POSTGRES = os.environ.get("LIVENESS_TEST_DB") == "postgres"


def run(command, cwd, env, timeout=180):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh virtualenv with the wheel built from this checkout, installed with its [azure] extra."""
    folder = tmp_path_factory.mktemp("host")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VISION_", "DJANGO_", "VIRTUAL_ENV"))}
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(folder / "dist"), str(ROOT)], folder, env)
    (wheel,) = (folder / "dist").glob("django_liveness-*.whl")
    run([sys.executable, "-m", "venv", str(folder / "venv")], folder, env)
    python = folder / "venv" / "bin" / "python"
    extras = ["psycopg[binary]"] if ON_POSTGRES else []
    # The Django of this test run, so that a CI matrix over Django versions moves this host along.
    run([python, "-m", "pip", "install", "--quiet", "--no-compile", f"django-liveness[azure] @ {wheel.as_uri()}", f"Django=={django.__version__}", *extras], folder, env)
    env["PATH"] = f"{python.parent}{os.pathsep}{env['PATH']}"
    return {"folder": folder, "python": python, "env": env}


@pytest.fixture
def database_settings():
    """Settings lines for the site's database: none on SQLite (the quickstart's file database), a
    database of its own on the PostgreSQL server otherwise."""
    if not ON_POSTGRES:
        yield ""
        return
    import psycopg

    name = f"liveness_host_{uuid.uuid4().hex[:12]}"
    server = {"host": os.environ.get("PGHOST", "127.0.0.1"), "port": os.environ.get("PGPORT", "5432")}
    user = os.environ.get("PGUSER", "postgres")
    with psycopg.connect(dbname="postgres", user=user, autocommit=True, **server) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield (
        f'\nDATABASES = {{"default": {{"ENGINE": "django.db.backends.postgresql", "NAME": "{name}", '
        f'"USER": "{user}", "HOST": "{server["host"]}", "PORT": "{server["port"]}"}}}}\n'
    )
    with psycopg.connect(dbname="postgres", user=user, autocommit=True, **server) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_site(venv, database_settings, receiver_host):
    """`startproject mysite` configured by the quickstart's blocks, migrated with no key set."""
    env, folder = venv["env"], venv["folder"] / f"site-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    settings_block, urls_block, commands = marked_blocks("quickstart.md")
    run(["django-admin", "startproject", "mysite"], folder, env)
    project = folder / "mysite"
    with open(project / "mysite" / "settings.py", "a") as file:
        file.write("\n" + settings_block + database_settings)
        # Webhooks to a receiver on this machine (docs/webhooks.md: allowed explicitly, and over http).
        file.write(f'\nLIVENESS["WEBHOOKS"] = {{"ALLOW_HTTP": True, "ALLOWED_PRIVATE_HOSTS": ["{receiver_host}"]}}\n')
    with open(project / "mysite" / "urls.py", "a") as file:
        file.write("\n" + urls_block)
    # The quickstart's commands, as written, before any VISION_* variable exists.
    quickstart = run(["bash", "-euo", "pipefail", "-c", commands], project, env)
    assert "django_liveness.W005" in quickstart.stderr + quickstart.stdout  # check names the missing key
    superuser = {"DJANGO_SUPERUSER_USERNAME": "admin", "DJANGO_SUPERUSER_PASSWORD": PASSWORD, "DJANGO_SUPERUSER_EMAIL": "a@example.com"}
    run(["python", "manage.py", "createsuperuser", "--noinput"], project, {**env, **superuser})
    return project


def start_emulator(venv, log_path):
    """`python -m django_liveness.emulator --port 0` from the installed wheel; returns (process, endpoint)."""
    log = open(log_path, "w+")
    process = subprocess.Popen(
        [venv["python"], "-u", "-m", "django_liveness.emulator", "--port", "0", "--key", "host-key"],
        env=venv["env"],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for _ in range(200):
        log.seek(0)
        found = re.search(r"VISION_ENDPOINT=(\S+)", log.read())
        if found:
            return process, found.group(1)
        time.sleep(0.05)
    process.terminate()
    pytest.fail(f"the emulator did not start: {log_path.read_text()}")


def wait_until_up(url, process, log_path):
    for _ in range(300):
        if process.poll() is not None:
            pytest.fail(f"runserver exited: {log_path.read_text()}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail(f"runserver did not start: {log_path.read_text()}")


def lifecycle(api, emulator, number, statuses):
    """One person's verify lifecycle through the REST API and the emulator; returns the session id."""
    client = requests.Session()
    client.auth = ("admin", PASSWORD)

    def call(method, url, expect, **kwargs):
        answer = client.request(method, url, timeout=60, **kwargs)
        statuses.append((answer.status_code, method, url.split("/api/liveness/")[-1]))
        assert answer.status_code == expect, f"{method} {url}: {answer.status_code} {answer.text[:300]}"
        return answer.json() if answer.content else None

    subject = call("POST", f"{api}/subjects/", 201, json={"external_id": f"customer-{number}-{uuid.uuid4().hex[:6]}"})["id"]
    consent = {"policy_version": "2026-01", "text": "I agree", "purpose": "identity verification"}
    call("POST", f"{api}/subjects/{subject}/consent/", 201, json=consent)
    call("POST", f"{api}/subjects/{subject}/reference-images/", 201, files={"image": ("me.jpg", sample_face_image())})
    started = call(
        "POST", f"{api}/sessions/", 201, json={"subject": subject, "verify": True}, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    if number % 2:
        # Every other person finishes on the hosted capture link, in a browser of their own.
        done = hosted_capture(started["capture_url"], emulator, statuses)
    else:
        capture_on_emulator(emulator, started["auth_token"])
        done = call("POST", f"{api}/sessions/{started['id']}/complete/", 200)
    assert (done["status"], done["outcome"]) == ("completed", "passed")
    call("GET", f"{api}/sessions/?subject={subject}", 200)
    return started["id"]


def capture_on_emulator(emulator, auth_token):
    """The frontend's part: the capture SDK sends the person's face to the Face service (the emulator)."""
    capture = requests.post(
        f"{emulator}/face/v1.2/detectLivenessWithVerify/singleModal",
        headers={"Authorization": f"Bearer {auth_token}"},
        files={"content": ("me.jpg", sample_face_image())},
        data={"decision": "realface", "same_person": "true"},
        timeout=60,
    )
    assert capture.ok, capture.text


def hosted_capture(capture_url, emulator, statuses):
    """A phone opens the hosted link, taps Start (the page's same-origin POST), captures, and the page
    completes; a reload in the same browser still works. Returns the session as the page last read it."""
    browser = requests.Session()
    origin = "/".join(capture_url.split("/")[:3])

    def page_call(method, url, **kwargs):
        answer = browser.request(method, url, timeout=60, **kwargs)
        statuses.append((answer.status_code, method, url.split("/api/liveness/")[-1]))
        assert answer.status_code == 200, f"{method} {url}: {answer.status_code} {answer.text[:300]}"
        return answer

    page = page_call("GET", capture_url)
    config = json.loads(re.search(r'id="liveness-capture-config" type="application/json">(.*?)</script>', page.text).group(1))
    started = page_call("POST", capture_url, headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"}).json()
    assert page_call("GET", capture_url).status_code == 200  # a reload in the same browser
    capture_on_emulator(emulator, started["session"]["auth_token"])
    return page_call("POST", origin + config["urls"]["complete"], headers=started["headers"]).json()


def test_six_verify_lifecycles_at_once_on_the_documented_host(venv, database_settings, tmp_path):
    with Receiver() as receiver:
        project = make_site(venv, database_settings, "127.0.0.1")
        env = venv["env"]
        create = (
            "from django_liveness import webhooks; "
            f"endpoint, secret = webhooks.create_endpoint({receiver.url!r}, events=['liveness.verified']); print(secret)"
        )
        secret = run(["python", "manage.py", "shell", "-c", create], project, env).stdout.strip().splitlines()[-1]
        receiver.secrets.append(secret)

        emulator, endpoint = start_emulator(venv, tmp_path / "emulator.log")
        port, log_path = free_port(), tmp_path / "server.log"
        with open(log_path, "w") as log:
            server = subprocess.Popen(
                ["python", "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
                cwd=project,
                env={**env, "VISION_ENDPOINT": endpoint, "VISION_KEY": "host-key", "PYTHONUNBUFFERED": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            api = f"http://127.0.0.1:{port}/api/liveness"
            wait_until_up(f"{api}/", server, log_path)
            statuses = []
            with ThreadPoolExecutor(LIFECYCLES) as pool:
                futures = [pool.submit(lifecycle, api, endpoint, number, statuses) for number in range(LIFECYCLES)]
                errors = [future.exception() for future in futures]
            server_errors = [status for status in statuses if status[0] >= 500]
            assert not server_errors, f"{len(server_errors)} of {len(statuses)} requests answered 5xx: {server_errors}"
            assert errors == [None] * LIFECYCLES, errors
            sessions = {future.result() for future in futures}

            deadline = time.monotonic() + 20
            while len(receiver.delivered()) < LIFECYCLES and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)  # a duplicate would arrive now
            delivered = receiver.delivered()
            assert all(request["verified"] == [secret] for request in receiver.requests)  # standardwebhooks verified each
            assert sorted(event["data"]["session"]["id"] for event in delivered) == sorted(sessions)
            assert len({event["id"] for event in delivered}) == LIFECYCLES
        finally:
            server.terminate()
            server.wait(timeout=10)
            emulator.terminate()
            emulator.wait(timeout=10)
        log = log_path.read_text()
        assert "Traceback" not in log, log
