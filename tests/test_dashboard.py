"""The admin dashboard (docs/operations.md#dashboard): every figure on a known data set, exactly, as
stats.py computes it and as the page shows it; the period and kind filters; who may see it; and the
same few queries at 100 and at 50,000 sessions."""

import re
import time
from datetime import UTC, datetime, timedelta

import django
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_liveness.admin.dashboard import charts
from django_liveness.admin.dashboard.stats import dashboard_stats
from django_liveness.models import LivenessEvent, LivenessSession, Subject
from django_liveness.testing import LivenessSessionFactory, SubjectFactory, UserFactory

from .test_admin import staff, text

pytestmark = pytest.mark.django_db

DASHBOARD = "admin:django_liveness_livenesssession_dashboard"
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
VERIFY = "liveness_with_verify"


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def at(month, day, hour=10, minute=0, second=0):
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def session(subject, created, *, seconds=None, errors=0, platform=("", ""), **fields):
    """A session created at ``created``; completed ``seconds`` later when given; with ``errors`` remote_error events."""
    completed = (
        {"status": "completed", "completed_at": created + timedelta(seconds=seconds)} if seconds is not None else {}
    )
    made = LivenessSessionFactory(
        subject=subject, created_at=created, client_browser=platform[0], client_os=platform[1], **completed, **fields
    )
    for _ in range(errors):
        LivenessEvent.objects.create(kind="remote_error", session=made, message="HTTP 503")
    return made


WINDOWS = ("Chrome", "Windows")
IOS = ("Mobile Safari", "iOS")
ANDROID = ("Chrome Mobile", "Android")
PASSED = {"liveness_decision": "realface", "outcome": "passed"}
UNCERTAIN = {"liveness_decision": "uncertain", "outcome": "needs_review"}


@pytest.fixture
def known(now):
    """Fourteen liveness and four verify sessions; the comments say where each one counts."""
    subject = SubjectFactory()
    # liveness, in the 30 days (from 2026-02-14 00:00 UTC)
    session(subject, at(3, 15), seconds=30, platform=WINDOWS, **PASSED)
    session(subject, at(3, 14, 9), seconds=60, platform=WINDOWS, **PASSED)
    session(subject, at(3, 14), seconds=20, platform=IOS, liveness_decision="spoofface", outcome="failed")
    session(subject, at(3, 8), seconds=40, platform=IOS, review_status="approved", **UNCERTAIN)  # passed after review
    session(subject, at(3, 13, 8), seconds=90, review_status="pending", **UNCERTAIN)  # unknown platform, waiting
    session(subject, at(3, 12), status="expired", errors=1, platform=WINDOWS)
    session(subject, at(3, 12, 11), status="canceled", platform=IOS)
    session(subject, at(3, 15, 11), status="started", errors=2, platform=WINDOWS)  # one session with errors
    session(subject, at(2, 14, 0), status="created", platform=("Firefox", "Linux"))  # the period's first instant
    # liveness, before the period: counted only in the review backlog (whatever its age)
    session(subject, at(2, 13, 23, 59, 59), seconds=5, errors=1, platform=WINDOWS, **PASSED)
    session(subject, at(1, 10), seconds=0, review_status="pending", **UNCERTAIN)  # completed 2026-01-10 10:00
    # verify
    session(subject, at(3, 11), seconds=120, kind=VERIFY, platform=ANDROID, is_identical=True, **PASSED)
    different = {"liveness_decision": "realface", "is_identical": False, "outcome": "failed"}
    session(subject, at(3, 11, 12), seconds=50, kind=VERIFY, platform=ANDROID, **different)
    session(
        subject,
        at(3, 9),
        seconds=10,
        kind=VERIFY,
        platform=ANDROID,
        is_identical=True,
        review_status="rejected",
        **PASSED,
    )
    session(subject, at(3, 9, 13), status="failed", kind=VERIFY, platform=ANDROID)
    LivenessEvent.objects.create(kind="remote_error", session=None, message="not about a session")


