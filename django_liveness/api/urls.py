from django.urls import path, re_path
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from . import views
from .schema import SchemaView

router = SimpleRouter()
router.register("subjects", views.SubjectViewSet, basename="subject")
router.register(r"subjects/(?P<subject_pk>[^/]+)/reference-images", views.ReferenceImageViewSet, basename="reference-image")
router.register("sessions", views.SessionViewSet, basename="session")


def only_this_api(endpoints, **kwargs):
    """Schema preprocessing hook: keep django-liveness's endpoints, whatever else the host serves."""
    return [endpoint for endpoint in endpoints if endpoint[3].cls.__module__ == views.__name__]


schema_view = SchemaView.as_view(
    permission_classes=[AllowAny],
    custom_settings={
        "TITLE": "django-liveness API",
        "DESCRIPTION": "Liveness sessions (with verification) for apps and frontends. See docs/api.md.",
        "PREPROCESSING_HOOKS": [f"{__name__}.only_this_api"],
        "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "django_liveness.api.schema.request_rules"],
        # `outcome` and `provider_outcome` share one set of values: one enum, named once.
        "ENUM_NAME_OVERRIDES": {"OutcomeEnum": "django_liveness.models.LivenessSession.Outcome"},
        "COMPONENT_SPLIT_REQUEST": True,
    },
)

urlpatterns = [
    path("schema/", schema_view, name="schema"),
    *router.urls,
    # Last: other paths below the API's own prefixes are a JSON 404. Only with a trailing slash, so that
    # APPEND_SLASH still redirects, and only these prefixes, so that a host's other URLs stay its own.
    re_path(r"^(?:subjects|sessions)/.*/$", views.NotFoundView.as_view()),
]
