"""The list filters of the package's change lists."""

import uuid

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import services
from ..models import LivenessSession, Subject


class OutcomeFilter(admin.SimpleListFilter):
    """The outcome that counts: a reviewer's approval or rejection over the provider's decision."""

    title = _("outcome")
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return LivenessSession.Outcome.choices

    def queryset(self, request, queryset):
        if self.value() in LivenessSession.Outcome.values:
            return queryset.with_effective_outcome(self.value())
        return queryset


class ReviewQueueFilter(admin.SimpleListFilter):
    title = _("review queue")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("yes", _("Waiting for review (oldest first)"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(review_status=LivenessSession.ReviewStatus.PENDING)
        return queryset


class AbuseFilter(admin.SimpleListFilter):
    """Sessions the Face service's abuse monitoring flagged (v1.3-preview.1)."""

    title = _("abuse monitoring")
    parameter_name = "abuse"

    def lookups(self, request, model_admin):
        return [("yes", _("Flagged by the service's abuse monitoring"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(abuse_detected=True)
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
        subject = Subject.objects.filter(pk=value).first() if value and is_uuid(value) else None
        return [(value, str(subject))] if subject else []

    def queryset(self, request, queryset):
        if self.value() and is_uuid(self.value()):
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


def is_uuid(value):
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