def rate(stats_rate):
    return (stats_rate.count, stats_rate.total)


def test_every_figure_of_the_known_data_set(known):
    stats = dashboard_stats()
    totals = stats.totals
    assert stats.start == at(2, 14, 0)
    assert (totals.sessions, totals.completed, totals.passed, totals.failed, totals.needs_review) == (13, 8, 4, 3, 1)
    assert (totals.ended, totals.open) == (3, 2)
    assert rate(totals.pass_rate) == (4, 8)
    assert rate(totals.spoof_rate) == (1, 8)
    assert rate(totals.uncertain_rate) == (2, 8)
    assert rate(totals.different_person_rate) == (1, 3)
    assert rate(totals.drop_off_rate) == (3, 11)
    assert rate(totals.provider_error_rate) == (2, 13)
    assert (stats.backlog, stats.oldest_waiting) == (2, at(1, 10))
    assert stats.oldest_waiting_age == timedelta(days=64, hours=2)
    # durations 10 20 30 40 50 60 90 120 s: ranks ceil(0.5 * 8) = 4 and ceil(0.95 * 8) = 8
    assert stats.time_to_result == {"median": timedelta(seconds=40), "p95": timedelta(seconds=120)}


def test_sessions_per_day_by_result(known):
    stats = dashboard_stats()
    assert len(stats.per_day) == 30 and (stats.per_day[0].day, stats.per_day[-1].day) == (at(2, 14).date(), NOW.date())
    shown = {
        day.day.isoformat(): tuple(
            day.counts.values[name] for name in ("passed", "failed", "needs_review", "ended", "open")
        )
        for day in stats.per_day
        if day.counts.sessions
    }
    assert shown == {
        "2026-02-14": (0, 0, 0, 0, 1),
        "2026-03-08": (1, 0, 0, 0, 0),
        "2026-03-09": (0, 1, 0, 1, 0),
        "2026-03-11": (1, 1, 0, 0, 0),
        "2026-03-12": (0, 0, 0, 2, 0),
        "2026-03-13": (0, 0, 1, 0, 0),
        "2026-03-14": (1, 1, 0, 0, 0),
        "2026-03-15": (1, 0, 0, 0, 1),
    }


def platform_rows(stats):
    return [
        (p.browser, p.os, p.counts.sessions, *(rate(getattr(p.counts, f"{name}_rate")) for name in RATES))
        for p in stats.platforms
    ]


RATES = ("pass", "spoof", "uncertain", "different_person", "drop_off")


def test_rates_by_client_platform(known):
    assert platform_rows(dashboard_stats()) == [
        ("Chrome", "Windows", 4, (2, 2), (0, 2), (0, 2), (0, 0), (1, 3)),
        ("Chrome Mobile", "Android", 4, (1, 3), (0, 3), (0, 3), (1, 3), (1, 4)),
        ("Mobile Safari", "iOS", 3, (1, 2), (1, 2), (1, 2), (0, 0), (1, 3)),
        ("", "", 1, (0, 1), (0, 1), (1, 1), (0, 0), (0, 1)),
        ("Firefox", "Linux", 1, (0, 0), (0, 0), (0, 0), (0, 0), (0, 0)),
    ]


