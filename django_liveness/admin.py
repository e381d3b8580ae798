"""Admin screens where staff see, judge and act on liveness decisions.

Everything the provider produced is read-only, sessions are never added by hand, the auth token
is never shown, and reference images are served only by a permission-checked view that records
who looked. Actions and reviews go through ``django_liveness.services``.
"""

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from . import privacy, services
from .exceptions import BackendError, InvalidSessionState, LivenessError
from .models import Consent, LivenessEvent, LivenessSession, ReferenceImage, Subject

Review = LivenessSession.ReviewStatus
OUTCOME_COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "needs_review": "#9a6700"}


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


def image_with_face(image, face_rectangle, width=320):
    """The image (through the permission-checked view) with its face rectangle drawn over it."""
    height = round(image.height * width / image.width)
    overlay = ""
    if face_rectangle:
        overlay = format_html(
            '<svg viewBox="0 0 {} {}" style="position:absolute;left:0;top:0;width:100%;height:100%">'
            '<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#e5534b" stroke-width="{}"/></svg>',
            image.width,
            image.height,
            face_rectangle["left"],
            face_rectangle["top"],
            face_rectangle["width"],
            face_rectangle["height"],
            max(2, image.width // 150),
        )
    return format_html(
        '<div style="position:relative;display:inline-block;width:{}px;height:{}px">'
        '<img src="{}" width="{}" height="{}" alt="reference image" referrerpolicy="no-referrer">{}</div>',
        width,
        height,
        _image_url(image),
        width,
        height,
        overlay,
    )


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


def _is_uuid(value):
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[(Review.APPROVED, _("Approve")), (Review.REJECTED, _("Reject"))])
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), help_text=_("Required: why."))


def _event_title(event):
    """What happened; a review says its decision ("reviewed: rejected")."""
    decision = event.data.get("decision") if event.kind == LivenessEvent.Kind.REVIEWED else None
    if decision in Review.values:
        return f"{event.get_kind_display()}: {Review(decision).label}"
    return event.get_kind_display()


def html_table(headers, rows):
    """A plain table for a read-only admin field; every cell is escaped."""
    head = format_html_join("", "<th>{}</th>", ((header,) for header in headers))
    cells = (format_html_join("", "<td>{}</td>", ((cell,) for cell in row)) for row in rows)
    body = format_html_join("", "<tr>{}</tr>", ((row_cells,) for row_cells in cells))
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


def outcome_badge(session):
    """The outcome that counts, and beside it the provider's when a review overrode it."""
    outcome = services.effective_outcome(session)
    if not outcome:
        return "-"
    badge = format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;font-weight:600">{}</span>',
        OUTCOME_COLOURS[outcome],
        LivenessSession.Outcome(outcome).label,
    )
    if outcome == session.outcome:
        return badge
    provider = LivenessSession.Outcome(session.outcome).label if session.outcome else "-"
    return format_html(
        '{} <span class="help">{}</span>',
        badge,
        _("%(review)s; the provider's outcome: %(provider)s") % {"review": session.get_review_status_display(), "provider": provider},
    )


def _verification_text(row):
    """"same person (0.92)" for a session or an attempt with a verification result, else "-"."""
    if row.is_identical is None:
        return "-"
    same = _("same person") if row.is_identical else _("different person")
    if row.match_confidence is None:
        return same
    return f"{same} ({row.match_confidence:.2f})"


