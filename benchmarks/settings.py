"""Settings of the benchmarks: the test project's, on PostgreSQL (127.0.0.1:5432, user postgres).

The database is ``test_liveness_bench``, created and dropped by each run. The sync's RQ workers use
Redis database 13 (``LIVENESS_BENCH_REDIS``), which no test uses; each run empties it before and after.
"""

import os

os.environ.setdefault("LIVENESS_TEST_DB", "postgres")
os.environ.setdefault("LIVENESS_TEST_DB_NAME", "liveness_bench")

from tests.settings import *  # noqa: E402,F403

BENCH_REDIS = os.environ.get("LIVENESS_BENCH_REDIS", "redis://127.0.0.1:6379/13")
RQ_QUEUES = {"default": {"URL": BENCH_REDIS}}

LIVENESS = {
    "BACKEND": "django_liveness.backends.azure.AzureFaceBackend",
    "OPTIONS": {"endpoint": "http://127.0.0.1:1/unset", "key": "emulator-key"},  # set to the emulator at run time
    "THROTTLE_RATES": dict.fromkeys(["session_create_user", "session_create_subject", "upload_user", "upload_subject", "complete_user", "complete_session"]),
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "CRITICAL"}}
# Statements are counted with token authentication (issue 26), as a mobile app calls the API; the
# throughput workers log in with a session cookie.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        *REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"],  # noqa: F405
    ],
}
