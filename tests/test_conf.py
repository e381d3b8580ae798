import ast
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from django_liveness import conf

from django_liveness.backends import get_backend
from django_liveness.backends.locmem import LocMemBackend
from django_liveness.conf import DEFAULTS, liveness_settings
from django_liveness.exceptions import LivenessConfigurationError

LOCMEM = "django_liveness.backends.locmem.LocMemBackend"


def test_defaults_apply_to_keys_the_user_did_not_set():
    assert liveness_settings.AUTH_TOKEN_TTL_SECONDS == 600
    assert liveness_settings.OPERATION_MODE == "Passive"
    assert liveness_settings.DELETE_REMOTE_SESSION_ON_RESULT is True
    assert liveness_settings.REFERENCE_IMAGE_STORAGE == "default"
    assert liveness_settings.VERIFY_CONFIDENCE_THRESHOLD == DEFAULTS["VERIFY_CONFIDENCE_THRESHOLD"]


def test_override_settings_is_seen_at_once():
    with override_settings(LIVENESS={"BACKEND": LOCMEM, "AUTH_TOKEN_TTL_SECONDS": 120}):
        assert liveness_settings.AUTH_TOKEN_TTL_SECONDS == 120
    assert liveness_settings.AUTH_TOKEN_TTL_SECONDS == 600


def test_nested_dicts_are_merged_with_their_defaults():
    with override_settings(LIVENESS={"BACKEND": LOCMEM, "RETENTION": {"RESULT_PAYLOAD_DAYS": 7}}):
        assert liveness_settings.RETENTION["RESULT_PAYLOAD_DAYS"] == 7
        assert liveness_settings.RETENTION["SESSION_DAYS"] == DEFAULTS["RETENTION"]["SESSION_DAYS"]


@pytest.mark.parametrize(
    "liveness, names",
    [
        ({"AUTH_TOKEN_TIMEOUT": 5}, "LIVENESS['AUTH_TOKEN_TIMEOUT'] is not a known setting"),
        ({"AUTH_TOKEN_TTL_SECONDS": 59}, "LIVENESS['AUTH_TOKEN_TTL_SECONDS'] must be an integer from 60 to 86400"),
        ({"AUTH_TOKEN_TTL_SECONDS": 86401}, "LIVENESS['AUTH_TOKEN_TTL_SECONDS']"),
        ({"AUTH_TOKEN_TTL_SECONDS": "600"}, "LIVENESS['AUTH_TOKEN_TTL_SECONDS']"),
        ({"VERIFY_CONFIDENCE_THRESHOLD": 1.5}, "LIVENESS['VERIFY_CONFIDENCE_THRESHOLD'] must be a number between 0 and 1"),
        ({"OPERATION_MODE": "Active"}, "LIVENESS['OPERATION_MODE'] must be one of Passive, PassiveActive"),
        ({"DELETE_REMOTE_SESSION_ON_RESULT": "yes"}, "LIVENESS['DELETE_REMOTE_SESSION_ON_RESULT'] must be True or False"),
        ({"REFERENCE_IMAGE_STORAGE": "private"}, "LIVENESS['REFERENCE_IMAGE_STORAGE'] must be a key of settings.STORAGES"),
        ({"RETENTION": {"IMAGES": 3}}, "LIVENESS['RETENTION'] has an unknown key 'IMAGES'"),
        ({"RETENTION": {"SESSION_DAYS": 0}}, "SESSION_DAYS"),
        ({"THROTTLE_RATES": {"upload_user": 10}}, "upload_user"),
        # DRF's parser refuses these at the first request (a 500): refused at startup instead.
        ({"THROTTLE_RATES": {"upload_user": "10/fortnightly"}}, "upload_user"),
        ({"THROTTLE_RATES": {"session_create_user": "ten/hour"}}, "session_create_user"),
        ({"THROTTLE_RATES": {"upload_subject": "10/hour/extra"}}, "upload_subject"),
        ({"THROTTLE_RATES": {"upload_subject": "-1/hour"}}, "upload_subject"),
        ({"OPTIONS": []}, "LIVENESS['OPTIONS'] must be a dict"),
    ],
)
def test_bad_settings_raise_an_error_naming_the_key(liveness, names):
    with override_settings(LIVENESS={"BACKEND": LOCMEM, **liveness}):
        with pytest.raises(LivenessConfigurationError, match=__import__("re").escape(names)):
            liveness_settings.OPERATION_MODE


def test_configuration_error_is_an_improperly_configured():
    from django.core.exceptions import ImproperlyConfigured

    assert issubclass(LivenessConfigurationError, ImproperlyConfigured)


def test_backend_is_built_once_per_process_and_rebuilt_when_the_setting_changes():
    first = get_backend()
    assert isinstance(first, LocMemBackend)
    assert get_backend() is first
    with override_settings(LIVENESS={"BACKEND": LOCMEM, "AUTH_TOKEN_TTL_SECONDS": 120}):
        assert get_backend() is not first


def test_a_setting_change_closes_the_old_backend(monkeypatch):
    closed = []
    first = get_backend()
    monkeypatch.setattr(first, "close", lambda: closed.append(first))
    with override_settings(STORAGES={**settings.STORAGES}):
        assert closed == [first]


def test_conf_imports_nothing_of_the_backends():
    """The backends reset themselves on ``setting_changed``: conf must not reach down to them."""
    tree = ast.parse(Path(conf.__file__).read_text())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [name for name in imported if "backends" in name]


def test_backend_that_cannot_be_imported_names_the_setting():
    with override_settings(LIVENESS={"BACKEND": "no.such.Backend"}):
        with pytest.raises(LivenessConfigurationError, match=r"LIVENESS\['BACKEND'\] = 'no.such.Backend' could not be imported"):
            get_backend()


def test_unknown_backend_option_is_refused():
    with override_settings(LIVENESS={"BACKEND": LOCMEM, "OPTIONS": {"endpont": "x"}}):
        with pytest.raises(LivenessConfigurationError, match="unknown key 'endpont' for LocMemBackend"):
            get_backend()


NO_WORK_ON_IMPORT = """
import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                    "django.contrib.sessions", "django.contrib.messages", "rest_framework", "django_liveness"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    ROOT_URLCONF="django_liveness.urls",
    # Both wrong: reading them would raise, so a clean start proves nothing read them.
    LIVENESS={"BACKEND": "no.such.Backend", "REFERENCE_IMAGE_STORAGE": "no-such-storage"},
)
django.setup()
import django_liveness.admin, django_liveness.api.views, django_liveness.services, django_liveness.urls
from django_liveness import backends
from django_liveness.conf import liveness_settings
from django_liveness.models import ReferenceImage

assert backends._backend is None, "a backend was built on import"
assert liveness_settings._cache is None, "LIVENESS was read on import"
assert type(ReferenceImage._meta.get_field("file").storage).__name__ == "ReferenceImageStorage"
print("clean")
"""


def test_importing_the_app_does_no_work():
    """No settings read, no backend or SDK client built, no storage looked up until first use."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", NO_WORK_ON_IMPORT], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout.strip()) == (0, "clean"), result.stderr


def test_every_setting_is_documented_with_its_default():
    import json
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "settings.md").read_text()
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| `(.+?)` \|", page, flags=re.MULTILINE))
    assert set(rows) == set(DEFAULTS)
    for key, default in DEFAULTS.items():
        # Written as Python: True/False, everything else reads the same as JSON.
        assert rows[key] == (str(default) if isinstance(default, bool) else json.dumps(default)), key