def test_the_ten_biggest_platforms(now):
    subject = SubjectFactory()
    for n in range(12):
        for _ in range(1 + n // 4):
            session(subject, at(3, 15), platform=(f"Browser {n:02}", "OS"))
    rows = platform_rows(dashboard_stats())
    assert [(browser, sessions) for browser, _os, sessions, *_rates in rows] == [
        ("Browser 08", 3),
        ("Browser 09", 3),
        ("Browser 10", 3),
        ("Browser 11", 3),
        ("Browser 04", 2),
        ("Browser 05", 2),
        ("Browser 06", 2),
        ("Browser 07", 2),
        ("Browser 00", 1),
        ("Browser 01", 1),
    ]


def test_the_kind_filter(known):
    liveness = dashboard_stats(kind="liveness")
    totals = liveness.totals
    assert (totals.sessions, rate(totals.pass_rate), rate(totals.spoof_rate), rate(totals.uncertain_rate)) == (
        9,
        (3, 5),
        (1, 5),
        (2, 5),
    )
    assert (rate(totals.different_person_rate), rate(totals.drop_off_rate), rate(totals.provider_error_rate)) == (
        (0, 0),
        (2, 7),
        (2, 9),
    )
    assert (liveness.backlog, liveness.oldest_waiting) == (2, at(1, 10))
    assert liveness.time_to_result == {"median": timedelta(seconds=40), "p95": timedelta(seconds=90)}  # 20 30 40 60 90

    verify = dashboard_stats(kind=VERIFY)
    totals = verify.totals
    assert (totals.sessions, rate(totals.pass_rate), rate(totals.spoof_rate), rate(totals.different_person_rate)) == (
        4,
        (1, 3),
        (0, 3),
        (1, 3),
    )
    assert (rate(totals.drop_off_rate), rate(totals.provider_error_rate)) == ((1, 4), (0, 4))
    assert (verify.backlog, verify.oldest_waiting, verify.oldest_waiting_age) == (0, None, None)
    assert verify.time_to_result == {"median": timedelta(seconds=50), "p95": timedelta(seconds=120)}  # 10 50 120


def test_the_period_filter(known):
    week = dashboard_stats(days=7)
    totals = week.totals
    assert week.start == at(3, 9, 0) and len(week.per_day) == 7
    assert (totals.sessions, rate(totals.pass_rate), rate(totals.drop_off_rate), rate(totals.provider_error_rate)) == (
        11,
        (3, 7),
        (3, 10),
        (2, 11),
    )
    assert week.backlog == 2  # whatever its age
    assert week.time_to_result == {
        "median": timedelta(seconds=50),
        "p95": timedelta(seconds=120),
    }  # 10 20 30 50 60 90 120
    assert dashboard_stats(days=90).totals.sessions == 15


def test_days_are_calendar_days_of_the_current_time_zone(now):
    subject = SubjectFactory()
    session(subject, at(3, 8, 23, 30))  # 2026-03-09 00:30 in Paris: the 7 days' first
    session(subject, at(3, 8, 22, 30))  # 23:30 in Paris: before them
    with timezone.override("Europe/Paris"):
        week = dashboard_stats(days=7)
    assert week.totals.sessions == 1 and week.per_day[0].counts.sessions == 1
    assert week.start == datetime(2026, 3, 9, tzinfo=UTC) - timedelta(hours=1)


def test_nothing_to_count(now):
    stats = dashboard_stats()
    assert (stats.totals.sessions, stats.totals.pass_rate.value, stats.backlog, stats.platforms) == (0, None, 0, [])
    assert stats.time_to_result == {"median": None, "p95": None}


# --- the page ---------------------------------------------------------------------------------


@pytest.fixture
def viewer(client):
    client.force_login(staff("view_livenesssession"))
    return client


def figures(page):
    """The headline figures as shown: {label: "value detail"}."""
    found = re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", page, re.DOTALL)
    return {text(label): text(value) for label, value in found}


def table(page, table_id):
    body = page[page.index(f'id="{table_id}"') :]
    body = body[body.index("<tbody>") : body.index("</tbody>")]
    return [
        [text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)
    ]


def test_the_page_shows_every_figure(viewer, known):
    page = viewer.get(reverse(DASHBOARD)).content.decode()
    assert figures(page) == {
        "Sessions created": "13",
        "Pass rate": "50.0 % 4 of 8",
        "Spoof rate": "12.5 % 1 of 8",
        "Uncertain rate": "25.0 % 2 of 8",
        "Different-person rate (verify sessions)": "33.3 % 1 of 3",
        "Drop-off rate": "27.3 % 3 of 11",
        "Provider error rate": "15.4 % 2 of 13",
        "Review backlog": "2 sessions waiting",
        "Oldest waiting": "64 days 2 h",
        "Median time to result": "40.0 s",
        "95th percentile time to result": "2 min 0 s",
    }
    days = table(page, "liveness-days-table")
    assert len(days) == 30
    assert days[:2] == [["Mar 15", "1", "0", "0", "0", "1", "2"], ["Mar 14", "1", "1", "0", "0", "0", "2"]]
    assert days[-1] == ["Feb 14", "0", "0", "0", "0", "1", "1"]
    assert table(page, "liveness-platforms-table") == [
        ["Chrome / Windows", "4", "100.0 % 2 of 2", "0.0 % 0 of 2", "0.0 % 0 of 2", "— 0 of 0", "33.3 % 1 of 3"],
        [
            "Chrome Mobile / Android",
            "4",
            "33.3 % 1 of 3",
            "0.0 % 0 of 3",
            "0.0 % 0 of 3",
            "33.3 % 1 of 3",
            "25.0 % 1 of 4",
        ],
        ["Mobile Safari / iOS", "3", "50.0 % 1 of 2", "50.0 % 1 of 2", "50.0 % 1 of 2", "— 0 of 0", "33.3 % 1 of 3"],
        ["Unknown / Unknown", "1", "0.0 % 0 of 1", "0.0 % 0 of 1", "100.0 % 1 of 1", "— 0 of 0", "0.0 % 0 of 1"],
        ["Firefox / Linux", "1", "— 0 of 0", "— 0 of 0", "— 0 of 0", "— 0 of 0", "— 0 of 0"],
    ]


def test_the_charts_are_svg_with_a_summary(viewer, known):
    page = viewer.get(reverse(DASHBOARD)).content.decode()
    assert page.count('role="img"') == 2 and "<script" not in page[page.index('id="liveness-dashboard"') :]
    desc = re.findall(r"<desc[^>]*>(.*?)</desc>", page, re.DOTALL)
    assert text(desc[0]) == (
        "13 sessions created from Feb 14 to Mar 15 (passed: 4, failed: 3, needs review: 1, ended without a result: 3,"
        " still open: 2). The busiest day was Mar 9, with 2."
    )
    assert text(desc[1]) == (
        "Pass rate by client platform: Chrome / Windows: 100.0 %; Chrome Mobile / Android: 33.3 %;"
        " Mobile Safari / iOS: 50.0 %; Unknown / Unknown: 0.0 %; Firefox / Linux: —."
    )
    start = page.index("liveness-day-chart")
    day_chart = page[start : page.index("</svg>", start)]
    assert day_chart.count("<rect") == 12  # one per non-empty segment of the 8 days with sessions
    assert text(page[page.index('<ul class="liveness-legend">') :].split("</ul>")[0]) == (
        "passed failed needs review ended without a result still open"
    )


def test_the_page_with_filters_and_bad_parameters(viewer, known):
    def shown(**params):
        return figures(viewer.get(reverse(DASHBOARD), params).content.decode())

    verify = shown(days="7", kind=VERIFY)
    assert (verify["Sessions created"], verify["Pass rate"], verify["Oldest waiting"]) == ("4", "33.3 % 1 of 3", "—")
    assert verify["Different-person rate (verify sessions)"] == "33.3 % 1 of 3"
    assert shown(days="7")["Sessions created"] == "11"
    assert shown(kind="liveness")["Different-person rate (verify sessions)"] == "— 0 of 0"
    for bad in [{"days": "31"}, {"days": "x"}, {"kind": "selfie"}, {"days": ["7", "x"], "kind": ["verify"]}]:
        response = viewer.get(reverse(DASHBOARD), bad)
        assert response.status_code == 200
        assert figures(response.content.decode())["Sessions created"] == "13"  # 30 days, every kind
    page = viewer.get(reverse(DASHBOARD), {"days": "x", "kind": VERIFY}).content.decode()
    assert '<option value="30" selected>' in page and f'<option value="{VERIFY}" selected>' in page


def test_who_may_see_it(client, known):
    url = reverse(DASHBOARD)
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))
    client.force_login(staff("view_subject"))
    assert client.get(url).status_code == 403
    client.force_login(UserFactory(is_staff=False, is_superuser=False))
    assert client.get(url).status_code == 302
    client.force_login(staff("view_livenesssession"))
    page = client.get(url).content.decode()
    assert "<title>Liveness dashboard | Django site admin</title>" in page
    bar = re.search(r'<(ol|div) class="breadcrumbs">(.*?)</\1>', page, re.DOTALL)
    assert bar.group(1) == ("ol" if django.VERSION >= (6, 0) else "div")  # the markup the running admin styles
    steps = [text(li) for li in re.findall(r"<li[^>]*>(.*?)</li>", bar.group(2), re.DOTALL)] or text(bar.group(2)).split(" › ")
    assert steps == ["Home", "Liveness", "Liveness sessions", "Liveness dashboard"]


