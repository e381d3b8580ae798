import django
from django.test import override_settings

from django_liveness.operations.checks import check_deployment, check_liveness_settings, check_sqlite

LOCMEM = "django_liveness.backends.locmem.LocMemBackend"


def ids(messages):
    return [message.id for message in messages]


def test_unknown_key_is_e001():
    with override_settings(LIVENESS={"BACKEND": LOCMEM, "TTL": 5}):
        messages = check_liveness_settings()
    assert ids(messages) == ["django_liveness.E001"]
    assert "TTL" in messages[0].msg


def test_bad_value_is_e002_naming_the_key():
    with override_settings(LIVENESS={"BACKEND": LOCMEM, "OPERATION_MODE": "Loud"}):
        messages = check_liveness_settings()
    assert ids(messages) == ["django_liveness.E002"]
    assert "OPERATION_MODE" in messages[0].msg


def test_backend_that_cannot_be_imported_is_e003():
    with override_settings(LIVENESS={"BACKEND": "nowhere.Backend"}):
        assert ids(check_liveness_settings()) == ["django_liveness.E003"]


def test_in_memory_backend_without_debug_is_w001():
    with override_settings(DEBUG=False, LIVENESS={"BACKEND": LOCMEM}):
        assert ids(check_liveness_settings()) == ["django_liveness.W001"]


def test_in_memory_backend_with_debug_is_fine():
    with override_settings(DEBUG=True, LIVENESS={"BACKEND": LOCMEM}):
        assert check_liveness_settings() == []


def test_reference_images_in_the_project_folder_are_w003_without_debug(tmp_path, settings):
    settings.BASE_DIR = tmp_path
    project_folder = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "private")}}
    with override_settings(DEBUG=False, STORAGES={**settings.STORAGES, "faces": project_folder}):
        messages = check_liveness_settings_for("faces")
    assert ids(messages) == ["django_liveness.W003"] and "inside the project" in messages[0].msg


def test_reference_images_under_a_served_media_root_are_w003(tmp_path, settings):
    media = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "media" / "faces")}}
    with override_settings(DEBUG=False, MEDIA_ROOT=str(tmp_path / "media"), MEDIA_URL="/media/", STORAGES={**settings.STORAGES, "faces": media}):
        assert ids(check_liveness_settings_for("faces")) == ["django_liveness.W003"]


def test_a_private_folder_outside_the_project_is_fine(tmp_path, settings):
    settings.BASE_DIR = tmp_path / "project"
    private = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "private")}}
    with override_settings(DEBUG=False, STORAGES={**settings.STORAGES, "faces": private}):
        assert check_liveness_settings_for("faces") == []


def test_webhooks_over_http_without_debug_are_w004():
    with override_settings(DEBUG=False, LIVENESS={"BACKEND": LOCMEM, "WEBHOOKS": {"ALLOW_HTTP": True}}):
        messages = check_liveness_settings()
    assert ids(messages) == ["django_liveness.W001", "django_liveness.W004"] and "plain http" in messages[1].msg
    with override_settings(DEBUG=True, LIVENESS={"BACKEND": LOCMEM, "WEBHOOKS": {"ALLOW_HTTP": True}}):
        assert check_liveness_settings() == []


def check_liveness_settings_for(storage):
    with override_settings(LIVENESS={"BACKEND": "django_liveness.backends.azure.AzureFaceBackend", "OPTIONS": {"endpoint": "https://x.cognitiveservices.azure.com", "key": "k"}, "REFERENCE_IMAGE_STORAGE": storage}):
        return check_liveness_settings()


def test_a_storage_folder_that_cannot_be_created_is_w007(tmp_path, settings):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    below_a_file = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(blocker / "faces")}}
    with override_settings(DEBUG=True, STORAGES={**settings.STORAGES, "faces": below_a_file}):
        (message,) = check_liveness_settings_for("faces")
    assert message.id == "django_liveness.W007"
    assert str(blocker) in message.msg and "is not a folder" in message.msg


def test_a_storage_folder_not_made_yet_is_fine_when_it_can_be(tmp_path, settings):
    later = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "not" / "yet")}}
    with override_settings(DEBUG=True, STORAGES={**settings.STORAGES, "faces": later}):
        assert check_liveness_settings_for("faces") == []


def sqlite_database(tmp_path, **options):
    return {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "db.sqlite3"), "OPTIONS": options}}


def test_a_file_sqlite_database_without_the_solid_settings_is_w006_without_debug(tmp_path):
    with override_settings(DEBUG=False):
        (message,) = check_sqlite(sqlite_database(tmp_path))
    assert message.id == "django_liveness.W006"
    assert "journal_mode=WAL" in message.msg and '"timeout"' in message.msg
    # transaction_mode exists from Django 5.1: only recommended there.
    assert ('"transaction_mode": "IMMEDIATE"' in message.msg) == (django.VERSION >= (5, 1))
    with override_settings(DEBUG=True):
        assert check_sqlite(sqlite_database(tmp_path)) == []


def test_a_sqlite_database_with_the_documented_settings_is_fine(tmp_path):
    options = {"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20}
    if django.VERSION >= (5, 1):
        options["transaction_mode"] = "IMMEDIATE"
    with override_settings(DEBUG=False):
        assert check_sqlite(sqlite_database(tmp_path, **options)) == []
        assert check_sqlite({"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}) == []


def test_check_deploy_is_fine_with_an_endpoint_and_a_key():
    with override_settings(LIVENESS={"BACKEND": "django_liveness.backends.azure.AzureFaceBackend", "OPTIONS": {"endpoint": "https://x.cognitiveservices.azure.com", "key": "k"}}):
        assert check_deployment() == []


def test_a_backport_task_backend_on_django_6_is_w008():
    from django_liveness.operations.checks import check_tasks_framework
    from django_liveness.common.tasks_framework import IMMEDIATE_BACKEND, USES_DJANGO_TASKS

    left_over = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with override_settings(TASKS=left_over):
        messages = check_tasks_framework()
    if USES_DJANGO_TASKS:  # Django 6: the backport's backend is a leftover from Django 5.2
        assert ids(messages) == ["django_liveness.W008"]
        assert "'django.tasks.backends.immediate.ImmediateBackend'" in messages[0].hint
    else:  # below 6.0 it is the framework itself
        assert messages == []
    for current in ({"default": {"BACKEND": IMMEDIATE_BACKEND}}, {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}):
        with override_settings(TASKS=current):
            assert check_tasks_framework() == []
