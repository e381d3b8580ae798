"""The gauges, computed when the metrics view is scraped: two aggregate queries on indexed columns
(``review_status``, ``status``; the review queue is short), and none between scrapes."""

from django.db.models import Count, Min
from django.utils import timezone

from ...models import LivenessSession


class BacklogCollector:
    """The review backlog and the open sessions, read from the database at each scrape.

    Registered only in the registry the view builds for one scrape (never in the default one), so
    each scrape counts once, also in prometheus_client's multiprocess mode."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        backlog = LivenessSession.objects.filter(review_status=LivenessSession.ReviewStatus.PENDING).aggregate(
            sessions=Count("pk"), oldest=Min("completed_at")
        )
        yield GaugeMetricFamily(
            "liveness_review_backlog_sessions",
            "Completed sessions waiting for a staff review.",
            value=backlog["sessions"],
        )
        oldest = backlog["oldest"]
        yield GaugeMetricFamily(
            "liveness_review_backlog_oldest_age_seconds",
            "Age of the oldest session waiting for a review, from its result (0 when none waits).",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0,
        )
        counts = dict(
            LivenessSession.objects.filter(status__in=LivenessSession.OPEN_STATUSES)
            .order_by()
            .values_list("status")
            .annotate(Count("pk"))
        )
        family = GaugeMetricFamily(
            "liveness_open_sessions", "Sessions without a result yet, by status.", labels=["status"]
        )
        for status in sorted(LivenessSession.OPEN_STATUSES):
            family.add_metric([status], counts.get(status, 0))
        yield family
