"""REST views: authentication, permissions, input validation and HTTP shapes. No business rules."""

import math

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import services, tasks
from ..capture import links as capture_links
from ..common import costly_work
from ..conf import liveness_settings
from ..exceptions import SubjectConflict
from ..models import LivenessSession, Subject
from . import permissions, throttling, uploads
from .client_ip import address_to_bind
from .errors import Conflict, ErrorFormatMixin
from .idempotency import idempotent
from .pagination import Pagination
from .parsers import JSONParser, MultiPartParser
from .schema import extend_schema
from .serializers import (
    AuditEntrySerializer,
    ClientEventSerializer,
    ConsentGrantSerializer,
    ConsentSerializer,
    ErrorSerializer,
    OwnSubjectSerializer,
    ReferenceImageSerializer,
    ReferenceImageUploadSerializer,
    SessionCreatedSerializer,
    SessionCreateSerializer,
    SessionDetailSerializer,
    SessionSerializer,
    SessionWithTokenSerializer,
    SubjectCreateSerializer,
    SubjectSerializer,
)

NO_STORE = {"Cache-Control": "no-store"}
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input (see `fields` and `code`)."),
    401: OpenApiResponse(ErrorSerializer, description="Not authenticated."),
    403: OpenApiResponse(ErrorSerializer, description="Not allowed."),
    404: OpenApiResponse(ErrorSerializer, description="No such object, or not yours."),
}
BODY_ERRORS = {
    413: OpenApiResponse(ErrorSerializer, description="The body is over the server's size or field limits."),
    415: OpenApiResponse(ErrorSerializer, description="Unsupported Content-Type."),
}
IDEMPOTENCY_ERRORS = {
    409: OpenApiResponse(ErrorSerializer, description="The first request with this Idempotency-Key is still running."),
    422: OpenApiResponse(ErrorSerializer, description="This Idempotency-Key was used with another body."),
}
PROVIDER_ERRORS = {
    502: OpenApiResponse(ErrorSerializer, description="The provider refused the request."),
    503: OpenApiResponse(
        ErrorSerializer,
        description="The provider is throttling or unavailable (`provider_throttled`, `provider_unavailable`); see Retry-After.",
    ),
}
# Every 429 and 503 of the API says when to try again.
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    required=True,
    description="Seconds to wait before trying again.",
    response=[429, 503],
)
# The upload's 503 may be a configuration error (`storage_misconfigured`): no time would cure it.
RETRY_AFTER_UPLOAD = [
    OpenApiParameter(
        "Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, required=True,
        description="Seconds to wait before trying again.", response=[429],
    ),
    OpenApiParameter(
        "Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, required=False,
        description="Seconds to wait before trying again; absent for `storage_misconfigured`.", response=[503],
    ),
]
RATE_LIMITED = OpenApiResponse(
    ErrorSerializer,
    description="A rate limit (`throttled`), or a subject locked after too many failed checks (`subject_locked`); "
    "see Retry-After. Nothing was stored.",
)
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255},
    OpenApiParameter.HEADER,
    description="Repeat-safe POST: the same key and body returns the first answer.",
)