@admin.register(LivenessSession)
class LivenessSessionAdmin(ConfirmActionMixin, CappedCountMixin, admin.ModelAdmin):
    list_display = [
        "short_id",
        "subject",
        "kind",
        "status",
        "liveness_decision",
        "verify_result",
        "outcome_badge",
        "review_status",
        "created_at",
    ]
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
    list_select_related = ["subject"]
    ordering = ["-created_at"]
    list_per_page = 50
    actions = ["refresh_results", "cancel_sessions", "flag_for_review"]
    fieldsets = [
        (
            _("Session"),
            {
                "fields": [
                    "id",
                    "subject_link",
                    "kind",
                    "status",
                    "operation_mode",
                    "device_correlation_id",
                    "provider_session_id",
                    "started_by",
                    "auth_token_expires_at",
                ]
            },
        ),
        (
            _("Result"),
            {
                "fields": [
                    "liveness_decision",
                    "verify_result",
                    "outcome_badge",
                    "face_rectangle",
                    "model_version",
                    "attempts_table",
                    "result_digest",
                    "timings",
                    "error_code",
                    "error_message",
                ]
            },
        ),
        (_("Review"), {"fields": ["review_status", "reviewed_by", "reviewed_at", "review_note"]}),
        (_("Reference image used"), {"fields": ["reference_image_preview"]}),
        (_("Timeline"), {"fields": ["timeline"]}),
        (_("Provider payload"), {"fields": ["raw_payload"], "classes": ["collapse"]}),
    ]
    readonly_fields = [field for _name, options in fieldsets for field in options["fields"]]

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

    @admin.display(description=_("session"), ordering="id")
    def short_id(self, session):
        return str(session.pk)[:8]

    @admin.display(description=_("verify result"))
    def verify_result(self, session):
        return _verification_text(session)

    @admin.display(description=_("outcome"), ordering="outcome")
    def outcome_badge(self, session):
        return outcome_badge(session)

    @admin.display(description=_("subject"))
    def subject_link(self, session):
        url = reverse("admin:django_liveness_subject_change", args=[session.subject_id])
        return format_html('<a href="{}">{}</a>', url, session.subject)

    @admin.display(description=_("timings"))
    def timings(self, session):
        parts = []
        if session.started_at:
            parts.append(f"started {(session.started_at - session.created_at).total_seconds():.1f} s after creation")
        if session.completed_at:
            parts.append(f"result stored {(session.completed_at - session.created_at).total_seconds():.1f} s after creation")
        if session.provider_latency_ms is not None:
            parts.append(f"provider latency {session.provider_latency_ms} ms")
        return "; ".join(parts) or "-"

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
        )

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
                    f"{event.from_status} → {event.to_status}" if event.to_status else "",
                    event.actor or "",
                    event.message,
                )
                for event in events
            ),
        )

    @admin.display(description=_("raw payload"))
    def raw_payload(self, session):
        if not session.result_payload:
            return _("(none, or redacted)")
        return format_html("<pre style=\"white-space:pre-wrap\">{}</pre>", json.dumps(session.result_payload, indent=2))

    # --- review ------------------------------------------------------------------------

    def get_urls(self):
        review = self.admin_site.admin_view(self.review_view)
        return [path("<path:object_id>/review/", review, name="django_liveness_livenesssession_review"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            # Saving would write back the whole row as loaded, over a result or review stored since;
            # nothing here is editable anyway, and reviews post to review_view.
            return HttpResponseRedirect(request.path)
        extra_context = {**(extra_context or {}), "review_form": ReviewForm() if self.has_review_permission(request) else None}
        return super().change_view(request, object_id, form_url, extra_context)

    def review_view(self, request, object_id):
        if request.method != "POST" or not self.has_review_permission(request):
            raise PermissionDenied
        session = self.get_object(request, object_id)
        if session is None:
            raise Http404
        form = ReviewForm(request.POST)
        if not form.is_valid():
            self.message_user(request, _("A review needs a decision and a note."), messages.ERROR)
        else:
            try:
                services.review_session(session, reviewer=request.user, **form.cleaned_data)
            except LivenessError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, _("Review saved: %s.") % form.cleaned_data["decision"], messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:django_liveness_livenesssession_change", args=[session.pk]))

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
        self.message_user(request, _("%(changed)d session(s) changed, %(errors)d provider error(s).") % {"changed": changed, "errors": errors})

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
        self.message_user(request, _("%d session(s) canceled.") % canceled, messages.SUCCESS)
        return None

    @admin.action(description=_("Mark for review"), permissions=["review"])
    def flag_for_review(self, request, queryset):
        flagged = 0
        for session in queryset:
            try:
                services.flag_for_review(session, actor=request.user, note=_("Marked for review in the admin."))
            except InvalidSessionState as error:  # only completed sessions can be reviewed
                self.message_user(request, f"{str(session.pk)[:8]}: {error.message}", messages.WARNING)
            else:
                flagged += 1
        self.message_user(request, _("%d session(s) in the review queue.") % flagged, messages.SUCCESS)


class ReferenceImageInline(admin.TabularInline):
    model = ReferenceImage
    fields = ["thumbnail", "content_type", "width", "height", "size", "is_active", "quality_for_recognition", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("image"))
    def thumbnail(self, image):
        return image_with_face(image, image.face_rectangle, width=96)


class ConsentInline(admin.TabularInline):
    model = Consent
    fields = ["policy_version", "purpose", "text_sha256", "granted_at", "granted_by", "withdrawn_at", "withdrawn_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Subject)
class SubjectAdmin(ConfirmActionMixin, admin.ModelAdmin):
    list_display = ["external_id", "display_name", "user", "verified_at", "erased_at", "created_at"]
    list_filter = ["verified_at", "erased_at", "created_at"]
    search_fields = ["external_id", "display_name", "user__username", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    readonly_fields = ["id", "verified_at", "erased_at", "created_at", "updated_at", "recent_sessions"]
    fields = ["id", "external_id", "display_name", "user", "verified_at", "erased_at", "created_at", "updated_at", "recent_sessions"]
    inlines = [ReferenceImageInline, ConsentInline]
    actions = ["erase_biometric_data"]
    RECENT = 20

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
                    outcome_badge(s),
                )
                for s in sessions
            ),
        )
        all_url = reverse("admin:django_liveness_livenesssession_changelist") + f"?subject={subject.pk}"
        return format_html('<ul>{}</ul><a href="{}">{}</a>', items, all_url, _("All sessions of this subject"))

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
        self.message_user(request, _("%d subject(s) erased.") % queryset.count(), messages.SUCCESS)
        return None


@admin.register(ReferenceImage)
class ReferenceImageAdmin(admin.ModelAdmin):
    list_display = ["id", "subject", "content_type", "width", "height", "is_active", "quality_for_recognition", "created_at"]
    list_filter = ["is_active", "content_type", "quality_for_recognition"]
    list_select_related = ["subject"]
    search_fields = ["subject__external_id", "sha256"]
    fields = ["preview", "subject", "content_type", "size", "width", "height", "sha256", "is_active", "face_rectangle", "quality_for_recognition", "created_at"]
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

    def get_urls(self):
        view = self.admin_site.admin_view(self.file_view)
        return [path("<uuid:pk>/file/", view, name="django_liveness_referenceimage_file"), *super().get_urls()]

    def file_view(self, request, pk):
        """Stream the image from storage to staff allowed to see it, and log that they did."""
        if not request.user.has_perm("django_liveness.view_referenceimage"):
            raise PermissionDenied
        image = ReferenceImage.objects.select_related("subject").filter(pk=pk).first()
        # Object storages open lazily and would fail mid-stream: ask first whether the file is there.
        if image is None or not image.file.storage.exists(image.file.name):
            raise Http404
        try:
            file = image.file.open("rb")
        except FileNotFoundError:  # deleted since
            raise Http404 from None
        services.record_image_view(image, actor=request.user)
        response = FileResponse(file, content_type=image.content_type)
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Disposition"] = f'inline; filename="{image.pk}"'
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
