from django.apps import AppConfig


class LivenessConfig(AppConfig):
    name = "django_liveness"
    label = "django_liveness"
    verbose_name = "Liveness"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
