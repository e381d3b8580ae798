"""Liveness sessions in the admin: the list and review queue, the session page with its evidence,
the review form, the session image view, and the refresh, cancel and flag actions."""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ORDER_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .. import services
from ..common.client_platform import platform_label
from .dashboard.views import dashboard_urls
from ..exceptions import BackendError, InvalidSessionState, LivenessError
from ..models import LivenessEvent, LivenessSession
from .abuse import abuse_banner, abuse_verdict
from .filters import AbuseFilter, OutcomeFilter, ReviewQueueFilter, SubjectFilter, is_uuid
from .html import (
    face_box_text,
    html_table,
    image_with_face,
    outcome_summary,
    revealed_image,
    session_image_url,
    verification_text,
)
from .images import content_type_of, may_see_images, stored_size, stream_image
from .mixins import CappedCountMixin, ConfirmActionMixin, LivenessMedia


class ReviewForm(forms.Form):
    # The fields sit amid the change form's fieldsets, after the evidence, and belong to a <form> of
    # this id outside it (change_form.html): a browser ignores a form nested in another.
    form_id = "liveness-review"
    required_css_class = "required"  # the admin's bold label
    # No choice made in advance: the reviewer must pick one (a preselected "Approve" was saved unread).
    decision = forms.ChoiceField(
        choices=[
            ("", _("Choose a decision")),
            (LivenessSession.ReviewStatus.APPROVED, _("Approve")),
            (LivenessSession.ReviewStatus.REJECTED, _("Reject")),
        ],
        widget=forms.Select(attrs={"form": form_id}),
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "form": form_id}), help_text=_("Required: why.")
    )


def _event_title(event):
    """What happened, readably: a review says its decision, the frontend what its browser reported."""
    if event.kind == LivenessEvent.Kind.REVIEWED and event.data.get("decision") in LivenessSession.ReviewStatus.values:
        return _("Reviewed: %(decision)s") % {"decision": LivenessSession.ReviewStatus(event.data["decision"]).label}
    if event.kind == LivenessEvent.Kind.CLIENT_EVENT:
        code, message = event.data.get("code", ""), event.data.get("message", "")
        if message:
            return _("Frontend reported %(code)s: %(message)s") % {"code": code, "message": message}
        return _("Frontend reported %(code)s") % {"code": code}
    return capfirst(event.get_kind_display())


def _status_label(status):
    """A session status as staff read it ("completed"), translated; an unknown value as stored."""
    return LivenessSession.Status(status).label if status in LivenessSession.Status.values else status


@admin.register(LivenessSession)
class LivenessSessionAdmin(LivenessMedia, ConfirmActionMixin, CappedCountMixin, admin.ModelAdmin):
    # Few, narrow columns: the list fits beside the admin's sidebars at 1280 px, and on a phone
    # (liveness.css hides the review column there) subject, outcome and date need no sideways scroll.
    list_display = ["subject_summary", "outcome_summary", "review_summary", "created_at"]
    list_display_links = ["subject_summary"]
    list_filter = [
        ReviewQueueFilter,
        AbuseFilter,
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
                    "expected_client_ip",
                    "client_platform",
                    "provider_session_id",
                    "pending_after_answer",
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
        if is_uuid(term):
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
        reviewed = (LivenessSession.ReviewStatus.APPROVED, LivenessSession.ReviewStatus.REJECTED)
        if session.review_status in reviewed and session.reviewed_by:
            return _("%(decision)s by %(reviewer)s") % {"decision": session.get_review_status_display(), "reviewer": session.reviewed_by}
        return session.get_review_status_display()

    @admin.display(description=_("pending at the provider"))
    def pending_after_answer(self, session):
        """What liveness_sync (or the work after the answer) still has to do at the provider."""
        labels = {"session_image": _("fetch the session image"), "remote_deletion": _("delete the provider's copy")}
        return ", ".join(str(labels[work]) for work in session.pending_after_answer) or "-"

    @admin.display(description=_("verify result"))
    def verify_result(self, session):
        return verification_text(session)

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
            ["#", _("status"), _("decision"), _("verification"), _("error"), _("client IP"), _("abuse monitoring")],
            (
                (
                    attempt.attempt_id,
                    attempt.get_status_display(),
                    attempt.get_liveness_decision_display() or "-",
                    verification_text(attempt),
                    f"{attempt.error_code}: {attempt.error_message}" if attempt.error_code else "",
                    ", ".join(attempt.client_ips) or "-",
                    abuse_verdict(attempt),
                )
                for attempt in attempts
            ),
            free_text={4},
        )

    @admin.display(description=_("capture"))
    def session_image_preview(self, session):
        if not session.session_image:
            return _("(pending: the sync fetches it)") if session.session_image_id else "-"
        size = stored_size(session.session_image)
        if size is None:
            return _("(the stored file cannot be read)")
        return revealed_image(session_image_url(session), size, session.face_rectangle, _("capture"))

    @admin.display(description=_("capture"))
    def capture_thumbnail(self, session):
        # Loaded with the page, through the logged view: a thumbnail is a view of biometric data too.
        if not session.session_image:
            return "-"
        return format_html(
            '<img class="liveness-thumbnail" src="{}" width="48" alt="{}" loading="lazy" referrerpolicy="no-referrer">',
            session_image_url(session),
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
        session = LivenessSession.objects.select_related("subject").filter(pk=object_id).first() if is_uuid(object_id) else None
        return stream_image(
            session.session_image if session else None,
            content_type=content_type_of(session.session_image.name) if session else "",
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
        session = self.get_object(request, unquote(object_id))
        may_review = self.may_review(request, session)
        extra_context = {
            **(extra_context or {}),
            # Nothing on this page can be changed, whatever Django's "Change ..." says.
            "title": (_("Review %s") if may_review else _("View %s")) % self.opts.verbose_name,
            "review_form": ReviewForm() if may_review else None,
            "abuse_banner": abuse_banner(session),
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
        if form.cleaned_data["decision"] == LivenessSession.ReviewStatus.REJECTED:
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
