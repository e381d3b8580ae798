"""What the frontend and the hosted capture page add to a session: the opening of its one-time
link, and the errors the person's browser saw (camera denied, an SDK error ...)."""

from django.utils import timezone

from ..client_platform import client_platform
from ..models import LivenessEvent, LivenessSession
from .base import atomic_with_retry, log_event

CLIENT_EVENT_CODES = (
    "CameraPermissionDenied",
    "CameraNotFound",
    "NetworkError",
    "ServerError",
    "SdkError",
    "CaptureRefused",
    "Other",
)
CLIENT_EVENT_MESSAGE_MAX = 500


@atomic_with_retry
def open_capture_link(session_pk, *, user_agent=""):
    """Mark the session's capture link as opened; return the session, or None if it was opened before.

    One conditional UPDATE: of two openings at once, exactly one wins. The page runs on the person's
    device, so its ``user_agent`` replaces the platform of whoever created the session.
    """
    platform = {}
    if user_agent:
        platform["client_browser"], platform["client_os"] = client_platform(user_agent)
    opened = LivenessSession.objects.filter(pk=session_pk, capture_link_opened_at__isnull=True).update(
        capture_link_opened_at=timezone.now(), **platform
    )
    if not opened:
        return None
    session = LivenessSession.objects.select_related("subject").get(pk=session_pk)
    log_event(LivenessEvent.Kind.CAPTURE_LINK_OPENED, session=session)
    return session


def record_client_event(session, *, code, message="", actor=None):
    """Keep what the person's browser reported, so that "it failed on my phone" can be answered."""
    return log_event(
        LivenessEvent.Kind.CLIENT_EVENT,
        session=session,
        actor=actor,
        message=message,
        data={"code": code, "message": message},
    )
