from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.vary import vary_on_headers

from django_liveness.backends import get_backend
from django_liveness.backends.azure import client_attempts_allowed
from django_liveness.capture.messages import capture_messages
from django_liveness.conf import liveness_settings

from .models import Profile


@login_required
@ensure_csrf_cookie
@vary_on_headers("Accept")
def index(request):
    """The page; with ``Accept: application/json``, only its banner's state (the page re-reads it after each result)."""
    verification = verification_state(request.user)
    if request.headers.get("Accept") == "application/json":
        return JsonResponse(verification)
    return render(
        request,
        "demo/index.html",
        {
            "verification": verification,
            "emulator_mode": settings.EMULATOR_MODE,
            "demo_config": {
                # The page asks for the subject linked to this account (staff would otherwise create new ones).
                "user_id": request.user.pk,
                "display_name": request.user.get_full_name() or request.user.get_username(),
                "api": reverse("django_liveness:subject-list").removesuffix("subjects/"),
                "messages": page_messages(),
            },
            "capture_config": capture_config(request),
        },
    )


def verification_state(user):
    """What the host project grants: its own Profile, which the receivers set and take back."""
    profile = Profile.objects.filter(user=user).first()
    verified_at = profile.identity_verified_at if profile else None
    if verified_at is None:
        return {"verified": False, "text": _("Identity not verified yet")}
    moment = formats.date_format(timezone.localtime(verified_at), "Y-m-d H:i")
    return {"verified": True, "text": _("Identity verified (%(moment)s)") % {"moment": moment}}


def capture_config(request):
    """The capture widget's config (docs/capture.md): the page creates the session itself."""
    sessions = reverse("django_liveness:session-list")
    return {
        "session": None,
        "face": {
            # Where the browser sends the capture: the (emulated) Face service, not this app.
            "endpoint": "/emulator" if settings.EMULATOR_MODE else settings.VISION_ENDPOINT,
            "api_version": get_backend().api_version,
            "client_attempts": client_attempts_allowed(get_backend().api_version),  # None: the version does not say
            "test_mode": settings.EMULATOR_MODE,
            "web_component_script": liveness_settings.CAPTURE["WEB_COMPONENT_SCRIPT"],
        },
        "urls": {
            "session": f"{sessions}{{id}}/",
            "complete": f"{sessions}{{id}}/complete/",
            "client_events": f"{sessions}{{id}}/client-events/",
        },
        "headers": {"X-CSRFToken": get_token(request)},  # session authentication: DRF checks CSRF
        "return_url": None,
        "messages": capture_messages(),
    }


def page_messages():
    """The strings of the page's own steps (demo.js); the capture widget has its own."""
    widget = capture_messages()
    return {
        "tick_first": _("Tick the box first."),
        "consent_recorded": _("Consent recorded."),
        "choose_photo": _("Choose a photo first."),
        "uploading": _("Uploading…"),
        "uploaded": _("Uploaded (%(width)s × %(height)s)."),
        "saving": _("Saving…"),
        "starting": widget["starting"],
        "network_error": widget["network_error"],
        "server_error": widget["server_error"],
    }
