"""The session image: the frame the provider captured, kept as review evidence.

Asked for at create (``STORE_SESSION_IMAGE``), fetched once the result is stored and before the
remote session is deleted, stored with the reference images' rules (private storage, random
name, metadata stripped). The provider call happens outside any transaction; a failed fetch is
an event and leaves the remote session in place, so the sync fetches the image later.
"""

import logging

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from ..backends import get_backend
from ..backends.base import SESSION_IMAGES
from ..conf import liveness_settings
from ..exceptions import BackendError
from ..images import validate_reference_image
from ..models import LivenessEvent, LivenessSession
from ..db.transactions import atomic_writing
from .base import delete_files_on_commit, lock_session, log_event, record_remote_error

logger = logging.getLogger("django_liveness")
OPERATION = "session_image"


def wanted(*, verify):
    """Whether a new session (of this kind) asks the provider to keep its image."""
    setting = liveness_settings.STORE_SESSION_IMAGE
    return (setting is True or (setting == "verify" and verify)) and get_backend().supports(SESSION_IMAGES)


def missing(session):
    """The provider has an image of ``session`` that is not stored here yet (and may still be)."""
    return bool(session.session_image_id) and not session.session_image and session.redacted_at is None


def missing_filter(sessions):
    """``sessions`` narrowed to those ``missing`` an image (a queryset)."""
    return sessions.exclude(session_image_id="").filter(session_image="", redacted_at__isnull=True)


def download(session):
    """The provider call (no database): the image's bytes, or None when there is nothing to fetch."""
    if not missing(session):
        return None
    return get_backend().get_session_image(session.session_image_id)


def fetch(session, *, actor=None):
    """Fetch and store the image of ``session``; True when nothing is left to fetch."""
    try:
        fetched = download(session)
    except BackendError as error:
        fetched = error
    return record(session, fetched, actor=actor)


def record(session, fetched, *, actor=None):
    """Store what ``download`` gave (bytes, None, or the BackendError it raised); True when
    nothing is left to fetch, so the remote session may be deleted."""
    if fetched is None:
        return True
    if isinstance(fetched, BackendError):
        record_remote_error(session, fetched, operation=OPERATION, actor=actor)
        return False
    try:
        validated = validate_reference_image(fetched)
    except ValidationError as error:
        # Bytes that cannot be cleaned are not kept, and fetching them again gives the same bytes.
        record_remote_error(
            session, BackendError(error.messages[0], code="invalid_image"), operation=OPERATION, actor=actor
        )
        LivenessSession.objects.filter(pk=session.pk).update(session_image_id="")
        session.session_image_id = ""
        return True
    return _store(session, validated, actor=actor)


def _store(session, validated, *, actor):
    with atomic_writing():  # not retried: it stores a file
        locked = lock_session(session)
        # Erased, purged or stored by another worker meanwhile: keep nothing.
        if not missing(locked) or locked.subject.erased_at is not None:
            return True
        try:
            locked.session_image.save(f"capture{validated.extension}", ContentFile(validated.data), save=False)
        except Exception as error:
            # Each storage fails in its own way; the sync tries again.
            logger.error("Storing the session image of session %s failed (%s).", session.pk, type(error).__name__)
            return False
        try:
            locked.save(update_fields=["session_image", "updated_at"])
            log_event(
                LivenessEvent.Kind.SESSION_IMAGE_STORED,
                session=locked,
                actor=actor,
                data={"content_type": validated.content_type, "size": validated.size},
            )
        except Exception:
            # The database write failed after the file was stored: leave no orphan file behind.
            locked.session_image.storage.delete(locked.session_image.name)
            raise
    session.session_image = locked.session_image.name
    return True


def delete(sessions):
    """Delete the stored images of the queryset ``sessions`` once the deletion commits, and forget
    the provider's ids (an image purged or erased is never fetched again). Returns how many."""
    sessions = sessions.exclude(session_image_id="", session_image="")
    files = [
        (LivenessSession._meta.get_field("session_image").storage, name)
        for name in sessions.values_list("session_image", flat=True)
    ]
    delete_files_on_commit(files)
    return sessions.update(session_image="", session_image_id="")


def record_view(session, *, actor):
    """Note in the event log that ``actor`` looked at the session image of ``session``."""
    log_event(LivenessEvent.Kind.SESSION_IMAGE_VIEWED, session=session, actor=actor)
