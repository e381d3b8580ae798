from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from demo import views

urlpatterns = [
    path("", views.index, name="index"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/liveness/", include("django_liveness.urls")),
]

if settings.EMULATOR_MODE:
    # The emulated Face service, on the same server: development and demos only.
    urlpatterns.append(path("emulator/", include("django_liveness.emulator.urls")))
