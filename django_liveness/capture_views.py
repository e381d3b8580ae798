"""The hosted capture page (docs/capture.md): opened through a session's one-time ``capture_url``,
without a login, in a phone browser or a WebView; and the three calls the page makes, authorised by
its page token (``capture_links``) instead of a user."""

from urllib.parse import urlsplit

from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import capture_links, services
from .api.errors import ErrorFormatMixin
from .api.parsers import JSONParser
from .api.serializers import SessionDetailSerializer
from .api.throttling import CompleteSessionThrottle, RateLimitMixin
from .api.views import complete_session, record_client_event
from .backends import get_backend
from .capture_messages import capture_messages
from .conf import liveness_settings
from .models import LivenessSession

PAGE_HEADERS = {
    "Cache-Control": "no-store",  # the page holds the session's auth token
    "Referrer-Policy": "no-referrer",  # and its address is a one-time credential
}


def capture_page(request, token):
    # The browser's language, whether or not the host runs LocaleMiddleware.
    with translation.override(translation.get_language_from_request(request)):
        response = _capture_page(request, token)
    for name, value in PAGE_HEADERS.items():
        response[name] = value
    return response


def _capture_page(request, token):
    try:
        session_id = capture_links.session_id_of_link(token)
    except capture_links.InvalidLink as error:
        if error.reason == "expired":
            return _unavailable(request, _("This link has expired."), status=410)
        return _unavailable(request, _("This link is not valid."), status=404)
    session = LivenessSession.objects.filter(pk=session_id).first()
    if session is None:
        return _unavailable(request, _("This link is not valid."), status=404)
    if session.is_final or not session.token_is_valid():
        return _unavailable(request, _("This check has ended or expired."), session=session, status=410)
    face = _face_config(request)
    if face is None:  # checked before the link is used up, so that it still works once fixed
        return _unavailable(request, _("The face check is not set up on this site yet."), session=session, status=503)
    session = services.open_capture_link(session.pk, user_agent=request.headers.get("User-Agent", ""))
    if session is None:
        return _unavailable(
            request, _("This link has already been used. Go back to the app to start again."), status=410
        )
    config = {
        "session": {
            "id": str(session.pk),
            "kind": session.kind,
            "auth_token": session.auth_token,
            "status": session.status,
        },
        "face": face,
        "urls": {
            "session": reverse("django_liveness:capture-session"),
            "complete": reverse("django_liveness:capture-complete"),
            "client_events": reverse("django_liveness:capture-client-events"),
        },
        "headers": {capture_links.PAGE_TOKEN_HEADER: capture_links.page_token(session)},
        "return_url": session.return_url or None,
        "messages": capture_messages(),
    }
    return render(request, "django_liveness/capture/page.html", {"config": config, "title": _("Face check")})


def _face_config(request):
    """Where the page sends the capture and how, or None when it cannot capture at all."""
    backend = get_backend()
    test_mode = bool(getattr(backend, "uses_emulator", False))
    script = liveness_settings.CAPTURE["WEB_COMPONENT_SCRIPT"]
    if not test_mode and not script:
        return None
    endpoint = getattr(backend, "endpoint", "")
    parts = urlsplit(endpoint)
    if parts.netloc == request.get_host():
        endpoint = parts.path  # same site: a path also works from a phone reaching it by another name
    return {
        "endpoint": endpoint,
        "api_version": backend.api_version,
        "test_mode": test_mode,
        "web_component_script": script,
    }


def _unavailable(request, message, *, session=None, status):
    context = {"title": _("Face check"), "message": message, "return_url": getattr(session, "return_url", "") or None}
    return render(request, "django_liveness/capture/unavailable.html", context, status=status)


class HostedCaptureView(ErrorFormatMixin, RateLimitMixin, APIView):
    """A call of the hosted page: the page token in the X-Liveness-Capture header is the credential."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]
    throttle_classes = []

    def get_session(self):
        token = self.request.headers.get(capture_links.PAGE_TOKEN_HEADER, "")
        try:
            session_id = capture_links.session_id_of_page_token(token)
        except capture_links.InvalidLink:
            raise NotFound() from None
        session = LivenessSession.objects.select_related("subject").filter(pk=session_id).first()
        if session is None or session.capture_link_opened_at is None:
            raise NotFound()
        return session


class HostedSessionView(HostedCaptureView):
    def get(self, request):
        return Response(SessionDetailSerializer(self.get_session()).data)


class HostedCompleteView(HostedCaptureView):
    def post(self, request):
        session = self.get_session()
        return complete_session(self, session, CompleteSessionThrottle(session), actor=None)


class HostedClientEventView(HostedCaptureView):
    def post(self, request):
        return record_client_event(self, self.get_session(), actor=None)