class LivenessViewSet(ErrorFormatMixin, throttling.RateLimitMixin, viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    pagination_class = Pagination
    schema = AutoSchema()
    lookup_value_regex = "[^/]+"  # a malformed id is a JSON 404 from the view, not an HTML one


@extend_schema(exclude=True)
class NotFoundView(ErrorFormatMixin, APIView):
    """Any other path below ``subjects/`` and ``sessions/``: the API's JSON 404, not Django's HTML page."""

    authentication_classes = []
    permission_classes = []
    schema = AutoSchema()

    def initial(self, request, *args, **kwargs):
        raise NotFound()


SUBJECT_UPDATE_400 = OpenApiResponse(
    ErrorSerializer,
    description="Invalid input (see `fields` and `code`): with `change_subject`, also a `user` that does not exist "
    "(`does_not_exist`) or an `external_id` or `user` another subject has (`unique`).",
)


def _errors(*codes):
    return {code: (ERRORS | BODY_ERRORS | PROVIDER_ERRORS)[code] for code in codes}


@extend_schema_view(
    list=extend_schema(responses={200: SubjectSerializer(many=True), **_errors(400, 401, 403)}),
    retrieve=extend_schema(responses={200: SubjectSerializer, **_errors(401, 403, 404)}),
    create=extend_schema(
        request=SubjectSerializer,
        responses={
            200: SubjectSerializer,
            201: SubjectSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="Invalid input (see `fields` and `code`), a `user` that does not exist (`does_not_exist`), or "
                "an `external_id` and a `user` of two different subjects (`unique`).",
            ),
            **_errors(401, 403),
            409: OpenApiResponse(ErrorSerializer, description="The subject exists and you may not view it (`subject_exists`)."),
            **_errors(413, 415),
        },
        description="An ordinary user gets the one subject linked to their own account (201, or 200 if it exists), "
        "whatever `user` they send. With `django_liveness.add_subject`, creates a subject for anyone, by `external_id` "
        "or `user`: when a subject with that `external_id`, or else linked to that `user`, exists, the answer is 200 "
        "with it (409 `subject_exists` without `django_liveness.view_subject`). An `external_id` and a `user` that "
        "belong to two different subjects are a 400 `unique`.",
    ),
    update=extend_schema(responses={200: SubjectSerializer, 400: SUBJECT_UPDATE_400, **_errors(401, 403, 404, 413, 415)}),
    partial_update=extend_schema(
        responses={200: SubjectSerializer, 400: SUBJECT_UPDATE_400, **_errors(401, 403, 404, 413, 415)}
    ),
    destroy=extend_schema(
        responses={
            204: None,
            **_errors(401, 403, 404),
            409: OpenApiResponse(ErrorSerializer, description="The subject has sessions (`subject_has_sessions`): erase it instead."),
        },
        description="Delete a subject that has no sessions. A subject with sessions is never deleted (they are the "
        "audit trail): `POST subjects/{id}/erase/` removes its biometric data instead (409 `subject_has_sessions`).",
    ),
)
class SubjectViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, LivenessViewSet
):
    def get_queryset(self):
        return permissions.visible_subjects(self.request.user).order_by("-created_at")

    def get_serializer_class(self):
        if permissions.has_perm(self.request.user, "change_subject"):
            return SubjectSerializer
        return OwnSubjectSerializer

    def get_object(self):
        subject = permissions.get_or_404(self.get_queryset(), self.kwargs["pk"], "subject")
        if self.request.method in ("PUT", "PATCH"):
            permissions.require(self.request.user, subject, "change_subject")
        if self.request.method == "DELETE":
            permissions.require(self.request.user, subject, "delete_subject")
        return subject

    def create(self, request):
        user = request.user
        if not permissions.has_perm(user, "add_subject"):
            serializer = OwnSubjectSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            # Whatever `user` or `external_id` they send: their own subject, always.
            subject, created = services.find_or_create_subject(
                user=user, display_name=serializer.validated_data.get("display_name", "")
            )
        else:
            serializer = SubjectCreateSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            try:
                subject, created = services.find_or_create_subject(**serializer.validated_data)
            except SubjectConflict as error:
                raise ValidationError({"user": [error.message]}, code=error.code) from None
            if not created and not permissions.has_perm(user, "view_subject"):
                # Creating is not seeing: answer that it exists, not what it holds.
                raise Conflict(_("This subject exists."), code="subject_exists")
        status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(self.get_serializer(subject).data, status=status_code)

    def perform_update(self, serializer):
        try:
            serializer.instance = services.update_subject(
                serializer.instance, actor=self.request.user, **serializer.validated_data
            )
        except SubjectConflict as error:  # taken by another subject since the serializer checked
            raise ValidationError({"detail": error.message}, code=error.code) from None

    def perform_destroy(self, subject):
        services.delete_subject(subject, actor=self.request.user)

    @extend_schema(
        methods=["GET"],
        request=None,
        responses={200: ConsentSerializer(many=True), **_errors(401, 403, 404)},
        description="The subject's consent records, newest first.",
    )
    @extend_schema(
        methods=["POST"],
        request=ConsentGrantSerializer,
        responses={
            201: ConsentSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="Invalid input (see `fields`), or the subject's biometric data was erased (`subject_erased`).",
            ),
            **_errors(401, 403, 404, 413, 415),
        },
        description="Record consent to biometric processing.",
    )
    @extend_schema(
        methods=["DELETE"],
        request=None,
        responses={204: None, **_errors(401, 403, 404)},
        description="Withdraw consent: open sessions are canceled, no new ones start, and the next "
        "`liveness_purge` erases the subject's biometric data.",
    )
    @action(detail=True, methods=["get", "post", "delete"], pagination_class=None)  # a plain list, as documented
    def consent(self, request, pk):
        subject = permissions.get_or_404(self.get_queryset(), pk, "subject")
        if request.method == "GET":
            return Response(ConsentSerializer(subject.consents.all(), many=True).data)
        permissions.require(request.user, subject, "change_subject")
        if request.method == "DELETE":
            services.withdraw_consent(subject, actor=request.user)
            return Response(status=status.HTTP_204_NO_CONTENT)
        grant = ConsentGrantSerializer(data=request.data)
        grant.is_valid(raise_exception=True)
        consent = services.grant_consent(subject, actor=request.user, **grant.validated_data)
        return Response(ConsentSerializer(consent).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: SubjectSerializer, **_errors(401, 403, 404)},
        description="Erase the subject's biometric data now (reference images, face data in results, provider "
        "sessions) and block new sessions; outcomes and timestamps stay for the audit trail.",
    )
    @action(detail=True, methods=["post"])
    def erase(self, request, pk):
        subject = permissions.get_or_404(self.get_queryset(), pk, "subject")
        permissions.require(request.user, subject, "delete_subject")
        services.erase_subject(subject, actor=request.user)
        subject.refresh_from_db()
        return Response(self.get_serializer(subject).data)


