"""Mount the emulator in a project: ``path("emulator/", include("django_liveness.emulator.urls"))``.

The SDK endpoint is then ``http://<host>/emulator``. Test mode only: never in production.
"""

from django.urls import path

from . import views

app_name = "liveness_emulator"

urlpatterns = [
    path("face/<str:api_version>/<path:path>", views.face, name="face"),
    path("faults", views.fault_control, name="faults"),
]
