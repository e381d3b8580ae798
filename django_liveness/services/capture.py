"""What the frontend and the hosted capture page add to a session: the start on its one-time link
(and the browser it is bound to), and the errors the person's browser saw (camera denied, an SDK
error ...)."""

from django.utils import timezone

from ..backends import get_backend
from ..backends.azure import client_attempts_allowed
from ..common.client_platform import client_platform
from ..models import LivenessEvent, LivenessSession, capture_browser_hash
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
def start_capture(session_pk, *, browser_secret, user_agent=""):
    """The person started on the hosted page: spend the session's one-time capture link for this browser,
    or recognise the browser that spent it. Return the session, or None when another browser did.

    One conditional UPDATE spends the link: of two browsers starting at once, exactly one wins. Only a
    hash of ``browser_secret`` (the page's cookie) is stored. The page runs on the person's device, so
    its ``user_agent`` replaces the platform of whoever created the session.
    """
    platform = {}
    if user_agent:
        platform["client_browser"], platform["client_os"] = client_platform(user_agent)
    spent = LivenessSession.objects.filter(pk=session_pk, capture_link_opened_at__isnull=True).update(
        capture_link_opened_at=timezone.now(), capture_browser_hash=capture_browser_hash(browser_secret), **platform
    )
    session = LivenessSession.objects.select_related("subject").get(pk=session_pk)
    if spent:
        log_event(LivenessEvent.Kind.CAPTURE_LINK_OPENED, session=session)
        return session
    return session if session.is_capture_browser(browser_secret) else None


def record_client_event(session, *, code, message="", actor=None):
    """Keep what the person's browser reported, so that "it failed on my phone" can be answered."""
    return log_event(
        LivenessEvent.Kind.CLIENT_EVENT,
        session=session,
        actor=actor,
        message=message,
        data={"code": code, "message": message},
    )


def capture_target():
    """Where the frontend's capture SDK sends the capture: the configured backend's ``endpoint`` and
    ``api_version``, ``client_attempts`` (how many captures a session takes, None when the version
    does not say) and ``uses_emulator`` (the hosted page's test mode: no Microsoft script needed)."""
    backend = get_backend()
    return {
        "endpoint": getattr(backend, "endpoint", ""),
        "api_version": backend.api_version,
        "client_attempts": client_attempts_allowed(backend.api_version),
        "uses_emulator": bool(getattr(backend, "uses_emulator", False)),
    }
