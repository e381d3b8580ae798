"""The documentation's shell flows, run as written against the example project (`make demo`)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

from .example_server import ROOT, example_server

MARKER = "<!-- tests/test_docs_flows.py runs this block as written -->"


def marked_blocks(page):
    """The code blocks of docs/<page> that follow the marker comment, in order."""
    text = (ROOT / "docs" / page).read_text()
    return re.findall(re.escape(MARKER) + r"\s*```(?:bash|python)\n(.*?)```", text, flags=re.S)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    if shutil.which("curl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("curl is not installed (CI must install it)")
        pytest.skip("curl is not installed")
    with example_server(tmp_path_factory.mktemp("demo")) as server:
        yield server


def json_answers(output):
    """The JSON bodies curl printed one after another (without newlines between them)."""
    decoder, answers, position = json.JSONDecoder(), [], 0
    output = output.strip()
    while position < len(output):
        answer, position = decoder.raw_decode(output, position)
        answers.append(answer)
        while position < len(output) and output[position].isspace():
            position += 1
    return answers


def run_bash(script, folder, **env):
    # `python` is this interpreter, as in an activated virtualenv. The test run's
    # DJANGO_SETTINGS_MODULE is not the documented project's, and a new host has no VISION_* yet.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    base = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE" and not key.startswith("VISION_")}
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=folder,
        env={**base, "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_api_pages_curl_flow_runs_as_written(demo, tmp_path):
    (block,) = marked_blocks("api.md")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)  # run from a clone's folder
    result = run_bash(block, tmp_path, PORT=str(demo["port"]))
    assert result.returncode == 0, result.stderr
    assert [path.name for path in tmp_path.iterdir()] == [".venv"]  # the sample photo went to a temporary folder
    answer = json_answers(result.stdout)[-1]  # the last command's: complete/
    assert (answer["status"], answer["outcome"], answer["liveness_decision"]) == ("completed", "passed", "realface")
    assert answer["verification"]["is_identical"] is True


def test_the_quickstart_configures_a_new_project(tmp_path):
    settings_block, urls_block, commands = marked_blocks("quickstart.md")
    assert run_bash("django-admin startproject mysite", tmp_path).returncode == 0
    project = tmp_path / "mysite"
    for path, block in (("mysite/settings.py", settings_block), ("mysite/urls.py", urls_block)):
        with open(project / path, "a") as file:
            file.write("\n" + block)
    # As written, with no key yet: migrate applies everything, check names what is missing.
    result = run_bash(commands, project)
    assert result.returncode == 0, result.stderr
    assert "Applying django_liveness.0001" in result.stdout
    assert "django_liveness.W005" in result.stderr and "no endpoint and no key" in result.stderr
    with open(project / "mysite" / "settings.py", "a") as file:
        file.write('\nSTATIC_ROOT = BASE_DIR / "static"\n')  # collectstatic's, which startproject leaves unset
    for command in ("makemigrations --check --dry-run", "collectstatic --noinput", "createsuperuser --noinput"):
        done = run_bash(f"python manage.py {command}", project, DJANGO_SUPERUSER_USERNAME="admin", DJANGO_SUPERUSER_PASSWORD="pw", DJANGO_SUPERUSER_EMAIL="a@example.com")
        assert done.returncode == 0, f"{command}: {done.stderr}"
    deploy = run_bash("python manage.py check --deploy", project)
    assert deploy.returncode != 0 and "django_liveness.E004" in deploy.stderr
    env = {"VISION_ENDPOINT": "https://mysite.cognitiveservices.azure.com", "VISION_KEY": "key"}
    with_key = run_bash("python manage.py check", project, **env)
    assert with_key.returncode == 0 and "System check identified no issues" in with_key.stdout
    urls = run_bash(
        "python manage.py shell -c \"from django.urls import reverse; print(reverse('django_liveness:session-list'))\"",
        project,
        **env,
    )
    assert urls.stdout.strip().splitlines()[-1] == "/api/liveness/sessions/"


def test_the_hosted_link_guide_gives_a_link_that_starts_once(demo, tmp_path):
    (api_flow,) = marked_blocks("api.md")  # the guide starts where the API flow ends: consent and a photo
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    assert run_bash(api_flow, tmp_path, PORT=str(demo["port"])).returncode == 0
    (guide,) = marked_blocks("capture.md")
    result = run_bash(guide, tmp_path, PORT=str(demo["port"]))
    assert result.returncode == 0, result.stderr
    link = result.stdout.strip().splitlines()[-1]
    assert link.startswith(f"{demo['base']}/api/liveness/capture/")
    for _opening in range(2):  # no login; opening it (a link preview too) spends nothing
        with urlopen(link) as page:
            assert page.status == 200 and b"liveness-capture-config" in page.read()
    start = Request(link, method="POST", headers={"Origin": demo["base"]})  # the page's Start
    with urlopen(start) as started:
        assert started.status == 200 and json.load(started)["session"]["auth_token"]
    with pytest.raises(HTTPError) as again:
        urlopen(link)  # another browser (no cookie of the start)
    assert again.value.code == 410
