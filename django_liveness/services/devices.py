"""The subject's device correlation id: the ``deviceCorrelationId`` every one of its sessions sends.

The Face service's abuse detection counts attempts per device; a new id per session would show it
a new device each time and defeat it. The id is a random UUID made at the subject's first session,
not a fingerprint of anything on the device; staff can replace it (a person's new phone).
"""

import uuid

from django.utils import timezone

from ..models import LivenessEvent, Subject
from .base import atomic_with_retry, lock_subject, log_event


def device_correlation_id(locked):
    """The id of the subject ``locked`` (its row locked by the caller), made at its first session."""
    if not locked.device_correlation_id:
        locked.device_correlation_id = str(uuid.uuid4())
        Subject.objects.filter(pk=locked.pk).update(device_correlation_id=locked.device_correlation_id)
    return locked.device_correlation_id


@atomic_with_retry
def reset_device_correlation_id(subject, *, actor=None):
    """Forget ``subject``'s id: its next session makes a new one."""
    locked = lock_subject(subject.pk)
    previous = locked.device_correlation_id
    Subject.objects.filter(pk=locked.pk).update(device_correlation_id="", updated_at=timezone.now())
    subject.device_correlation_id = ""
    log_event(LivenessEvent.Kind.DEVICE_ID_RESET, subject=locked, actor=actor, data={"previous": previous})
