"""Admin screens where staff see, judge and act on liveness decisions.

Everything the provider produced is read-only, sessions are never added by hand, the auth token
is never shown, and reference and session images are served only by permission-checked views
that record who looked. Actions and reviews go through ``django_liveness.services``.
"""

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from . import privacy, services
from .dashboard.views import dashboard_urls, platform_label
from .exceptions import BackendError, InvalidSessionState, LivenessError
from .images import FORMATS
from .models import Consent, LivenessEvent, LivenessSession, ReferenceImage, Subject

Review = LivenessSession.ReviewStatus


class AtLeast(int):
    """A row count that stopped counting early: the admin shows it as "10000+"."""

    def __str__(self):
        # With USE_THOUSAND_SEPARATOR, templates regroup the characters of str(): a "+" would be mangled.
        return str(int(self)) if settings.USE_THOUSAND_SEPARATOR else f"{int(self)}+"


class CappedCountPaginator(Paginator):
    """Counts at most ``CAP`` rows, so a huge table pages without a full COUNT(*).

    The count stops at ``CAP`` or at the end of the page after ``page_number``, whichever is
    further, so the next page is always reachable while rows exist: one COUNT a page, bounded by
    the page asked for, not by the table.
    """

    CAP = 10_000
    page_number = 1  # set from ``?p=`` by CappedCountMixin

    @cached_property
    def count(self):
        limit = max(self.CAP, (self.page_number + 1) * self.per_page)
        counted = self.object_list.order_by()[:limit].count()
        return AtLeast(counted) if counted == limit else counted


class CappedCountMixin:
    paginator = CappedCountPaginator
    show_full_result_count = False  # no COUNT(*) of the whole table either

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        paginator = super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page)
        try:
            paginator.page_number = int(request.GET.get(PAGE_VAR, 1))
        except ValueError:
            pass  # the change list falls back to page 1 too
        return paginator


def _image_url(image):
    return reverse("admin:django_liveness_referenceimage_file", args=[image.pk])


def _session_image_url(session):
    return reverse("admin:django_liveness_livenesssession_session_image", args=[session.pk])


def may_see_images(user):
    """Who may see a reference image may see the capture it was compared with, and nobody else."""
    return user.has_perms(["django_liveness.view_referenceimage", "django_liveness.view_livenesssession"])


def image_with_face(image, face_rectangle, width=320):
    """A reference image's ``revealed_image``."""
    return revealed_image(_image_url(image), (image.width, image.height), face_rectangle, _("reference image"), width)


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


def _stored_size(file):
    """(width, height) of a stored image, read from its header (no pixels), or None if unreadable."""
    try:
        with file.open("rb") as stored, Image.open(stored) as image:
            return image.size
    except (OSError, ValueError, UnidentifiedImageError):
        return None


class LivenessMedia:
    """The package's admin styles, and the script that shows a reference image when staff ask for it."""

    class Media:
        css = {"all": ["admin/django_liveness/liveness.css"]}
        js = ["admin/django_liveness/reveal_image.js"]


class ConfirmActionMixin:
    """Admin actions that ask "are you sure?" on a page of their own before they act."""

    def confirmation(self, request, queryset, *, action, title, question, objects):
        """The confirmation page, or None once the user confirmed (then act)."""
        if request.POST.get("confirmed") == "yes":
            return None
        return TemplateResponse(
            request,
            "admin/django_liveness/confirm_action.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "question": question,
                "objects": objects,
                "queryset": queryset,
                "action": action,
                "opts": self.model._meta,
            },
        )


class OutcomeFilter(admin.SimpleListFilter):
    """The outcome that counts: a reviewer's approval or rejection over the provider's decision."""

    title = _("outcome")
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return LivenessSession.Outcome.choices

    def queryset(self, request, queryset):
        if self.value() in LivenessSession.Outcome.values:
            return queryset.filter(services.effective_outcome_filter(self.value()))
        return queryset


