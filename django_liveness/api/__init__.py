"""The REST API: ``path("api/liveness/", include("django_liveness.urls"))``. See docs/api.md."""
