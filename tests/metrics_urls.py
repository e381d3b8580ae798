"""The test project's URLs plus the metrics view, mounted as docs/operations.md tells a host to."""

from django.urls import path

from django_liveness.observability.metrics.views import metrics_view

from .urls import urlpatterns as project_urlpatterns

urlpatterns = [*project_urlpatterns, path("metrics/", metrics_view)]
