"""HTML the admin pages show: tables, outcome badges, face rectangles, and images revealed on demand.

Every value is escaped (``format_html``); an image is linked through its logged view, never loaded
by the page itself.
"""

import json

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from ..models import LivenessSession


def image_url(image):
    return reverse("admin:django_liveness_referenceimage_file", args=[image.pk])


def session_image_url(session):
    return reverse("admin:django_liveness_livenesssession_session_image", args=[session.pk])


def image_with_face(image, face_rectangle, width=320):
    """A reference image's ``revealed_image``."""
    return revealed_image(image_url(image), (image.width, image.height), face_rectangle, _("reference image"), width)


def revealed_image(url, size, face_rectangle, alt, width=320):
    """A link that shows the image at ``url`` (``size`` is its (width, height) in pixels, with its
    face rectangle drawn over it) only when staff click it.

    Every fetch of the file is a logged view of biometric data, so a page never loads it by
    itself: the image waits in a <template> until ``reveal_image.js`` shows it. Without
    JavaScript the link opens the file itself, which is logged the same way.
    """
    image_width, image_height = size
    overlay = ""
    if face_rectangle:
        overlay = format_html(
            '<svg viewBox="0 0 {} {}" aria-hidden="true">'
            '<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#e5534b" stroke-width="{}"/></svg>',
            image_width,
            image_height,
            face_rectangle["left"],
            face_rectangle["top"],
            face_rectangle["width"],
            face_rectangle["height"],
            max(2, image_width // 150),
        )
    return format_html(
        '<span class="liveness-image">'
        '<a class="button liveness-image-reveal" href="{}" target="_blank" rel="noopener noreferrer">{}</a>'
        '<template><img src="{}" width="{}" height="{}" alt="{}" referrerpolicy="no-referrer">{}</template>'
        "</span>",
        url,
        _("Show image (logged)"),
        url,
        width,
        round(image_height * width / image_width),
        alt,
        overlay,
    )


def face_box_text(face_rectangle):
    """"Face at 120, 200 px (left, top), 240 × 240 px": a face rectangle in words; "-" without one."""
    if not face_rectangle:
        return "-"
    try:
        box = {key: int(face_rectangle[key]) for key in ("left", "top", "width", "height")}
    except (KeyError, TypeError, ValueError):  # not the shape the backends store: show it as it is
        return json.dumps(face_rectangle)
    return _("Face at %(left)d, %(top)d px (left, top), %(width)d × %(height)d px") % box


def html_table(headers, rows, free_text=()):
    """A plain table for a read-only admin field; every cell is escaped. Each cell carries its
    column's header, which a phone shows beside it (liveness.css stacks the rows there). The
    columns at the ``free_text`` indexes hold text from outside (messages, notes): a long token
    there breaks anywhere rather than widen the table; the other columns' words never break."""
    head = format_html_join("", "<th>{}</th>", ((header,) for header in headers))

    def cell(index, value):
        if index in free_text:
            return format_html('<td data-label="{}" class="liveness-free-text">{}</td>', headers[index], value)
        return format_html('<td data-label="{}">{}</td>', headers[index], value)

    cells = (format_html_join("", "{}", ((cell(index, value),) for index, value in enumerate(row))) for row in rows)
    body = format_html_join("", "<tr>{}</tr>", ((row_cells,) for row_cells in cells))
    return format_html('<table class="liveness-table"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body)


def outcome_summary(session):
    """The outcome that counts as a badge, with the provider's decision beside it; the status while there is no outcome."""
    outcome = session.effective_outcome
    if not outcome:
        return format_html('<span class="liveness-quiet">{}</span>', session.get_status_display())
    return format_html(
        '<span class="liveness-outcome liveness-outcome-{}">{}</span> <span class="liveness-provider">{}</span>',
        outcome,
        LivenessSession.Outcome(outcome).label,
        _provider_decision(session),
    )


def _provider_decision(session):
    """"provider: real face, same person (0.92)": what the provider decided, whatever a reviewer said since."""
    decision = session.get_liveness_decision_display() or session.get_outcome_display()
    if session.is_identical is None:
        return _("provider: %(decision)s") % {"decision": decision}
    return _("provider: %(decision)s, %(verification)s") % {"decision": decision, "verification": verification_text(session)}


def verification_text(row):
    """"same person (0.92)" for a session or an attempt with a verification result, else "-"."""
    if row.is_identical is None:
        return "-"
    same = _("same person") if row.is_identical else _("different person")
    if row.match_confidence is None:
        return same
    return f"{same} ({row.match_confidence:.2f})"
