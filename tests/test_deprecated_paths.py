"""Old import paths a host may use keep working for one release, with a DeprecationWarning that
names the new path (docs and hosts used ``django_liveness.privacy`` and the webhooks' modules)."""

import importlib
import sys

import pytest

from django_liveness import services, tasks
from django_liveness.services import outbox, webhook_delivery, webhook_subscriptions
from django_liveness.services import webhooks as endpoint_services
from django_liveness.webhook_protocol import events, guard, signing, transport


def import_again(name, match):
    sys.modules.pop(name, None)
    with pytest.warns(DeprecationWarning, match=match):
        return importlib.import_module(name)


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        ("events", events, ["SCHEMAS", "build_payload", "session_data", "EVENT_TYPES", "new_event_id"]),
        ("signing", signing, ["new_secret", "encode_body", "signed_headers"]),
        ("guard", guard, ["check_url", "resolve", "is_public", "AddressUnresolved"]),
        ("endpoints", endpoint_services, ["create_endpoint", "rotate_secret", "replay", "ROTATION_OVERLAP"]),
        ("delivery", webhook_delivery, ["send_due", "claim", "next_wait", "send_after_commit", "RETRY_SCHEDULE"]),
        ("delivery", transport, ["post", "Attempt", "RESPONSE_KEEP"]),
        ("outbox", webhook_subscriptions, ["subscribed_types", "forget_subscriptions"]),
    ],
)
def test_the_old_webhook_module_paths_re_export_the_same_objects_and_warn(old, new, names):
    module = import_again(f"django_liveness.webhooks.{old}", match=f"django_liveness.webhooks.{old} is deprecated")
    for name in names:
        assert getattr(module, name) is getattr(new, name), name


def test_the_old_outbox_record_is_the_service_that_writes_the_rows():
    module = import_again("django_liveness.webhooks.outbox", match="django_liveness.services.outbox")
    assert module.record is outbox.record_webhook_event
    assert module.enqueue is webhook_delivery.enqueue


def test_the_webhooks_facade_keeps_its_names_without_a_warning(recwarn):
    from django_liveness import webhooks

    assert webhooks.record is outbox.record_webhook_event
    assert webhooks.send_due is webhook_delivery.send_due
    assert webhooks.create_endpoint is endpoint_services.create_endpoint
    assert webhooks.SUBJECT_ERASED == events.SUBJECT_ERASED == "subject.erased"
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]


def test_the_old_privacy_module_re_exports_the_services_and_warns():
    privacy = import_again("django_liveness.privacy", match="django_liveness.privacy is deprecated")
    assert privacy.purge is services.apply_retention
    for name in ("grant_consent", "withdraw_consent", "erase_subject", "delete_orphan_remote_sessions"):
        assert getattr(privacy, name) is getattr(services, name)


@pytest.mark.parametrize(("old", "new"), [("refresh_session", "refresh_session_task"), ("purge", "apply_retention_task")])
def test_the_old_task_names_resolve_to_the_renamed_tasks_and_warn(old, new):
    with pytest.warns(DeprecationWarning, match=f"django_liveness.tasks.{new}"):
        assert getattr(tasks, old) is getattr(tasks, new)
    with pytest.raises(AttributeError):
        tasks.no_such_task  # noqa: B018
