"""Django processes on a file SQLite database left at its defaults (no OPTIONS), as
`startproject` makes it: the test settings otherwise, run with `python -m django`."""

import os
import subprocess
import sys

from .example_server import ROOT

SETTINGS = """
from tests.settings import *  # noqa: F403

DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {database!r}}}}}
"""


def file_sqlite_site(folder):
    """Write the settings module into ``folder``, migrate, and return a runner:
    ``run("shell", "-c", script)`` -> CompletedProcess (text; not checked)."""
    (folder / "file_sqlite_settings.py").write_text(SETTINGS.format(database=str(folder / "db.sqlite3")))
    env = {key: value for key, value in os.environ.items() if not key.startswith("VISION_")}
    env |= {"DJANGO_SETTINGS_MODULE": "file_sqlite_settings", "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)])}

    def run(*arguments, timeout=120):
        return subprocess.run([sys.executable, "-m", "django", *arguments], env=env, capture_output=True, text=True, timeout=timeout)

    migrated = run("migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    return run