class ReviewQueueFilter(admin.SimpleListFilter):
    title = _("review queue")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("yes", _("Waiting for review (oldest first)"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(review_status=Review.PENDING)
        return queryset


class DuplicatePhotoFilter(admin.SimpleListFilter):
    """Reference images whose photo (SHA-256) is also another subject's: one face enrolled as many people?"""

    title = _("same photo on another subject")
    parameter_name = "duplicate"

    def lookups(self, request, model_admin):
        return [("yes", _("Same photo on another subject"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return services.with_duplicate_flags(queryset).filter(is_duplicate=True)
        return queryset


class SubjectFilter(admin.SimpleListFilter):
    """``?subject=<uuid>`` from a subject's page; not a list of every subject."""

    title = _("subject")
    parameter_name = "subject"

    def lookups(self, request, model_admin):
        value = self.value()
        subject = Subject.objects.filter(pk=value).first() if value and _is_uuid(value) else None
        return [(value, str(subject))] if subject else []

    def queryset(self, request, queryset):
        if self.value() and _is_uuid(self.value()):
            return queryset.filter(subject_id=self.value())
        return queryset


class LockedFilter(admin.SimpleListFilter):
    """Subjects locked out of new sessions now (LIVENESS['LOCKOUT'])."""

    title = _("lock")
    parameter_name = "locked"

    def lookups(self, request, model_admin):
        return [("yes", _("Locked"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(locked_until__gt=timezone.now())
        return queryset


def _is_uuid(value):
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


class ReviewForm(forms.Form):
    # The fields sit amid the change form's fieldsets, after the evidence, and belong to a <form> of
    # this id outside it (change_form.html): a browser ignores a form nested in another.
    form_id = "liveness-review"
    required_css_class = "required"  # the admin's bold label
    # No choice made in advance: the reviewer must pick one (a preselected "Approve" was saved unread).
    decision = forms.ChoiceField(
        choices=[("", _("Choose a decision")), (Review.APPROVED, _("Approve")), (Review.REJECTED, _("Reject"))],
        widget=forms.Select(attrs={"form": form_id}),
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "form": form_id}), help_text=_("Required: why.")
    )


def _event_title(event):
    """What happened, readably: a review says its decision, the frontend what its browser reported."""
    if event.kind == LivenessEvent.Kind.REVIEWED and event.data.get("decision") in Review.values:
        return _("Reviewed: %(decision)s") % {"decision": Review(event.data["decision"]).label}
    if event.kind == LivenessEvent.Kind.CLIENT_EVENT:
        code, message = event.data.get("code", ""), event.data.get("message", "")
        if message:
            return _("Frontend reported %(code)s: %(message)s") % {"code": code, "message": message}
        return _("Frontend reported %(code)s") % {"code": code}
    return capfirst(event.get_kind_display())


def _status_label(status):
    """A session status as staff read it ("completed"), translated; an unknown value as stored."""
    return LivenessSession.Status(status).label if status in LivenessSession.Status.values else status


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
    outcome = services.effective_outcome(session)
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
    return _("provider: %(decision)s, %(verification)s") % {"decision": decision, "verification": _verification_text(session)}


def _when_and_who(when, who):
    """"30 Nov 2026, 18:23 by alice" for a timestamp and the user behind it; "-" when it never happened."""
    if when is None:
        return "-"
    when = formats.date_format(timezone.localtime(when), "SHORT_DATETIME_FORMAT")
    return _("%(when)s by %(who)s") % {"when": when, "who": who} if who else when


def _verification_text(row):
    """"same person (0.92)" for a session or an attempt with a verification result, else "-"."""
    if row.is_identical is None:
        return "-"
    same = _("same person") if row.is_identical else _("different person")
    if row.match_confidence is None:
        return same
    return f"{same} ({row.match_confidence:.2f})"


@admin.register(LivenessSession)
class LivenessSessionAdmin(LivenessMedia, ConfirmActionMixin, CappedCountMixin, admin.ModelAdmin):
    # Few, narrow columns: the list fits beside the admin's sidebars at 1280 px, and on a phone
    # (liveness.css hides the review column there) subject, outcome and date need no sideways scroll.
    list_display = ["subject_summary", "outcome_summary", "review_summary", "created_at"]
    list_display_links = ["subject_summary"]
    list_filter = [
        ReviewQueueFilter,
        "status",
        "liveness_decision",
        OutcomeFilter,
        "kind",
        "review_status",
        "created_at",
        SubjectFilter,
    ]
    search_fields = ["subject__external_id", "subject__display_name", "=provider_session_id"]
    list_select_related = ["subject", "reviewed_by"]
    ordering = ["-created_at"]
    list_per_page = 50
    actions = ["refresh_results", "cancel_sessions", "flag_for_review"]
    # What a reviewer judges comes first (who, the result, the evidence; the review form follows it,
    # change_form.html), the session's technical facts and the long tables after: on a phone the
    # form is on the first screens, not under the timeline.
    fieldsets = [
        (
            _("Result"),
            {
                "fields": [
                    "subject_link",
                    "outcome_summary",
                    "liveness_decision",
                    "verify_result",
                    "face_box",
                    "error_code",
                    "error_message",
                ]
            },
        ),
        (
            _("Evidence: the capture and the reference image"),
            {"fields": ["session_image_preview", "reference_image_preview"], "classes": ["liveness-evidence"]},
        ),
        (_("Review"), {"fields": ["review_status", "reviewed_by", "reviewed_at", "review_note"]}),
        (
            _("Session"),
            {
                "fields": [
                    "id",
                    "kind",
                    "status",
                    "operation_mode",
                    "device_correlation_id",
                    "client_platform",
                    "provider_session_id",
                    "started_by",
                    "auth_token_expires_at",
                    "model_version",
                    "result_digest",
                    "timings",
                ]
            },
        ),
        (_("Timeline"), {"fields": ["attempts_table", "timeline"]}),
        (_("Provider payload"), {"fields": ["raw_payload"], "classes": ["collapse"]}),
    ]
    readonly_fields = [field for _name, options in fieldsets for field in options["fields"]]

    def get_fieldsets(self, request, obj=None):
        # A session without an error shows no empty error rows: on a phone each row is a screen's tenth.
        if obj is None or obj.error_code or obj.error_message:
            return self.fieldsets
        without_error = [field for field in self.fieldsets[0][1]["fields"] if field not in ("error_code", "error_message")]
        return [(self.fieldsets[0][0], {**self.fieldsets[0][1], "fields": without_error}), *self.fieldsets[1:]]

    def has_add_permission(self, request):
        return False  # sessions come only from the flow

    def has_delete_permission(self, request, obj=None):
        return False  # cancel through the action; rows are the audit trail

    def has_review_permission(self, request):
        return request.user.has_perm("django_liveness.review_livenesssession")

    def get_ordering(self, request):
        # The list ordering would win over the filter's: the queue is worked oldest first.
        if request.GET.get(ReviewQueueFilter.parameter_name) == "yes" and ORDER_VAR not in request.GET:
            return ["created_at"]
        return super().get_ordering(request)

    def get_search_results(self, request, queryset, search_term):
        filtered = queryset  # already narrowed by the active filters
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if _is_uuid(term):
            queryset |= filtered.filter(Q(pk=term) | Q(subject_id=term))
        return queryset, may_have_duplicates

    # --- columns and fields ------------------------------------------------------------

    @admin.display(description=_("subject"))
    def subject_summary(self, session):
        """The subject, and under it the kind and short id that tell their sessions apart."""
        return format_html(
            '{}<span class="liveness-quiet liveness-block">{} · {}</span>',
            session.subject,
            session.get_kind_display(),
            str(session.pk)[:8],
        )

    @admin.display(description=_("outcome"))
    def outcome_summary(self, session):
        return outcome_summary(session)

    @admin.display(description=_("review"), ordering="review_status")
    def review_summary(self, session):
        if session.review_status in (Review.APPROVED, Review.REJECTED) and session.reviewed_by:
            return _("%(decision)s by %(reviewer)s") % {"decision": session.get_review_status_display(), "reviewer": session.reviewed_by}
        return session.get_review_status_display()

    @admin.display(description=_("verify result"))
    def verify_result(self, session):
        return _verification_text(session)

    @admin.display(description=_("face rectangle"))
    def face_box(self, session):
        return face_box_text(session.face_rectangle)

    @admin.display(description=_("client platform"))
    def client_platform(self, session):
        return platform_label(session.client_browser, session.client_os)

    @admin.display(description=_("subject"))
    def subject_link(self, session):
        url = reverse("admin:django_liveness_subject_change", args=[session.subject_id])
        return format_html('<a href="{}">{}</a>', url, session.subject)

    @admin.display(description=_("timings"))
    def timings(self, session):
        parts = []
        if session.started_at:
            seconds = (session.started_at - session.created_at).total_seconds()
            parts.append(_("started %(seconds).1f s after creation") % {"seconds": seconds})
        if session.completed_at:
            seconds = (session.completed_at - session.created_at).total_seconds()
            parts.append(_("result stored %(seconds).1f s after creation") % {"seconds": seconds})
        if session.provider_latency_ms is not None:
            parts.append(_("provider latency %(ms)d ms") % {"ms": session.provider_latency_ms})
        return "; ".join(str(part) for part in parts) or "-"

    @admin.display(description=_("attempts"))
    def attempts_table(self, session):
        """Every frontend call the provider reported: what each decided or why it failed."""
        attempts = session.attempts.all()
        if not attempts:
            return "-"
        return html_table(
            ["#", _("status"), _("decision"), _("verification"), _("error")],
            (
                (
                    attempt.attempt_id,
                    attempt.get_status_display(),
                    attempt.get_liveness_decision_display() or "-",
                    _verification_text(attempt),
                    f"{attempt.error_code}: {attempt.error_message}" if attempt.error_code else "",
                )
                for attempt in attempts
            ),
            free_text={4},
        )

    @admin.display(description=_("capture"))
    def session_image_preview(self, session):
        if not session.session_image:
            return _("(pending: the sync fetches it)") if session.session_image_id else "-"
        size = _stored_size(session.session_image)
        if size is None:
            return _("(the stored file cannot be read)")
        return revealed_image(_session_image_url(session), size, session.face_rectangle, _("capture"))

    @admin.display(description=_("capture"))
    def capture_thumbnail(self, session):
        # Loaded with the page, through the logged view: a thumbnail is a view of biometric data too.
        if not session.session_image:
            return "-"
        return format_html(
            '<img class="liveness-thumbnail" src="{}" width="48" alt="{}" loading="lazy" referrerpolicy="no-referrer">',
            _session_image_url(session),
            _("capture"),
        )

    def get_list_display(self, request):
        # The review queue shows who stood in front of the camera; other lists stay narrow.
        if request.GET.get(ReviewQueueFilter.parameter_name) == "yes" and may_see_images(request.user):
            return ["capture_thumbnail", *self.list_display]
        return self.list_display

    @admin.display(description=_("reference image"))
    def reference_image_preview(self, session):
        image = session.reference_image
        if image is None:
            return "-"
        return image_with_face(image, image.face_rectangle)

    @admin.display(description=_("events"))
    def timeline(self, session):
        events = session.events.select_related("actor").order_by("created_at", "id")
        return html_table(
            [_("when"), _("what"), _("status"), _("who"), _("note")],
            (
                (
                    f"{event.created_at:%Y-%m-%d %H:%M:%S}",
                    _event_title(event),
                    f"{_status_label(event.from_status)} → {_status_label(event.to_status)}" if event.to_status else "",
                    event.actor or "",
                    "" if event.kind == LivenessEvent.Kind.CLIENT_EVENT else event.message,  # in the title already
                )
                for event in events
            ),
            free_text={1, 4},
        )

    @admin.display(description=_("raw payload"))
    def raw_payload(self, session):
        if not session.result_payload:
            return _("(none, or redacted)")
        return format_html('<pre class="liveness-payload">{}</pre>', json.dumps(session.result_payload, indent=2))

    # --- review ------------------------------------------------------------------------

    def get_urls(self):
        review = self.admin_site.admin_view(self.review_view)
        image = self.admin_site.admin_view(self.session_image_view)
        return [
            *dashboard_urls(self),
            path("<path:object_id>/review/", review, name="django_liveness_livenesssession_review"),
            path("<path:object_id>/session-image/", image, name="django_liveness_livenesssession_session_image"),
            *super().get_urls(),
        ]

    def session_image_view(self, request, object_id):
        """Stream the session image from storage to staff allowed to see it, and log that they did."""
        if not may_see_images(request.user):
            raise PermissionDenied
        session = LivenessSession.objects.select_related("subject").filter(pk=object_id).first() if _is_uuid(object_id) else None
        return stream_image(
            session.session_image if session else None,
            content_type=_content_type(session.session_image.name) if session else "",
            name=object_id,
            record=lambda: services.record_session_image_view(session, actor=request.user),
        )

    def changelist_view(self, request, extra_context=None):
        # Staff review or look here; Django's "Select ... to change" promises edits nobody can make.
        verb = _("Select %s to review") if self.has_review_permission(request) else _("Select %s to view")
        return super().changelist_view(request, {"title": verb % self.opts.verbose_name, **(extra_context or {})})

    def may_review(self, request, session):
        return session is not None and session.status == LivenessSession.Status.COMPLETED and self.has_review_permission(request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            # Saving would write back the whole row as loaded, over a result or review stored since;
            # nothing here is editable anyway, and reviews post to review_view.
            return HttpResponseRedirect(request.path)
        may_review = self.may_review(request, self.get_object(request, unquote(object_id)))
        extra_context = {
            **(extra_context or {}),
            # Nothing on this page can be changed, whatever Django's "Change ..." says.
            "title": (_("Review %s") if may_review else _("View %s")) % self.opts.verbose_name,
            "review_form": ReviewForm() if may_review else None,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def review_view(self, request, object_id):
        if request.method != "POST" or not self.has_review_permission(request):
            raise PermissionDenied
        session = self.get_object(request, unquote(object_id))
        if session is None:
            raise Http404
        # The review form carries the list's filters (?_changelist_filters=): back to the same queue.
        filters = {"preserved_filters": self.get_preserved_filters(request), "opts": self.opts}
        detail = add_preserved_filters(filters, reverse("admin:django_liveness_livenesssession_change", args=[session.pk]))
        form = ReviewForm(request.POST)
        if not form.is_valid():
            self.message_user(request, _("A review needs a decision and a note."), messages.ERROR)
            return HttpResponseRedirect(detail)
        try:
            services.review_session(session, reviewer=request.user, **form.cleaned_data)
        except LivenessError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(detail)
        done = gettext("Liveness session {session} of {subject} approved.")
        if form.cleaned_data["decision"] == Review.REJECTED:
            done = gettext("Liveness session {session} of {subject} rejected.")
        link = format_html('<a href="{}">{}</a>', detail, str(session.pk)[:8])
        self.message_user(request, format_html(done, session=link, subject=session.subject), messages.SUCCESS)
        return HttpResponseRedirect(add_preserved_filters(filters, reverse("admin:django_liveness_livenesssession_changelist")))

    # --- actions -----------------------------------------------------------------------

    @admin.action(description=_("Refresh the result from the provider"), permissions=["change"])
    def refresh_results(self, request, queryset):
        changed = errors = 0
        for session in queryset.select_related("subject"):
            before = session.status
            try:
                changed += services.refresh_session(session, actor=request.user).status != before
            except BackendError:
                errors += 1
        self.message_user(request, ngettext("%(count)d session changed.", "%(count)d sessions changed.", changed) % {"count": changed})
        if errors:
            message = ngettext("%(count)d session not refreshed: provider error.", "%(count)d sessions not refreshed: provider errors.", errors)
            self.message_user(request, message % {"count": errors}, messages.WARNING)

    @admin.action(description=_("Cancel and delete at the provider"), permissions=["change"])
    def cancel_sessions(self, request, queryset):
        open_sessions = queryset.filter(status__in=LivenessSession.OPEN_STATUSES)
        page = self.confirmation(
            request,
            queryset,
            action="cancel_sessions",
            title=_("Cancel liveness sessions?"),
            question=_("These open sessions will be canceled and deleted at the provider. This cannot be undone."),
            objects=open_sessions.select_related("subject"),
        )
        if page is not None:
            return page
        # A session that ended since the page was shown is left as it is.
        canceled = services.cancel_open_sessions(open_sessions, actor=request.user)
        self.message_user(request, ngettext("%(count)d session canceled.", "%(count)d sessions canceled.", canceled) % {"count": canceled}, messages.SUCCESS)
        return None

    @admin.action(description=_("Mark for review"), permissions=["review"])
    def flag_for_review(self, request, queryset):
        flagged = 0
        for session in queryset:
            try:
                services.flag_for_review(session, actor=request.user, note=_("Marked for review in the admin."))
            except InvalidSessionState as error:  # only completed sessions can be reviewed
                self.message_user(request, _("%(session)s: %(error)s") % {"session": str(session.pk)[:8], "error": error.message}, messages.WARNING)
            else:
                flagged += 1
        queued = ngettext("%(count)d session in the review queue.", "%(count)d sessions in the review queue.", flagged)
        self.message_user(request, queued % {"count": flagged}, messages.SUCCESS)


class ReferenceImageInline(admin.StackedInline):
    model = ReferenceImage
    # Stacked, the file's facts in one field: a table of eight columns overflowed a phone.
    fields = ["thumbnail", "file_facts", "is_active", "quality_for_recognition", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # read-only here: the inline says "View", not "Change"

    @admin.display(description=_("image"))
    def thumbnail(self, image):
        return image_with_face(image, image.face_rectangle, width=96)

    @admin.display(description=_("file"))
    def file_facts(self, image):
        """"480 × 640 px, image/jpeg, 23.4 KB"."""
        return _("%(width)d × %(height)d px, %(type)s, %(size)s") % {
            "width": image.width,
            "height": image.height,
            "type": image.content_type,
            "size": filesizeformat(image.size),
        }


class ConsentInline(admin.StackedInline):
    model = Consent
    # Stacked, when and by whom in one field each, the digest allowed to wrap (liveness.css): a table
    # of them overflowed the page, and still would on a phone.
    fields = ["policy_version", "purpose", "granted", "withdrawn", "text_sha256"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # read-only here: the inline says "View", not "Change"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("granted_by", "withdrawn_by")

    @admin.display(description=_("granted"))
    def granted(self, consent):
        return _when_and_who(consent.granted_at, consent.granted_by)

    @admin.display(description=_("withdrawn"))
    def withdrawn(self, consent):
        return _when_and_who(consent.withdrawn_at, consent.withdrawn_by)


@admin.register(Subject)
class SubjectAdmin(LivenessMedia, ConfirmActionMixin, admin.ModelAdmin):
    list_display = ["external_id", "display_name", "user", "verified_at", "erased_at", "created_at"]
    list_filter = [LockedFilter, "verified_at", "erased_at", "created_at"]
    search_fields = ["external_id", "display_name", "user__username", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    readonly_fields = [
        "id", "verified_at", "erased_at", "not_erased", "lock", "device_correlation_id", "created_at", "updated_at", "recent_sessions"
    ]
    fields = [
        "id", "external_id", "display_name", "user", "verified_at", "erased_at", "lock", "device_correlation_id", "created_at",
        "updated_at", "recent_sessions",
    ]
    inlines = [ReferenceImageInline, ConsentInline]
    actions = ["erase_biometric_data", "lift_lock", "reset_device_correlation_id"]
    RECENT = 20

    def get_fields(self, request, obj=None):
        # erased_at's help text says no new sessions are allowed: shown only for a subject it is true of.
        erased = obj is not None and obj.erased_at is not None
        return [name if erased or name != "erased_at" else "not_erased" for name in self.fields]

    @admin.display(description=_("erased at"))
    def not_erased(self, subject):
        return _("Not erased")

    @admin.display(description=_("lock"))
    def lock(self, subject):
        if services.is_locked(subject):
            return gettext("Locked until %(locked_until)s: too many failed checks.") % {
                "locked_until": formats.localize(timezone.localtime(subject.locked_until))
            }
        return gettext("Not locked")

    @admin.display(description=_("sessions"))
    def recent_sessions(self, subject):
        if subject.pk is None:
            return "-"
        sessions = subject.sessions.order_by("-created_at")[: self.RECENT]
        items = format_html_join(
            "",
            '<li><a href="{}">{}</a> {} · {} · {}</li>',
            (
                (
                    reverse("admin:django_liveness_livenesssession_change", args=[s.pk]),
                    str(s.pk)[:8],
                    s.get_kind_display(),
                    s.get_status_display(),
                    outcome_summary(s),
                )
                for s in sessions
            ),
        )
        all_url = reverse("admin:django_liveness_livenesssession_changelist") + f"?subject={subject.pk}"
        return format_html('<ul class="liveness-links">{}</ul><a href="{}">{}</a>', items, all_url, _("All sessions of this subject"))

    def save_model(self, request, subject, form, change):
        # Through the service layer: the change is an event, and a new person loses the old one's
        # verification. Only what staff edited is written: the rest may have changed since.
        fields = {name: form.cleaned_data[name] for name in ("external_id", "display_name", "user")}
        if change:
            edited = {name: value for name, value in fields.items() if name in form.changed_data}
            services.update_subject(subject, actor=request.user, **edited)
        else:  # the form checked that external_id and user are free: this creates the row the admin shows next
            services.find_or_create_subject(id=subject.pk, **fields)

    # Deleting goes through the service layer: an event, and the photos' files removed from storage.
    # Sessions are the audit trail and cannot be deleted here, so neither can a subject that has
    # some: erase it instead.
    def delete_model(self, request, subject):
        services.delete_subject(subject, actor=request.user)

    def delete_queryset(self, request, queryset):
        for subject in queryset:
            self.delete_model(request, subject)

    @admin.action(description=_("Erase biometric data"), permissions=["delete"])
    def erase_biometric_data(self, request, queryset):
        page = self.confirmation(
            request,
            queryset,
            action="erase_biometric_data",
            title=_("Erase biometric data?"),
            question=_(
                "Reference images will be deleted, face data removed from session results, provider sessions "
                "deleted, and no new sessions allowed. Outcomes and timestamps stay. This cannot be undone."
            ),
            objects=queryset,
        )
        if page is not None:
            return page
        for subject in queryset:
            privacy.erase_subject(subject, actor=request.user)
        erased = queryset.count()
        self.message_user(request, ngettext("%(count)d subject erased.", "%(count)d subjects erased.", erased) % {"count": erased}, messages.SUCCESS)
        return None


    @admin.action(description=_("Lift the lock after failed checks"), permissions=["change"])
    def lift_lock(self, request, queryset):
        page = self.confirmation(
            request,
            queryset,
            action="lift_lock",
            title=_("Lift the lock?"),
            question=_(
                "These subjects may start sessions again at once. The failed checks before now no longer count "
                "towards a new lock."
            ),
            objects=queryset,
        )
        if page is not None:
            return page
        lifted = sum(services.lift_lock(subject, actor=request.user) for subject in queryset)
        self.message_user(
            request,
            ngettext("%(count)d lock lifted.", "%(count)d locks lifted.", lifted) % {"count": lifted},
            messages.SUCCESS,
        )
        return None

    @admin.action(description=_("Reset the device correlation id"), permissions=["change"])
    def reset_device_correlation_id(self, request, queryset):
        page = self.confirmation(
            request,
            queryset,
            action="reset_device_correlation_id",
            title=_("Reset the device correlation id?"),
            question=_(
                "The next session of these subjects sends the Face service a new device id: the attempts counted "
                "against the old one (its abuse detection works per device) no longer apply. Do it when the person "
                "changed devices."
            ),
            objects=queryset,
        )
        if page is not None:
            return page
        for subject in queryset:
            services.reset_device_correlation_id(subject, actor=request.user)
        reset = queryset.count()
        self.message_user(
            request,
            ngettext("%(count)d device id reset.", "%(count)d device ids reset.", reset) % {"count": reset},
            messages.SUCCESS,
        )
        return None


@admin.register(ReferenceImage)
class ReferenceImageAdmin(LivenessMedia, admin.ModelAdmin):
    list_display = ["id", "subject", "content_type", "width", "height", "is_active", "quality_for_recognition", "created_at"]
    list_filter = ["is_active", "content_type", "quality_for_recognition", DuplicatePhotoFilter]
    list_select_related = ["subject"]
    search_fields = ["subject__external_id", "sha256"]
    fields = ["preview", "subject", "content_type", "size", "width", "height", "sha256", "is_active", "face_box", "quality_for_recognition", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # nothing here is editable: a save would only write back a stale copy

    def delete_model(self, request, image):
        services.delete_reference_image(image, actor=request.user)  # an event, and the file gone from storage

    def delete_queryset(self, request, queryset):
        for image in queryset.select_related("subject"):
            self.delete_model(request, image)

    @admin.display(description=_("image"))
    def preview(self, image):
        return image_with_face(image, image.face_rectangle)

    @admin.display(description=_("face rectangle"))
    def face_box(self, image):
        return face_box_text(image.face_rectangle)

    def get_urls(self):
        view = self.admin_site.admin_view(self.file_view)
        return [path("<uuid:pk>/file/", view, name="django_liveness_referenceimage_file"), *super().get_urls()]

    def file_view(self, request, pk):
        """Stream the image from storage to staff allowed to see it, and log that they did."""
        if not request.user.has_perm("django_liveness.view_referenceimage"):
            raise PermissionDenied
        image = ReferenceImage.objects.select_related("subject").filter(pk=pk).first()
        return stream_image(
            image.file if image else None,
            content_type=image.content_type if image else "",
            name=pk,
            record=lambda: services.record_image_view(image, actor=request.user),
        )


def _content_type(name):
    return next((content_type for content_type, extension in FORMATS.values() if name.endswith(extension)), "")


def stream_image(file, *, content_type, name, record):
    """A private, uncached response streaming ``file`` (a FieldFile, or None: 404); ``record()`` logs the view."""
    # Object storages open lazily and would fail mid-stream: ask first whether the file is there.
    if not file or not file.storage.exists(file.name):
        raise Http404
    try:
        opened = file.open("rb")
    except FileNotFoundError:  # deleted since
        raise Http404 from None
    record()
    response = FileResponse(opened, content_type=content_type or "application/octet-stream")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


@admin.register(LivenessEvent)
class LivenessEventAdmin(CappedCountMixin, admin.ModelAdmin):
    list_display = ["created_at", "kind", "session", "subject", "actor", "from_status", "to_status", "message"]
    list_filter = ["kind", "created_at"]
    list_select_related = ["session", "subject", "actor"]
    search_fields = ["=session__id", "subject__external_id", "message"]
    fields = ["created_at", "kind", "session", "subject", "actor", "from_status", "to_status", "message", "data"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# The webhook screens live with the webhooks; importing them registers them.
from .webhooks import admin as webhooks_admin  # noqa: E402, F401
