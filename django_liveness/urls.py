"""Include in your project: ``path("api/liveness/", include("django_liveness.urls"))``."""

from django.urls import include, path

app_name = "django_liveness"

urlpatterns = [path("", include("django_liveness.api.urls"))]
