"""What the session page shows of the Face service's abuse monitoring (v1.3-preview.1): a banner
above a flagged session that links the other flagged sessions this app knows, and each attempt's
verdict."""

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import ngettext



def abuse_verdict(attempt):
    """One attempt's verdict, in words: "-" when the service gave none."""
    if attempt.abuse_detected is None:
        return "-"
    if not attempt.abuse_detected:
        return _("not flagged")
    count = len(attempt.other_flagged_sessions)
    return ngettext("flagged, with %(count)d other session", "flagged, with %(count)d other sessions", count) % {"count": count}


def abuse_banner(session):
    """The banner of a flagged session (None for any other): why it waits for a review, and links to the
    other flagged sessions (those this app knows; the others by the provider's id)."""
    if session is None or not session.abuse_detected:
        return None
    known = list(session.flagged_with.select_related("subject").order_by("created_at"))
    named = {
        other["session_id"]
        for other_list in session.attempts.values_list("other_flagged_sessions", flat=True)
        for other in other_list or []
    }
    unknown = sorted(named - {other.provider_session_id for other in known})
    links = format_html_join(
        ", ",
        '<a href="{}">{} · {}</a>',
        (
            (reverse("admin:django_liveness_livenesssession_change", args=[other.pk]), other.subject, str(other.pk)[:8])
            for other in known
        ),
    )
    parts = [_("The Face service's abuse monitoring flagged this session: it does not pass until a reviewer approves it.")]
    if known:
        parts.append(format_html("{} {}", _("Flagged with:"), links))
    if unknown:
        parts.append(_("Flagged with sessions this app does not know (provider ids): %(ids)s") % {"ids": ", ".join(unknown)})
    if not known and not unknown:
        parts.append(_("The service named no other session."))
    return format_html_join(" ", "{}", ((part,) for part in parts))


