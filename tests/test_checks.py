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