@extend_schema_view(
    list=extend_schema(responses={200: ReferenceImageSerializer(many=True), **_errors(400, 401, 403, 404)}),
    retrieve=extend_schema(responses={200: ReferenceImageSerializer, **_errors(401, 403, 404)}),
    create=extend_schema(
        request={"multipart/form-data": ReferenceImageUploadSerializer},
        parameters=[IDEMPOTENCY_HEADER, *RETRY_AFTER_UPLOAD],
        responses={
            200: OpenApiResponse(ReferenceImageSerializer, description="A repeat with the same Idempotency-Key: the image."),
            201: ReferenceImageSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="Invalid input (see `fields`: `image` with `empty`, `too_large`, `unsupported_format`, "
                "`corrupt` ...), no valid consent (`consent_required`), or the subject's biometric data was erased "
                "(`subject_erased`).",
            ),
            **_errors(401, 403, 404),
            **IDEMPOTENCY_ERRORS,
            **_errors(413, 415),
            429: RATE_LIMITED,
            503: OpenApiResponse(
                ErrorSerializer,
                description="The image storage failed (`storage_unavailable`, with Retry-After), or cannot be written at "
                "all (`storage_misconfigured`: a configuration error named by `manage.py check`, without Retry-After); "
                "nothing was stored.",
            ),
        },
        description="Upload a reference photo (multipart field `image`); it becomes the subject's active one.",
    ),
    destroy=extend_schema(responses={204: None, **_errors(401, 403, 404)}),
)
class ReferenceImageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, LivenessViewSet):
    serializer_class = ReferenceImageSerializer
    parser_classes = [MultiPartParser, FormParser]

    def initialize_request(self, request, *args, **kwargs):
        uploads.limit_body(request)  # first: session authentication's CSRF check already reads the body
        return super().initialize_request(request, *args, **kwargs)

    def get_subject(self):
        if not hasattr(self, "_subject"):
            queryset = permissions.visible_subjects(self.request.user)
            self._subject = permissions.get_or_404(queryset, self.kwargs["subject_pk"], "subject")
        return self._subject

    def get_queryset(self):
        images = permissions.visible_images(self.request.user, self.get_subject()).order_by("-created_at")
        return services.with_duplicate_flags(images)

    def get_object(self):
        image = permissions.get_or_404(self.get_queryset(), self.kwargs["pk"], "reference image")
        if self.request.method == "DELETE":
            permissions.require(self.request.user, image.subject, "delete_referenceimage")
        return image

    def create(self, request, subject_pk):
        subject = self.get_subject()
        permissions.require(request.user, subject, "add_referenceimage")
        if len(request.FILES) > 1 or len(request.FILES.getlist("image")) > 1:
            raise ValidationError({"image": [_("Send exactly one file, in the field 'image'.")]}, code="too_many_files")
        upload = ReferenceImageUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)

        def store():
            with self.rate_limits(throttling.UploadUserThrottle(), throttling.UploadSubjectThrottle(subject)):
                image = services.add_reference_image(subject, upload.validated_data["image"], actor=request.user)
            return Response(ReferenceImageSerializer(image).data, status=status.HTTP_201_CREATED)

        def replay(pk):
            # The key is the caller's own: answer as the first time, whatever "view" permissions they hold.
            image = permissions.get_or_404(services.with_duplicate_flags(subject.reference_images.all()), pk, "reference image")
            return Response(ReferenceImageSerializer(image).data)

        return idempotent(f"upload:{subject.pk}", store, request, replay)

    def perform_destroy(self, image):
        services.delete_reference_image(image, actor=self.request.user)


