"""The admin dashboard page: the figures of stats.py for a chosen period and kind, with SVG charts.

Mounted by LivenessSessionAdmin.get_urls() (``dashboard_urls``) at .../livenesssession/dashboard/,
for staff with the view permission on liveness sessions.
"""

from django import forms
from django.core.exceptions import PermissionDenied
from django.template.defaultfilters import floatformat
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, ngettext_lazy, pgettext

from ...common.client_platform import platform_label
from ...models import LivenessSession
from . import charts
from .stats import DAY_SERIES, DEFAULT_PERIOD, PERIODS, dashboard_stats

PERMISSION = "django_liveness.view_livenesssession"
NOTHING = "—"  # a rate without a denominator, a duration without a session


class DashboardFilters(forms.Form):
    days = forms.TypedChoiceField(
        label=gettext_lazy("Period"),
        choices=[
            (days, ngettext_lazy("last %(days)d day", "last %(days)d days", days) % {"days": days}) for days in PERIODS
        ],
        coerce=int,
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        choices=[("", gettext_lazy("all kinds")), *LivenessSession.Kind.choices],
        required=False,
    )

    @classmethod
    def chosen(cls, params):
        """The period and kind asked for in ``params``; a missing or invalid value is the default's."""
        form = cls(params)
        form.is_valid()
        return form.cleaned_data.get("days", DEFAULT_PERIOD), form.cleaned_data.get("kind", "")


def series_labels():
    return {
        "passed": _("passed"),
        "failed": _("failed"),
        "needs_review": _("needs review"),
        "ended": _("ended without a result"),
        "open": _("still open"),
    }


def percent(rate):
    if rate.value is None:
        return NOTHING
    return _("%(percent)s %%") % {"percent": floatformat(rate.value * 100, 1)}


def count_of(rate):
    return _("%(count)s of %(total)s") % {"count": rate.count, "total": rate.total}


def duration(value):
    """A duration, short: "40.0 s", "2 min 5 s", "1 h 20 min", "64 days 2 h"; "—" for none."""
    if value is None:
        return NOTHING
    seconds = value.total_seconds()
    if seconds < 60:
        return _("%(seconds)s s") % {"seconds": floatformat(seconds, 1)}
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return _("%(minutes)d min %(seconds)d s") % {"minutes": minutes, "seconds": seconds}
    days, hours = divmod(hours, 24)
    if not days:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    return ngettext("%(days)d day %(hours)d h", "%(days)d days %(hours)d h", days) % {"days": days, "hours": hours}


def labelled(label, value):
    return _("%(label)s: %(value)s") % {"label": label, "value": value}


def day_label(day):
    # Translators: a short date under a bar of the dashboard's chart (Django date format characters).
    return formats.date_format(day, pgettext("short date on the dashboard", "M j"))


def figures(stats):
    """The headline figures: [(label, value, detail)]."""
    totals = stats.totals
    rates = [
        (_("Pass rate"), totals.pass_rate),
        (_("Spoof rate"), totals.spoof_rate),
        (_("Uncertain rate"), totals.uncertain_rate),
        (_("Different-person rate (verify sessions)"), totals.different_person_rate),
        (_("Drop-off rate"), totals.drop_off_rate),
        (_("Provider error rate"), totals.provider_error_rate),
    ]
    return [
        (_("Sessions created"), totals.sessions, ""),
        *((label, percent(rate), count_of(rate)) for label, rate in rates),
        (_("Review backlog"), stats.backlog, ngettext("session waiting", "sessions waiting", stats.backlog)),
        (_("Oldest waiting"), duration(stats.oldest_waiting_age), ""),
        (_("Median time to result"), duration(stats.time_to_result["median"]), ""),
        (_("95th percentile time to result"), duration(stats.time_to_result["p95"]), ""),
    ]


def day_context(stats):
    labels = series_labels()
    chart = charts.day_chart([(day.day, day.counts.values) for day in stats.per_day], DAY_SERIES, day_label)
    totals = stats.totals
    summary = ngettext(
        "%(sessions)d session created from %(start)s to %(end)s",
        "%(sessions)d sessions created from %(start)s to %(end)s",
        totals.sessions,
    ) % {"sessions": totals.sessions, "start": day_label(stats.per_day[0].day), "end": day_label(stats.per_day[-1].day)}
    parts = ", ".join(labelled(labels[name], totals.values[name]) for name in DAY_SERIES)
    busiest = max(stats.per_day, key=lambda day: day.counts.sessions)
    description = f"{summary} ({parts})."
    if busiest.counts.sessions:
        description += " " + _("The busiest day was %(day)s, with %(sessions)d.") % {
            "day": day_label(busiest.day),
            "sessions": busiest.counts.sessions,
        }
    return {
        "chart": chart,
        "description": description,
        "series": [(name, labels[name]) for name in DAY_SERIES],
        "rows": [
            (day_label(day.day), [day.counts.values[name] for name in DAY_SERIES], day.counts.sessions)
            for day in reversed(stats.per_day)  # newest first, as the session list
        ],
    }


def platform_context(stats):
    rows = []
    for platform in stats.platforms:
        counts = platform.counts
        rates = [
            counts.pass_rate,
            counts.spoof_rate,
            counts.uncertain_rate,
            counts.different_person_rate,
            counts.drop_off_rate,
        ]
        rows.append(
            {
                "label": platform_label(platform.browser, platform.os),
                "sessions": counts.sessions,
                "rates": [(percent(rate), count_of(rate)) for rate in rates],
                "pass_rate": counts.pass_rate,
            }
        )
    chart = charts.rate_chart([(row["label"], percent(row["pass_rate"]), row["pass_rate"].value) for row in rows])
    described = "; ".join(labelled(row["label"], percent(row["pass_rate"])) for row in rows)
    return {
        "chart": chart,
        "description": _("Pass rate by client platform: %(rates)s.") % {"rates": described} if rows else "",
        "rows": rows,
    }


def dashboard_view(request, *, model_admin):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    days, kind = DashboardFilters.chosen(request.GET)
    stats = dashboard_stats(days=days, kind=kind)
    opts = model_admin.model._meta
    return TemplateResponse(
        request,
        "admin/django_liveness/dashboard.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": _("Liveness dashboard"),
            "opts": opts,
            "form": DashboardFilters(initial={"days": days, "kind": kind}),
            "stats": stats,
            "figures": figures(stats),
            "per_day": day_context(stats),
            "platforms": platform_context(stats),
        },
    )


def dashboard_urls(model_admin):
    """The dashboard's URL, for ``model_admin.get_urls()`` (before the admin's catch-all object URL)."""

    def view(request):
        return dashboard_view(request, model_admin=model_admin)

    name = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}_dashboard"
    return [path("dashboard/", model_admin.admin_site.admin_view(view), name=name)]
