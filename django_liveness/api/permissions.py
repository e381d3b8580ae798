"""Who may see and do what.

An ordinary user sees and acts on the subject linked to their own account only; apps and staff
act on any subject through the model permissions. Objects a user may not see are 404, so that
their existence is not revealed.
"""

from django.core.exceptions import ValidationError
from rest_framework.exceptions import NotFound, PermissionDenied

from ..models import LivenessSession, ReferenceImage, Subject


def has_perm(user, codename):
    return user.has_perm(f"django_liveness.{codename}")


def visible_subjects(user):
    if has_perm(user, "view_subject"):
        return Subject.objects.all()
    return Subject.objects.filter(user=user)


def visible_sessions(user):
    sessions = LivenessSession.objects.select_related("subject")
    if has_perm(user, "view_livenesssession"):
        return sessions
    return sessions.filter(subject__user=user)


def visible_images(user, subject):
    images = ReferenceImage.objects.filter(subject=subject)
    if subject.user_id == user.pk or has_perm(user, "view_referenceimage"):
        return images
    return images.none()


def require(user, subject, codename):
    """The owner of ``subject`` may act on it; anyone else needs ``codename``."""
    if subject.user_id != user.pk and not has_perm(user, codename):
        raise PermissionDenied(f"You need the django_liveness.{codename} permission for this subject.")


def may_read_audit(user):
    return has_perm(user, "view_livenesssession") and (user.is_staff or has_perm(user, "view_provider_audit"))


def get_or_404(queryset, pk, what):
    """``queryset.get(pk=pk)``, or 404 for a missing object and for a malformed UUID alike."""
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError, ValidationError):  # ValidationError: a malformed UUID
        raise NotFound(f"No such {what}.") from None
