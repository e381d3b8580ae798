"""Who may see and do what.

An ordinary user sees and acts on the subject linked to their own account only; apps and staff
act on any subject through the model permissions. Objects a user may not see are 404, so that
their existence is not revealed.
"""

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound, PermissionDenied

from ..models import LivenessSession, ReferenceImage, Subject

# A user's django_liveness permissions are kept in the cache for this long, so that an ordinary
# request loads none (two queries each time otherwise); any change of permissions or groups
# forgets them all at once (``forget_cached_permissions``, connected in apps.py).
PERMISSION_CACHE_SECONDS = 300
VERSION_KEY = "django_liveness:permissions:version"


def has_perm(user, codename):
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    return codename in _liveness_permissions(user)


def _liveness_permissions(user):
    cached = getattr(user, "_liveness_permissions", None)
    if cached is not None:
        return cached
    version = cache.get_or_set(VERSION_KEY, 1, timeout=None)
    key = f"django_liveness:permissions:{version}:{user.pk}"
    codenames = cache.get(key)
    if codenames is None:
        prefix = "django_liveness."
        codenames = frozenset(name[len(prefix) :] for name in user.get_all_permissions() if name.startswith(prefix))
        cache.set(key, codenames, PERMISSION_CACHE_SECONDS)
    user._liveness_permissions = codenames
    return codenames


def forget_cached_permissions(**kwargs):
    """A user's or a group's permissions, or a user's groups, changed: every cached set is stale."""
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # no version yet: nothing is cached
        pass


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
        raise PermissionDenied(
            _("You need the django_liveness.%(codename)s permission for this subject.") % {"codename": codename}
        )


def may_choose_session_options(user):
    """The liveness mode and the device correlation id are the server's (settings, the subject's own
    id): an ordinary user choosing them would pick the weaker check or a fresh device for each try.
    Apps and staff that may start sessions for any subject may choose them."""
    return has_perm(user, "add_livenesssession")


def may_read_audit(user):
    return has_perm(user, "view_livenesssession") and (user.is_staff or has_perm(user, "view_provider_audit"))


def get_or_404(queryset, pk, what):
    """``queryset.get(pk=pk)``, or 404 for a missing object and for a malformed UUID alike."""
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError, ValidationError):  # ValidationError: a malformed UUID
        raise NotFound(_("No such %(what)s.") % {"what": what}) from None
