"""Subjects in the admin: their reference images and consents (read-only inlines), recent sessions,
lock state, edits and deletion through the service layer, and the erase, lift-lock and
device-id actions."""

from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .. import services
from ..models import Consent, ReferenceImage, Subject
from .filters import LockedFilter
from .html import image_with_face, outcome_summary
from .mixins import ConfirmActionMixin, LivenessMedia


def _when_and_who(when, who):
    """"30 Nov 2026, 18:23 by alice" for a timestamp and the user behind it; "-" when it never happened."""
    if when is None:
        return "-"
    when = formats.date_format(timezone.localtime(when), "SHORT_DATETIME_FORMAT")
    return _("%(when)s by %(who)s") % {"when": when, "who": who} if who else when


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
            services.erase_subject(subject, actor=request.user)
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
