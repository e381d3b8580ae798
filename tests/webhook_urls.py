"""The test project's URLs plus the Django receiver of docs/webhooks.md (test_webhooks_docs.py)."""

from django.urls import path

from docs.examples.webhook_receiver_django import liveness_webhook

from .urls import urlpatterns as project_urlpatterns

urlpatterns = [*project_urlpatterns, path("hooks/liveness/", liveness_webhook)]
