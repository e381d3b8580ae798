"""Settings of the worker processes that test_sync_workers.py and the benchmarks start: the run's
PostgreSQL database, the emulator it serves, and RQ on the real Redis (``LIVENESS_TEST_REDIS``)."""

import os

from .settings import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ["LIVENESS_WORKER_DB"]  # noqa: F405
INSTALLED_APPS = [*INSTALLED_APPS, "django_rq", "django_tasks_rq"]  # noqa: F405
LIVENESS = {
    "BACKEND": "django_liveness.backends.azure.AzureFaceBackend",
    "OPTIONS": {"endpoint": os.environ["LIVENESS_WORKER_ENDPOINT"], "key": os.environ["LIVENESS_WORKER_KEY"], "read_timeout": 10},
    "THROTTLE_RATES": dict.fromkeys(["session_create_user", "session_create_subject", "upload_user", "upload_subject", "complete_user", "complete_session"]),
    "SYNC": {
        "BATCH_SIZE": int(os.environ.get("LIVENESS_WORKER_BATCH", "50")),
        "CONCURRENCY": int(os.environ.get("LIVENESS_WORKER_CONCURRENCY", "4")),
        "LEASE_SECONDS": int(os.environ.get("LIVENESS_WORKER_LEASE", "300")),
    },
}
TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
if os.environ.get("LIVENESS_WORKER_TASKS") == "immediate":  # a web worker of its own (the throughput benchmark)
    TASKS = {"default": {"BACKEND": IMMEDIATE_BACKEND}}  # noqa: F405
