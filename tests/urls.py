from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("emulator/", include("django_liveness.emulator.urls")),
    path("api/liveness/", include("django_liveness.urls")),
]