def test_the_session_list_links_to_it_and_a_session_shows_its_platform(viewer, known):
    page = viewer.get(reverse("admin:django_liveness_livenesssession_changelist")).content.decode()
    assert f'<a href="{reverse(DASHBOARD)}">Dashboard</a>' in page
    shown = LivenessSession.objects.get(client_browser="Firefox")
    page = viewer.get(reverse("admin:django_liveness_livenesssession_change", args=[shown.pk])).content.decode()
    field = re.search(r'class="form-row field-client_platform">(.*?)</div>\s*</div>', page, re.DOTALL).group(1)
    assert text(field) == "Client platform: Firefox / Linux"


def test_the_charts_geometry():
    largest = (0, 1, 2, 3, 7, 10, 11, 24, 51, 999)
    assert [charts.nice_maximum(n) for n in largest] == [1, 1, 2, 3, 8, 10, 20, 30, 60, 1000]
    days = [(n, {"a": n, "b": 1}) for n in range(30)]
    chart = charts.day_chart(days, ["a", "b"], label=lambda day: f"day {day}")
    assert [tick.value for tick in chart.ticks] == [0, 15, 30] and chart.ticks[-1].y == charts.DAY_CHART["top"]
    assert [bar.label for bar in chart.bars if bar.label] == ["day 4", "day 9", "day 14", "day 19", "day 24", "day 29"]
    last = chart.bars[-1]
    assert [(s.series, s.value) for s in last.segments] == [("a", 29), ("b", 1)]
    assert last.segments[0].y + last.segments[0].height == chart.baseline  # stacked from the baseline up
    assert last.segments[1].y + last.segments[1].height == last.segments[0].y
    assert charts.day_chart(days[:1], ["a", "b"]).bars[0].segments[0].series == "b"  # nothing of "a": no segment
    rows = charts.rate_chart([("x", "50 %", 0.5), ("y", "—", None)]).rows
    assert [(row.width, row.y) for row in rows] == [(200, 16), (0, 60)]


