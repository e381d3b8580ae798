from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from django_liveness.backends import get_backend

from .models import Profile


@login_required
@ensure_csrf_cookie
def index(request):
    profile = Profile.objects.filter(user=request.user).first()
    return render(
        request,
        "demo/index.html",
        {
            "profile": profile,
            "emulator_mode": settings.EMULATOR_MODE,
            "config": {
                "emulator_mode": settings.EMULATOR_MODE,
                # The page asks for the subject linked to this account (staff would otherwise create new ones).
                "user_id": request.user.pk,
                "display_name": request.user.get_full_name() or request.user.get_username(),
                # Where the browser sends the capture: the (emulated) Face service, not this app.
                "face_endpoint": "/emulator" if settings.EMULATOR_MODE else settings.VISION_ENDPOINT,
                "face_api_version": get_backend().api_version,
            },
        },
    )
