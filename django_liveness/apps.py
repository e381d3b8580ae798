from django.apps import AppConfig


class LivenessConfig(AppConfig):
    name = "django_liveness"
    label = "django_liveness"
    verbose_name = "Liveness"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from . import tasks
        from .observability import metrics  # noqa: F401  (connects the metrics receivers)
        from .operations import checks  # noqa: F401  (importing checks registers the system checks)
        from .api.permissions import forget_cached_permissions
        from .models import WebhookEndpoint
        from .services import after_answer, webhook_delivery
        from .services.webhook_subscriptions import forget_subscriptions

        user_model = get_user_model()
        for relation in (getattr(user_model, "user_permissions", None), getattr(user_model, "groups", None), Group.permissions):
            if relation is not None:
                m2m_changed.connect(forget_cached_permissions, sender=relation.through, dispatch_uid=f"liveness-{relation.through}")
        # Deliveries a commit wrote go out as a task when TASKS has workers (else in a thread): the
        # webhooks' sending never imports the tasks, which import the services.
        webhook_delivery.set_dispatcher(tasks.enqueue_webhooks)
        after_answer.set_dispatcher(tasks.enqueue_after_answer)  # the same, for the work after a result's answer
        # Which event types endpoints subscribe to is cached (services.webhook_subscriptions): forget it on a change.
        post_save.connect(forget_subscriptions, sender=WebhookEndpoint, dispatch_uid="liveness-webhook-endpoint-saved")
        post_delete.connect(forget_subscriptions, sender=WebhookEndpoint, dispatch_uid="liveness-webhook-endpoint-deleted")
        metrics.connect()  # counts sessions and reviews, when prometheus_client is installed
