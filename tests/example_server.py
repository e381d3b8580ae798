"""The example project served by runserver on a free loopback port, as `make demo` runs it
(emulator mode, a fresh SQLite database, the demo's two users)."""

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
MANAGE = [sys.executable, str(ROOT / "example_project" / "manage.py")]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def example_env(folder, **extra):
    env = {key: value for key, value in os.environ.items() if key not in ("VISION_ENDPOINT", "VISION_KEY")}
    return env | {
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DEMO_DB": str(folder / "db.sqlite3"),
        "DEMO_PRIVATE_MEDIA": str(folder / "private"),
        **extra,
    }


@contextmanager
def example_server(folder, **extra_env):
    """Yield {"base", "port", "db", "log", "env"} while the example project serves on a free port
    (``extra_env``: DEMO_API_VERSION, DEMO_CLIENT_ATTEMPTS ..., see its settings)."""
    port = free_port()
    env = example_env(folder, PORT=str(port), **extra_env)  # PORT moves the example and its emulator together
    subprocess.run([*MANAGE, "migrate", "--noinput"], env=env, check=True, capture_output=True)
    subprocess.run([*MANAGE, "demo_setup"], env=env, check=True, capture_output=True)
    base = f"http://127.0.0.1:{port}"
    # The server's log goes to a file: a pipe nobody reads would fill up and stall the server.
    with open(folder / "server.log", "wb") as log:
        server = subprocess.Popen(
            [*MANAGE, "runserver", "--noreload", f"127.0.0.1:{port}"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            for _ in range(100):
                try:
                    urlopen(f"{base}/login/", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            yield {"base": base, "port": port, "db": folder / "db.sqlite3", "log": folder / "server.log", "env": env}
        finally:
            server.terminate()
            server.wait(timeout=10)