SESSION_FILTERS = {
    "subject": None,
    "status": LivenessSession.Status.values,
    "outcome": LivenessSession.Outcome.values,
    "provider_outcome": LivenessSession.Outcome.values,
    "kind": LivenessSession.Kind.values,
}


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("subject", OpenApiTypes.UUID),
            OpenApiParameter("status", OpenApiTypes.STR, enum=LivenessSession.Status.values),
            OpenApiParameter(
                "outcome",
                OpenApiTypes.STR,
                enum=LivenessSession.Outcome.values,
                description="The outcome that counts (after review), as the answer's `outcome`.",
            ),
            OpenApiParameter(
                "provider_outcome",
                OpenApiTypes.STR,
                enum=LivenessSession.Outcome.values,
                description="The provider's outcome (before review), as the answer's `provider_outcome`.",
            ),
            OpenApiParameter("kind", OpenApiTypes.STR, enum=LivenessSession.Kind.values),
        ],
        responses={200: SessionSerializer(many=True), **_errors(400, 401, 403)},
    ),
    retrieve=extend_schema(
        responses={200: SessionWithTokenSerializer, **_errors(401, 403, 404)},
        description="`auth_token` is included only for the user who started the session, while the token is valid.",
    ),
    create=extend_schema(
        request=SessionCreateSerializer,
        parameters=[IDEMPOTENCY_HEADER, RETRY_AFTER],
        responses={
            200: OpenApiResponse(
                SessionCreatedSerializer,
                description="A repeat with the same Idempotency-Key: the session as it is now (`auth_token` and "
                "`capture_url` only while the token is valid and the session open).",
            ),
            201: SessionCreatedSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="Invalid input (see `fields`), or a rule about the subject: no valid consent "
                "(`consent_required`), no active reference image for a verify session (`no_reference_image`), a "
                "reference image the service rated low (`reference_quality_low`) or refused (`invalid_image`), "
                "biometric data erased (`subject_erased`); a `return_url` on another host (`return_url_not_allowed`); "
                "with `LIVENESS['BIND_CLIENT_IP']`, a client address that is not one (`client_ip_unknown`).",
            ),
            **_errors(401, 404),
            403: OpenApiResponse(
                ErrorSerializer,
                description="Not allowed; `session_option_not_allowed`: `operation_mode`, `device_correlation_id`, "
                "`device_correlation_id_set_in_client` or `user_correlation_id_set_in_client` sent without "
                "`django_liveness.add_livenesssession`.",
            ),
            **IDEMPOTENCY_ERRORS,
            **_errors(413, 415),
            429: RATE_LIMITED,
            **PROVIDER_ERRORS,
        },
        description="Create a session at the provider and return its auth token for the frontend (`Cache-Control: no-store`). "
        "A repeat with the same `Idempotency-Key` answers with the session as it is now: with `auth_token` only while "
        "the token is valid and the session open.",
    ),
    destroy=extend_schema(
        responses={
            204: None,
            **_errors(401, 403, 404),
            409: OpenApiResponse(ErrorSerializer, description="The session already has a result (`invalid_state`)."),
        },
        description="Cancel the session and delete it at the provider. The session stays readable, with the status "
        "`canceled` (the audit trail); canceling a canceled session again is a 204.",
    ),
)
class SessionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, LivenessViewSet):

    def get_serializer_class(self):
        return SessionSerializer

    def get_queryset(self):
        return permissions.visible_sessions(self.request.user).order_by("-created_at")

    def filter_queryset(self, queryset):
        for name, allowed in SESSION_FILTERS.items():
            value = self.request.query_params.get(name)
            if value is None:
                continue
            if allowed is not None and value not in allowed:
                raise ValidationError(
                    {name: [_("Must be one of: %(choices)s.") % {"choices": ", ".join(allowed)}]}, code="invalid_choice"
                )
            if name == "subject":
                try:
                    value = Subject._meta.pk.to_python(value)
                except Exception:
                    raise ValidationError({name: [_("Must be a UUID.")]}, code="invalid") from None
            if name == "outcome":  # the outcome that counts, in the query: no per-row work
                queryset = queryset.with_effective_outcome(value)
            elif name == "provider_outcome":
                queryset = queryset.filter(outcome=value)
            else:
                queryset = queryset.filter(**{name: value})
        return queryset

    def get_object(self):
        return permissions.get_or_404(self.get_queryset(), self.kwargs["pk"], "session")

    def shows_token(self, session):
        return session.started_by_id == self.request.user.pk and session.token_is_valid() and not session.is_final

    def retrieve(self, request, pk):
        session = self.get_object()
        if self.shows_token(session):
            return Response(SessionWithTokenSerializer(session).data, headers=NO_STORE)
        return Response(SessionDetailSerializer(session).data)

    def create(self, request):
        serializer = SessionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        subject = permissions.get_or_404(permissions.visible_subjects(request.user), data["subject"], "subject")
        permissions.require(request.user, subject, "add_livenesssession")
        chosen = serializer.server_chosen_options()
        if chosen and not permissions.may_choose_session_options(request.user):
            raise permissions.PermissionDenied(
                _(
                    "%(options)s: the server chooses these; sending them needs the "
                    "django_liveness.add_livenesssession permission."
                )
                % {"options": ", ".join(chosen)},
                code="session_option_not_allowed",
            )
        if "return_url" in data and not capture_links.is_allowed_return_url(data["return_url"], request):
            raise ValidationError(
                {
                    "return_url": [
                        _("Must be a path on this site or a URL on a host of LIVENESS['CAPTURE']['RETURN_URL_HOSTS'].")
                    ]
                },
                code="return_url_not_allowed",
            )

        def start():
            limits = (throttling.SessionCreateUserThrottle(), throttling.SessionCreateSubjectThrottle(subject))
            with self.rate_limits(*limits):
                session = services.start_session(
                    subject,
                    verify=data["verify"],
                    operation_mode=data.get("operation_mode"),
                    device_correlation_id=data.get("device_correlation_id", ""),
                    device_correlation_id_set_in_client=data["device_correlation_id_set_in_client"],
                    return_url=data.get("return_url", ""),
                    started_by=request.user,
                    user_agent=request.headers.get("User-Agent", ""),
                    user_correlation_id_set_in_client=data["user_correlation_id_set_in_client"],
                    client_ip=address_to_bind(request),
                )
            created = SessionCreatedSerializer(session, context={"request": request}).data
            return Response(created, status=status.HTTP_201_CREATED, headers=NO_STORE)

        def replay(pk):
            # The key is the caller's own: answer as the first time, whatever "view" permissions they hold.
            session = permissions.get_or_404(subject.sessions.select_related("subject"), pk, "session")
            replayed = SessionCreatedSerializer(session, context={"request": request}).data
            if not self.shows_token(session):
                del replayed["auth_token"], replayed["capture_url"]
            return Response(replayed, headers=NO_STORE)

        return idempotent("session_create", start, request, replay)

    def perform_destroy(self, session):
        permissions.require(self.request.user, session.subject, "delete_livenesssession")
        services.cancel_session(session, actor=self.request.user)

    @extend_schema(
        request=None,
        parameters=[RETRY_AFTER],
        responses={
            200: SessionDetailSerializer,
            202: OpenApiResponse(
                SessionDetailSerializer, description="With `COMPLETE_IN_BACKGROUND`: the fetch is queued; poll the session."
            ),
            **_errors(401, 403, 404),
            429: OpenApiResponse(ErrorSerializer, description="`THROTTLE_RATES['complete_user']`; see Retry-After."),
            **PROVIDER_ERRORS,
        },
        description="The frontend reports that the capture finished: the server fetches the result from the provider "
        "(never from this request) and returns the session. Repeating it is harmless: at most one fetch per session per "
        "`COMPLETE_MIN_INTERVAL_SECONDS`; inside that window the answer is the stored session, and an open session's "
        "answer has `Retry-After` (the seconds until the next fetch). With the setting `COMPLETE_IN_BACKGROUND` the "
        "fetch runs as a task and the answer is 202 while it has not run yet.",
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk):
        session = self.get_object()
        permissions.require(request.user, session.subject, "change_livenesssession")
        return complete_session(self, session, throttling.CompleteUserThrottle(), actor=request.user)

    @extend_schema(
        request=ClientEventSerializer,
        parameters=[RETRY_AFTER],
        responses={
            201: ClientEventSerializer,
            **_errors(400, 401, 403, 404, 413, 415),
            429: OpenApiResponse(ErrorSerializer, description="The session's rate limit (`throttled`); see Retry-After."),
        },
        description="The frontend reports what the person's browser saw (camera denied, an SDK error ...); it is kept "
        "in the session's event log and shown in the admin. Only the user who started the session; others get 404. "
        "Throttled per session (`THROTTLE_RATES['client_event_session']`).",
    )
    @action(detail=True, methods=["post"], url_path="client-events")
    def client_events(self, request, pk):
        session = self.get_object()
        if session.started_by_id != request.user.pk:
            raise NotFound()
        return answer_client_event(self, session, actor=request.user)

    @extend_schema(
        parameters=[RETRY_AFTER], responses={200: AuditEntrySerializer(many=True), **_errors(401, 403, 404), **PROVIDER_ERRORS}
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def audit(self, request, pk):
        session = self.get_object()
        if not permissions.may_read_audit(request.user):
            raise permissions.PermissionDenied(
                _("Audit entries need view_livenesssession plus staff or view_provider_audit.")
            )
        entries = services.get_audit_entries(session)
        return Response(AuditEntrySerializer(entries, many=True).data)


def complete_session(view, session, limit, *, actor):
    """The answer to "the capture finished" (the API's complete/ and the hosted page's): fetch the
    result now, or queue the fetch with COMPLETE_IN_BACKGROUND and answer 202 while it has not run.

    Within COMPLETE_MIN_INTERVAL_SECONDS of the last fetch the answer is the stored state, without a
    provider call (``services.refresh_session``) or a task, and the rate ``limit`` is not asked; it
    counts only the requests that made a provider call. An open session's answer says in
    Retry-After when a fetch is next possible."""
    due = session.fetch_is_due()
    with view.rate_limits(*([limit] if due else []), count_success=False):
        if not liveness_settings.COMPLETE_IN_BACKGROUND or session.is_final:
            session = services.refresh_session(session, actor=actor)
            code = status.HTTP_200_OK
        else:
            if due:
                costly_work.spend()  # the task's provider call, wherever it runs
                tasks.refresh_session_task.enqueue(str(session.pk))
            # Read again: with the immediate task backend, the task has refreshed it already.
            session = LivenessSession.objects.select_related("subject").get(pk=session.pk)
            code = status.HTTP_200_OK if session.is_final else status.HTTP_202_ACCEPTED
    headers = {} if session.is_final else {"Retry-After": str(_seconds_to_next_fetch(session))}
    return Response(SessionDetailSerializer(session).data, status=code, headers=headers)


def _seconds_to_next_fetch(session):
    """Whole seconds, at least 1, until complete/ may ask the provider about ``session`` again."""
    next_fetch_at = session.next_fetch_at()
    left = 0 if next_fetch_at is None else (next_fetch_at - timezone.now()).total_seconds()
    return max(1, math.ceil(left))


def answer_client_event(view, session, *, actor):
    """Store one report of the frontend (client-events/ of the API and of the hosted page)."""
    serializer = ClientEventSerializer(data=view.request.data)
    serializer.is_valid(raise_exception=True)
    with view.rate_limits(throttling.ClientEventThrottle(session)):
        services.record_client_event(session, actor=actor, **serializer.validated_data)
    return Response(serializer.data, status=status.HTTP_201_CREATED)