# --- the queries, whatever the table holds ------------------------------------------------------


def many_sessions(count):
    """``count`` sessions of every status, outcome, kind and platform over the last 90 days, some with
    provider errors, some waiting for review."""
    subjects = Subject.objects.bulk_create([Subject(external_id=f"bulk-{n}") for n in range(max(1, count // 100))])
    statuses = ["completed", "completed", "completed", "expired", "canceled", "failed", "started", "created"]
    outcomes = [("realface", "passed"), ("spoofface", "failed"), ("uncertain", "needs_review")]
    platforms = [
        ("Chrome", "Windows"),
        ("Mobile Safari", "iOS"),
        ("", ""),
        ("Firefox", "Linux"),
        ("Samsung Internet", "Android"),
    ]
    now = timezone.now()
    rows = []
    for n in range(count):
        created = now - timedelta(minutes=n * 7 % (89 * 24 * 60))  # in the 90 days
        status = statuses[n % len(statuses)]
        decision, outcome = outcomes[n % 3] if status == "completed" else ("", "")
        rows.append(
            LivenessSession(
                subject=subjects[n % len(subjects)],
                kind=VERIFY if n % 2 else "liveness",
                operation_mode="Passive",
                status=status,
                liveness_decision=decision,
                outcome=outcome,
                is_identical=n % 5 != 0 if decision == "realface" else None,
                review_status="pending" if outcome == "needs_review" and n % 2 else "",
                created_at=created,
                completed_at=created + timedelta(seconds=n % 97) if status == "completed" else None,
                client_browser=platforms[n % 5][0],
                client_os=platforms[n % 5][1],
            )
        )
    insert(rows)
    LivenessEvent.objects.bulk_create(
        [LivenessEvent(kind="remote_error", session=made) for made in rows[::10]], batch_size=5000
    )


def insert(objects):
    """INSERT unsaved ``objects`` of one model whose primary key is set (a UUID), in one executemany.
    bulk_create compiles every value of every field: 50,000 sessions took 17 s on SQLite (999
    parameters a statement); this takes about a second, the values prepared by the fields as Django does."""
    fields = type(objects[0])._meta.concrete_fields
    prepared = {}  # (field, value): database value, for the many values rows share

    def value(field, obj):
        raw = field.pre_save(obj, add=True)
        try:
            return prepared[field.attname, raw]
        except KeyError:
            prepared[field.attname, raw] = field.get_db_prep_save(raw, connection)
            return prepared[field.attname, raw]
        except TypeError:  # unhashable (a JSON value)
            return field.get_db_prep_save(raw, connection)

    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(type(objects[0])._meta.db_table),
        ", ".join(quote(field.column) for field in fields),
        ", ".join(["%s"] * len(fields)),
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, [[value(field, obj) for field in fields] for obj in objects])


def measured(call):
    """What ``call()`` returns, its number of queries and its time in seconds."""
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        result = call()
        seconds = time.perf_counter() - started
    return result, len(captured.captured_queries), seconds


# The dashboard's 5, and the page's own 4: the session and the user, the user's and groups' permissions.
STATS_QUERIES, PAGE_QUERIES = 5, 9


@pytest.mark.parametrize("rows", [100, 50_000])
def test_the_same_few_queries_at_any_table_size(viewer, rows):
    many_sessions(rows)
    stats, stats_queries, seconds = measured(lambda: dashboard_stats(days=90))
    response, page_queries, _seconds = measured(lambda: viewer.get(reverse(DASHBOARD), {"days": "90"}))
    print(f"{rows} rows on {connection.vendor}: {stats_queries} queries in {seconds:.3f} s; the page: {page_queries}")
    assert stats.totals.sessions == rows and figures(response.content.decode())["Sessions created"] == str(rows)
    assert (stats_queries, page_queries) == (STATS_QUERIES, PAGE_QUERIES)


def test_the_page_in_french_keeps_svg_coordinates_with_a_point(viewer, known, settings):
    settings.LANGUAGE_CODE = "fr"
    page = viewer.get(reverse(DASHBOARD)).content.decode()
    shown = figures(page)
    assert (shown["Taux de réussite"], shown["Attente la plus longue"]) == ("50,0 % 4 sur 8", "64 jours 2 h")
    chart = page[page.index("liveness-day-chart") :]
    assert re.search(r'<rect class="liveness-series-passed" x="\d+\.\d+" y="\d+\.\d+"', chart)
    assert "le 9 mars, avec 2." in text(re.search(r"<desc[^>]*>(.*?)</desc>", page, re.DOTALL).group(1))
