"""Modules that moved in the layout by feature (CHANGELOG, Upgrading): the old paths a host may use
keep working for one release, with a DeprecationWarning that names the new path."""

import importlib
import sys
import warnings

import pytest

MOVED = [
    ("django_liveness.capture_views", "django_liveness.capture.views", "capture_page"),
    ("django_liveness.capture_links", "django_liveness.capture.links", "capture_url"),
    ("django_liveness.capture_messages", "django_liveness.capture.messages", "capture_messages"),
    ("django_liveness.capture_headers", "django_liveness.capture.headers", "security_headers"),
    ("django_liveness.checks", "django_liveness.operations.checks", "check_liveness_settings"),
    ("django_liveness.tracing", "django_liveness.observability.tracing", "span"),
    ("django_liveness.metrics", "django_liveness.observability.metrics", "observe_provider_call"),
    ("django_liveness.metrics.views", "django_liveness.observability.metrics.views", "metrics_view"),
    ("django_liveness.transactions", "django_liveness.db.transactions", "atomic_with_retry"),
    ("django_liveness.tasks_framework", "django_liveness.common.tasks_framework", "IMMEDIATE_BACKEND"),
]


@pytest.mark.parametrize(("old", "new", "name"), MOVED)
def test_an_old_path_warns_and_gives_the_same_objects(old, new, name, monkeypatch):
    monkeypatch.delitem(sys.modules, old, raising=False)
    parent = old.rpartition(".")[0]
    if parent != "django_liveness":  # a moved subpackage's module: its old parent warns on its own
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            importlib.import_module(parent)
    with pytest.warns(DeprecationWarning, match=rf"{old} is deprecated: import {new} instead") as caught:
        __import__(old)  # as an import statement does: the warning's frame is the importer's
    module = sys.modules[old]
    assert getattr(module, name) is getattr(importlib.import_module(new), name)
    assert caught[0].filename == __file__  # attributed to the importer: a host's own warning filters apply


def test_the_images_package_keeps_its_names():
    """``django_liveness.images`` became a package: what docs/api.md imports from it is still there."""
    from django_liveness import images
    from django_liveness.images import validation

    assert images.sample_face_image is validation.sample_face_image
    assert images.validate_reference_image is validation.validate_reference_image


def test_the_encryption_path_of_migration_0012_stays_without_a_warning(monkeypatch):
    monkeypatch.delitem(sys.modules, "django_liveness.encryption", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        __import__("django_liveness.encryption")
    module = sys.modules["django_liveness.encryption"]
    from django_liveness.db.encryption import EncryptedTextField

    assert module.EncryptedTextField is EncryptedTextField
