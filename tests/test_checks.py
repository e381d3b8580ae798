from django.test import override_settings

from django_liveness.checks import check_liveness_settings

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


def test_a_backport_task_backend_on_django_6_is_w005():
    from django_liveness.checks import check_tasks_framework
    from django_liveness.tasks_framework import IMMEDIATE_BACKEND, USES_DJANGO_TASKS

    left_over = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with override_settings(TASKS=left_over):
        messages = check_tasks_framework()
    if USES_DJANGO_TASKS:  # Django 6: the backport's backend is a leftover from Django 5.2
        assert ids(messages) == ["django_liveness.W005"]
        assert "'django.tasks.backends.immediate.ImmediateBackend'" in messages[0].hint
    else:  # below 6.0 it is the framework itself
        assert messages == []
    for current in ({"default": {"BACKEND": IMMEDIATE_BACKEND}}, {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}):
        with override_settings(TASKS=current):
            assert check_tasks_framework() == []
