"""The dashboard's figures: a few aggregate queries, the same number whatever the table size.

``dashboard_stats(days=30, kind="")`` returns a ``DashboardStats``; docs/operations.md#dashboard
defines every figure. Nothing here knows about HTTP or templates.
"""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from fractions import Fraction

from django.db.models import Count, Exists, F, Min, OuterRef, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from ...models import LivenessEvent, LivenessSession
from ...services.reviews import effective_outcome_filter


PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
KINDS = ("", *LivenessSession.Kind.values)  # "": every kind
PLATFORM_ROWS = 10
PERCENTILES = {"median": Fraction("0.5"), "p95": Fraction("0.95")}  # exact: ceil(0.95 * 100) is 95

COMPLETED = Q(status=LivenessSession.Status.COMPLETED)
VERIFY_COMPLETED = COMPLETED & Q(kind=LivenessSession.Kind.LIVENESS_WITH_VERIFY)
# What each count counts, over the sessions created in the period.
COUNTS = {
    "sessions": Q(),
    "completed": COMPLETED,
    "passed": COMPLETED & effective_outcome_filter(LivenessSession.Outcome.PASSED),
    "failed": COMPLETED & effective_outcome_filter(LivenessSession.Outcome.FAILED),
    "needs_review": COMPLETED & effective_outcome_filter(LivenessSession.Outcome.NEEDS_REVIEW),
    "ended": Q(  # without a result
        status__in=[LivenessSession.Status.EXPIRED, LivenessSession.Status.CANCELED, LivenessSession.Status.FAILED]
    ),
    "open": Q(status__in=LivenessSession.OPEN_STATUSES),
    "spoof": COMPLETED & Q(liveness_decision=LivenessSession.Decision.SPOOFFACE),
    "uncertain": COMPLETED & Q(liveness_decision=LivenessSession.Decision.UNCERTAIN),
    "verify_completed": VERIFY_COMPLETED,
    "different_person": VERIFY_COMPLETED & Q(liveness_decision=LivenessSession.Decision.REALFACE, is_identical=False),
    "timed": COMPLETED & Q(completed_at__isnull=False),
    "provider_error": Q(
        Exists(LivenessEvent.objects.filter(session=OuterRef("pk"), kind=LivenessEvent.Kind.REMOTE_ERROR))
    ),
}
# The stacked bars of a day, bottom to top.
DAY_SERIES = ("passed", "failed", "needs_review", "ended", "open")
PLATFORM_COUNTS = (
    "sessions",
    "completed",
    "passed",
    "spoof",
    "uncertain",
    "verify_completed",
    "different_person",
    "ended",
)


@dataclass(frozen=True)
class Rate:
    """``count`` of ``total``; ``value`` (0 to 1) is None when ``total`` is 0."""

    count: int
    total: int

    @property
    def value(self):
        return self.count / self.total if self.total else None


@dataclass
class Counts:
    """The counts of COUNTS (those asked for) over a set of sessions, and the rates made of them."""

    values: dict = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def add(self, other):
        for name, value in other.items():
            self.values[name] = self.values.get(name, 0) + value

    @property
    def pass_rate(self):
        return Rate(self.passed, self.completed)

    @property
    def spoof_rate(self):
        return Rate(self.spoof, self.completed)

    @property
    def uncertain_rate(self):
        return Rate(self.uncertain, self.completed)

    @property
    def different_person_rate(self):
        return Rate(self.different_person, self.verify_completed)

    @property
    def drop_off_rate(self):
        return Rate(self.ended, self.completed + self.ended)

    @property
    def provider_error_rate(self):
        return Rate(self.provider_error, self.sessions)


@dataclass
class Day:
    day: date
    counts: Counts


@dataclass
class Platform:
    browser: str  # "" when unknown
    os: str
    counts: Counts


@dataclass
class DashboardStats:
    days: int
    kind: str
    start: datetime  # the first midnight of the period, in the current time zone
    now: datetime
    totals: Counts
    per_day: list  # of Day, oldest first, one per calendar day of the period
    platforms: list  # of Platform, the PLATFORM_ROWS biggest by sessions
    backlog: int
    oldest_waiting: datetime | None  # completed_at of the longest-waiting session of the review queue
    time_to_result: dict  # {"median": timedelta | None, "p95": timedelta | None}

    @property
    def oldest_waiting_age(self):
        return self.now - self.oldest_waiting if self.oldest_waiting else None


def _aggregates(names):
    return {name: Count("pk", filter=COUNTS[name]) for name in names}


def period_start(days, now=None):
    """Midnight in the current time zone, ``days - 1`` days before today: today is the period's last day."""
    today = timezone.localdate(now)
    return timezone.make_aware(datetime.combine(today - timedelta(days=days - 1), time.min))


def dashboard_stats(days=DEFAULT_PERIOD, kind="", now=None):
    """The dashboard's figures for the sessions created in the last ``days`` days (today included) of
    ``kind`` ("" for every kind). Five queries at most, whatever the table holds."""
    if days not in PERIODS or kind not in KINDS:
        raise ValueError(f"days must be one of {PERIODS} and kind one of {KINDS}")
    now = now or timezone.now()
    start = period_start(days, now)
    of_kind = LivenessSession.objects.filter(kind=kind) if kind else LivenessSession.objects.all()
    period = of_kind.filter(created_at__gte=start).order_by()

    by_day = {
        row.pop("day"): row
        for row in period.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(**_aggregates(COUNTS))
    }
    totals = Counts(dict.fromkeys(COUNTS, 0))
    per_day = []
    for offset in range(days):
        day = start.date() + timedelta(days=offset)
        row = by_day.get(day, dict.fromkeys(COUNTS, 0))
        totals.add(row)
        per_day.append(Day(day, Counts(row)))

    platform_rows = (
        period.values("client_browser", "client_os")
        .annotate(**_aggregates(PLATFORM_COUNTS))
        .order_by("-sessions", "client_browser", "client_os")[:PLATFORM_ROWS]
    )
    platforms = [Platform(row.pop("client_browser"), row.pop("client_os"), Counts(row)) for row in platform_rows]

    backlog = of_kind.filter(review_status=LivenessSession.ReviewStatus.PENDING).aggregate(
        count=Count("pk"), oldest=Min("completed_at")
    )
    return DashboardStats(
        days=days,
        kind=kind,
        start=start,
        now=now,
        totals=totals,
        per_day=per_day,
        platforms=platforms,
        backlog=backlog["count"],
        oldest_waiting=backlog["oldest"],
        time_to_result=_durations(period.filter(COUNTS["timed"]), totals.timed),
    )


def _durations(completed, count):
    """The median and the 95th percentile of completed_at - created_at by the nearest-rank method: the
    value at rank ceil(p * count) of the sorted durations, one ORDER BY ... OFFSET query each."""
    durations = completed.annotate(duration=F("completed_at") - F("created_at")).order_by("duration", "pk")
    found = dict.fromkeys(PERCENTILES)
    if count:
        for name, p in PERCENTILES.items():
            rank = max(1, math.ceil(p * count))
            found[name] = next(iter(durations.values_list("duration", flat=True)[rank - 1 : rank]))
    return found
