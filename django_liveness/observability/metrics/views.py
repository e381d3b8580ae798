"""The metrics view a host mounts in its URLconf (docs/operations.md, "Metrics").

Importing this module without prometheus_client raises a configuration error that names the extra
to install, so mounting the view fails at startup, not at the first scrape.
"""

import os

from django.http import HttpResponse, HttpResponseForbidden
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from ...conf import liveness_settings
from . import get_metrics, import_prometheus_client
from .collector import BacklogCollector

prometheus_client = import_prometheus_client()

PERMISSION = "django_liveness.view_livenesssession"


@require_safe
@never_cache
def metrics_view(request):
    """The metrics in Prometheus' text format (OpenMetrics when the scraper asks for it).

    Answers 403 unless the request carries ``Authorization: Bearer <LIVENESS['METRICS']['TOKEN']>``
    or comes from a staff member with the permission to view liveness sessions."""
    if not may_scrape(request):
        return HttpResponseForbidden("Metrics need the bearer token of LIVENESS['METRICS']['TOKEN'].\n")
    get_metrics()  # the counters' HELP and TYPE lines, before anything was counted
    encoder, content_type = prometheus_client.exposition.choose_encoder(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(encoder(scrape_registry()), content_type=content_type)


def may_scrape(request):
    token = liveness_settings.METRICS["TOKEN"]
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if token and scheme.lower() == "bearer" and constant_time_compare(credentials.strip(), token):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff and user.has_perm(PERMISSION))


def scrape_registry():
    """What one scrape reads: every process's metrics (from PROMETHEUS_MULTIPROC_DIR under gunicorn) or
    this process's default registry, plus the gauges read from the database now."""
    registry = prometheus_client.CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_DefaultRegistry())
    registry.register(BacklogCollector())
    return registry


class _DefaultRegistry:
    """prometheus_client's default registry as one collector of the scrape's registry."""

    def collect(self):
        return prometheus_client.REGISTRY.collect()
