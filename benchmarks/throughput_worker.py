"""One worker of the throughput benchmark: ``python -m benchmarks.throughput_worker COUNT``.

Runs COUNT REST lifecycles (start a verify session, play the frontend at the emulator, complete,
read) through Django's test client in its own process, as one web worker would serve them, and
waits for the work left after the answers (the session images' fetches and the remote deletions, in its
threads: the immediate task backend), then prints the CPU seconds it spent before its first
lifecycle (its start-up) and how many it finished. Settings: tests.settings_worker (the run's
database and emulator) with ``LIVENESS_WORKER_TASKS=immediate``.
"""

import os
import sys
import time


def main(count):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings_worker")
    os.environ.setdefault("LIVENESS_WORKER_TASKS", "immediate")
    import django

    django.setup()
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    from django_liveness.emulator.client import play_frontend
    from django_liveness.testing import ReferenceImageFactory, SubjectFactory, UserFactory, wait_for_after_answer

    setup_test_environment()  # the test client's hosts
    name = f"throughput-{os.getpid()}"  # factories count per process: names of their own
    user = UserFactory(username=name, email=f"{name}@example.com", password="pw")
    ReferenceImageFactory(subject=SubjectFactory(user=user, external_id=name))
    client = APIClient()
    client.login(username=user.username, password="pw")
    subject = str(user.liveness_subject.pk)
    endpoint = os.environ["LIVENESS_WORKER_ENDPOINT"]
    start_up_cpu = time.process_time()
    done = 0
    for _ in range(count):
        created = client.post("/api/liveness/sessions/", {"subject": subject, "verify": True}, format="json").json()
        assert "auth_token" in created, created
        play_frontend(endpoint, created["auth_token"], verify=True)
        completed = client.post(f"/api/liveness/sessions/{created['id']}/complete/").json()
        done += client.get(f"/api/liveness/sessions/{created['id']}/").json()["status"] == completed["status"] == "completed"
    wait_for_after_answer(timeout=120)
    print(start_up_cpu, done)


if __name__ == "__main__":
    main(int(sys.argv[1]))
