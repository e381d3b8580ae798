"""The example project as `make demo` runs it: setup twice in a row, and the switch to real Azure."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANAGE = [sys.executable, str(ROOT / "example_project" / "manage.py")]


def run(*args, env):
    result = subprocess.run([*MANAGE, *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def example_env(tmp_path, **extra):
    env = {key: value for key, value in os.environ.items() if key not in ("VISION_ENDPOINT", "VISION_KEY")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env | {"DEMO_DB": str(tmp_path / "db.sqlite3"), "DEMO_PRIVATE_MEDIA": str(tmp_path / "private")} | extra


def test_demo_setup_works_again_on_a_second_run(tmp_path):
    env = example_env(tmp_path)
    run("migrate", "--noinput", env=env)
    first = run("demo_setup", env=env)
    assert "end user, /: demo / demo-password (created)" in first
    assert "staff reviewer, /admin/: reviewer / reviewer-password (created)" in first
    second = run("demo_setup", env=env)
    assert "demo / demo-password (already there)" in second and "reviewer / reviewer-password (already there)" in second


SHOW_CONFIG = """
from django.conf import settings
from django.urls import resolve, Resolver404
try:
    resolve("/emulator/face/v1.2-preview.1/detectLiveness/singleModal/sessions")
    emulator = True
except Resolver404:
    emulator = False
print(json.dumps({"options": settings.LIVENESS["OPTIONS"], "emulator_mounted": emulator}))
"""


def show_config(env):
    # Django 5.2's shell announces its automatic imports first: the JSON is the last line.
    return json.loads(run("shell", "-c", "import json" + SHOW_CONFIG, env=env).strip().splitlines()[-1])


def test_two_environment_variables_switch_the_same_project_to_azure(tmp_path):
    emulated = show_config(example_env(tmp_path))
    assert emulated == {
        "options": {"endpoint": "http://127.0.0.1:8000/emulator", "key": "emulator-key"},
        "emulator_mounted": True,
    }
    azure_env = example_env(tmp_path, VISION_ENDPOINT="https://acme.cognitiveservices.azure.com", VISION_KEY="k")
    azure = show_config(azure_env)
    assert azure == {
        "options": {"endpoint": "https://acme.cognitiveservices.azure.com", "key": "k"},
        "emulator_mounted": False,
    }


def test_the_example_runs_with_each_task_engine(tmp_path):
    """DEMO_TASKS picks the engine; with a worker, complete/ is answered in the background."""
    env = example_env(tmp_path, DEMO_TASKS="db")
    run("migrate", "--noinput", env=env)  # the task table of django-tasks-db comes along
    out = run("shell", "-c", "from django.conf import settings; print(settings.TASKS['default']['BACKEND'], settings.LIVENESS['COMPLETE_IN_BACKGROUND'])", env=env)
    assert out.split()[-2:] == ["django_tasks_db.DatabaseBackend", "True"]  # after the shell's own notes
    assert "db_worker" in run("help", env=env)
    rq = example_env(tmp_path, DEMO_TASKS="rq")
    assert "rqworker" in run("help", env=rq)
