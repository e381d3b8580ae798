"""The host project's reaction to django-liveness: grant the user "verified" status, and take it
back when a later decision says otherwise (a spoof, another person, a reviewer's rejection)."""

from django.dispatch import receiver
from django.utils import timezone

from django_liveness.signals import liveness_failed, liveness_verified

from .models import Profile


@receiver(liveness_verified)
def mark_user_verified(sender, session, subject, **kwargs):
    if subject.user_id is None:
        return
    Profile.objects.update_or_create(
        user_id=subject.user_id,
        defaults={"identity_verified_at": timezone.now(), "verified_by_session": session.pk},
    )


@receiver(liveness_failed)
def revoke_verification(sender, session, subject, reason, **kwargs):
    # This example's policy: the latest decision counts. A failed check on the account (or a
    # rejection of the session that verified it) withdraws the access the earlier one granted.
    if subject.user_id is None:
        return
    Profile.objects.filter(user_id=subject.user_id).update(identity_verified_at=None, verified_by_session=None)
