"""The hosted capture page (docs/capture.md): opened through a session's ``capture_url``, without a
login, in a phone browser or a WebView; and its start, which spends the one-time link for one browser.
The three calls the page makes then (authorised by its page token, ``links``) are REST calls:
``api/hosted.py``."""

from urllib.parse import urlsplit

from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .. import services
from ..conf import liveness_settings
from ..models import LivenessSession
from ..services.capture import capture_target
from . import links
from .headers import security_headers
from .messages import capture_messages


class _Refused(Exception):
    """The link cannot be used by this browser now: said in words on the page, in JSON to the start."""

    def __init__(self, code, message, status, session=None):
        super().__init__(message)
        self.code, self.message, self.status, self.session = code, message, status, session


@csrf_exempt  # the start is checked by its origin instead (links.is_same_origin): no cookie before it
@require_http_methods(["GET", "HEAD", "POST"])
def capture_page(request, token):
    """GET (and HEAD) show the page and spend nothing: a link preview sees only the page. The page's own
    POST to the same address, when the person taps Start, spends the link for this browser and answers
    the session's auth token and the page token; a reload in that browser starts again at once."""
    # The browser's language, whether or not the host runs LocaleMiddleware.
    with translation.override(translation.get_language_from_request(request)):
        face = _face_config(request)
        try:
            session, returning = _usable_session(request, token, face)
            if request.method == "POST":
                response = _start(request, session, returning)
            else:
                response = _page(request, session, face, returning)
        except _Refused as refused:
            response = _refusal(request, refused)
    for name, value in security_headers(face).items():
        response[name] = value
    return response


def _usable_session(request, token, face):
    """The link's session and whether this browser started on it before, or _Refused."""
    try:
        session_id, expired = links.session_id_of_link(token)
    except links.InvalidLink:
        raise _Refused("link_not_valid", _("This link is not valid."), 404) from None
    session = LivenessSession.objects.filter(pk=session_id).first()
    if session is None:
        raise _Refused("link_not_valid", _("This link is not valid."), 404)
    returning = session.is_capture_browser(request.COOKIES.get(links.BROWSER_COOKIE, ""))
    if expired and not returning:
        raise _Refused("link_expired", _("This link has expired."), 410)
    if session.is_final or not session.token_is_valid():
        raise _Refused("session_ended", _("This check has ended or expired."), 410, session)
    if session.capture_link_opened_at is not None and not returning:
        raise _link_used()
    if face is None:  # said before the link is spent, so that it still works once fixed
        raise _Refused("capture_not_set_up", _("The face check is not set up on this site yet."), 503, session)
    return session, returning


def _link_used():
    return _Refused("link_used", _("This link has already been used. Go back to the app to start again."), 410)


def _page(request, session, face, returning):
    # No token here: a preview that fetches the page gets nothing it could capture with.
    config = {
        "session": None,
        "resume": returning,  # a reload in the browser that started: start again without a tap
        "face": face,
        "urls": {
            "start": request.path,
            "session": reverse("django_liveness:capture-session"),
            "complete": reverse("django_liveness:capture-complete"),
            "client_events": reverse("django_liveness:capture-client-events"),
        },
        "headers": {},
        "return_url": session.return_url or None,
        "messages": capture_messages(),
    }
    return render(request, "django_liveness/capture/page.html", {"config": config, "title": _("Face check")})


def _start(request, session, returning):
    if not links.is_same_origin(request):
        raise _Refused("cross_site_request", _("This request was refused. Reload the page and try again."), 403)
    secret = request.COOKIES[links.BROWSER_COOKIE] if returning else links.new_browser_secret()
    session = services.start_capture(session.pk, browser_secret=secret, user_agent=request.headers.get("User-Agent", ""))
    if session is None:  # another browser started a moment before
        raise _link_used()
    response = JsonResponse(
        {
            "session": {
                "id": str(session.pk),
                "kind": session.kind,
                "auth_token": session.auth_token,
                "status": session.status,
            },
            "headers": {links.PAGE_TOKEN_HEADER: links.page_token(session)},
        }
    )
    links.set_browser_cookie(response, request, secret, session)
    return response


def _refusal(request, refused):
    if request.method == "POST":
        return JsonResponse({"detail": refused.message, "code": refused.code}, status=refused.status)
    return _unavailable(request, refused.message, session=refused.session, status=refused.status)


def _face_config(request):
    """Where the page sends the capture and how, or None when it cannot capture at all."""
    target = capture_target()
    test_mode = target["uses_emulator"]
    script = liveness_settings.CAPTURE["WEB_COMPONENT_SCRIPT"]
    if not test_mode and not script:
        return None
    endpoint = target["endpoint"]
    parts = urlsplit(endpoint)
    if parts.netloc == request.get_host():
        endpoint = parts.path  # same site: a path also works from a phone reaching it by another name
    return {
        "endpoint": endpoint,
        "api_version": target["api_version"],
        "client_attempts": target["client_attempts"],  # None: the version does not say
        "test_mode": test_mode,
        "web_component_script": script,
    }


def _unavailable(request, message, *, session=None, status):
    context = {"title": _("Face check"), "message": message, "return_url": getattr(session, "return_url", "") or None}
    return render(request, "django_liveness/capture/unavailable.html", context, status=status)
