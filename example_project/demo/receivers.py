"""The host project's reaction to django-liveness: grant the user "verified" status."""

from django.dispatch import receiver
from django.utils import timezone

from django_liveness.signals import liveness_verified

from .models import Profile


@receiver(liveness_verified)
def mark_user_verified(sender, session, subject, **kwargs):
    if subject.user_id is None:
        return
    Profile.objects.update_or_create(
        user_id=subject.user_id,
        defaults={"identity_verified_at": timezone.now(), "verified_by_session": session.pk},
    )
