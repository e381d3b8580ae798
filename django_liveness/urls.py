"""Include in your project: ``path("api/liveness/", include("django_liveness.urls"))``."""

from django.urls import include, path

from .api import hosted
from .capture import views as capture_views

app_name = "django_liveness"

urlpatterns = [
    # The hosted capture page (docs/capture.md) and the calls it makes.
    path("capture/session/", hosted.HostedSessionView.as_view(), name="capture-session"),
    path("capture/session/complete/", hosted.HostedCompleteView.as_view(), name="capture-complete"),
    path("capture/session/client-events/", hosted.HostedClientEventView.as_view(), name="capture-client-events"),
    path("capture/<str:token>/", capture_views.capture_page, name="capture-page"),
    path("", include("django_liveness.api.urls")),
]
