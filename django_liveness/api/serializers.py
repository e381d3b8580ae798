"""What the API reads and writes. Provider results, status and outcome are never writable.

Input is read as strictly as the schema describes it: a string field takes a string (not the
number 0), a user id a whole number (not 1.5).
"""

from django.db import models
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils import html

from ..capture import links as capture_links
from ..models import Consent, LivenessAttempt, LivenessSession, ReferenceImage, Subject
from ..services.capture import CLIENT_EVENT_CODES, CLIENT_EVENT_MESSAGE_MAX


class StrictCharField(serializers.CharField):
    """A string, as the schema says; DRF's CharField also turns numbers into strings."""

    def get_value(self, dictionary):
        # A form's "" is the empty string, as in JSON (DRF reads it as "not sent" for an optional field).
        if html.is_html_input(dictionary) and dictionary.get(self.field_name) == "" and not self.allow_null:
            return ""
        return super().get_value(dictionary)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def form_null(field, data):
    """A form (multipart or urlencoded) cannot send null: it sends the text "null", read as null
    for a nullable field (DRF already reads "" so for related fields)."""
    form = hasattr(getattr(field.root, "initial_data", None), "getlist")
    return None if form and field.allow_null and data == "null" else data


class StrictPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A whole-number id; DRF would read 1.5 (or true) as 1."""

    def run_validation(self, data=serializers.empty):
        return super().run_validation(form_null(self, data))

    def to_internal_value(self, data):
        if isinstance(data, (bool, float)) or not isinstance(data, (int, str)):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


class ModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
    }
    serializer_related_field = StrictPrimaryKeyRelatedField


# DRF drops allow_blank from read-only fields, so the schema's enums would leave out the "" these
# fields hold until there is a result.
BLANK_CHOICE = {"allow_blank": True}


class SubjectSerializer(ModelSerializer):
    class Meta:
        model = Subject
        fields = ["id", "external_id", "display_name", "user", "verified_at", "created_at"]
        read_only_fields = ["id", "verified_at", "created_at"]
        extra_kwargs = {"external_id": {"required": False}, "user": {"required": False}}


class SubjectCreateSerializer(SubjectSerializer):
    """For apps creating subjects: an ``external_id`` or ``user`` in use finds that subject, so no unique checks."""

    class Meta(SubjectSerializer.Meta):
        extra_kwargs = {
            "external_id": {"required": False, "validators": []},
            "user": {"required": False, "validators": []},
        }


class OwnSubjectSerializer(SubjectSerializer):
    """For ordinary users: the subject is always their own; only the display name is theirs to set."""

    class Meta(SubjectSerializer.Meta):
        read_only_fields = ["id", "external_id", "user", "verified_at", "created_at"]

    def validate(self, attrs):
        # `external_id` and `user` are ignored here, but read as strictly as the schema describes them:
        # a body that breaks the schema is a 400 for everyone, not a 200.
        shapes = {"external_id": StrictCharField(min_length=1, max_length=255), "user": serializers.IntegerField(allow_null=True)}
        errors = {}
        for name, shape in shapes.items():
            if name in self.initial_data:
                shape.bind(name, self)
                try:
                    shape.run_validation(form_null(shape, self.initial_data[name]))
                except serializers.ValidationError as error:
                    errors[name] = error.detail
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


REFERENCE_WARNINGS = {
    "low_quality": "The service rated the photo low for face recognition (known once a verify session used it).",
    "duplicate_photo": "The same photo (SHA-256) is a reference image of another subject.",
}


class ReferenceImageSerializer(ModelSerializer):
    warnings = serializers.SerializerMethodField(
        help_text="Why a reviewer may want to look at this photo: `low_quality`, `duplicate_photo`."
    )

    class Meta:
        model = ReferenceImage
        fields = [
            "id",
            "content_type",
            "size",
            "width",
            "height",
            "sha256",
            "is_active",
            "quality_for_recognition",
            "warnings",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {"quality_for_recognition": BLANK_CHOICE}

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=list(REFERENCE_WARNINGS))))
    def get_warnings(self, image):
        warnings = []
        if image.quality_for_recognition == ReferenceImage.Quality.LOW:
            warnings.append("low_quality")
        if getattr(image, "is_duplicate", False):
            warnings.append("duplicate_photo")
        return warnings


class ReferenceImageUploadSerializer(serializers.Serializer):
    image = serializers.FileField(allow_empty_file=False, help_text="JPEG, PNG, GIF or BMP, at most 6 MB.")


# Create options that steer the provider's checks: the server chooses them (settings, the subject's
# own device id); only a caller with django_liveness.add_livenesssession may send them (a true/non-empty value).
SERVER_CHOSEN_OPTIONS = (
    "operation_mode",
    "device_correlation_id",
    "device_correlation_id_set_in_client",
    "user_correlation_id_set_in_client",
)
SERVER_CHOSEN = " Needs `django_liveness.add_livenesssession` (apps, staff); anyone else gets a 403."


class SessionCreateSerializer(serializers.Serializer):
    subject = serializers.UUIDField()
    verify = serializers.BooleanField(default=False, help_text="Liveness with verification against the subject's active reference image.")
    operation_mode = serializers.ChoiceField(
        choices=LivenessSession.OperationMode.choices,
        required=False,
        help_text="By default `LIVENESS['OPERATION_MODE']`." + SERVER_CHOSEN,
    )
    device_correlation_id = StrictCharField(
        max_length=64,
        required=False,
        allow_blank=False,
        help_text="The device's id for the Face service's abuse detection; by default the subject's own, the same "
        "for all its sessions." + SERVER_CHOSEN,
    )
    device_correlation_id_set_in_client = serializers.BooleanField(
        default=False,
        help_text="The frontend's SDK sets the device correlation id: the service is sent "
        "`deviceCorrelationIdSetInClient` and no id." + SERVER_CHOSEN,
    )
    user_correlation_id_set_in_client = serializers.BooleanField(
        default=False,
        help_text="Face API v1.3-preview.1, liveness sessions: the frontend's SDK sets the user correlation id, and "
        "the service is sent `userCorrelationIdSetInClient` instead of the subject's own id (ignored by older "
        "versions and by verify sessions)." + SERVER_CHOSEN,
    )
    return_url = StrictCharField(
        max_length=2000,
        required=False,
        allow_blank=False,
        help_text="Where the hosted capture page (`capture_url`) sends the person once the check is done: a path on "
        "this site, or a URL on a host of `LIVENESS['CAPTURE']['RETURN_URL_HOSTS']`.",
    )

    def server_chosen_options(self):
        """The server-chosen options this request sets (``SERVER_CHOSEN_OPTIONS``)."""
        return [name for name in SERVER_CHOSEN_OPTIONS if self.validated_data.get(name)]

    def validate(self, data):
        if data["device_correlation_id_set_in_client"] and "device_correlation_id" in data:
            raise serializers.ValidationError(
                {"device_correlation_id": [_("Leave it out when the frontend sets the device correlation id.")]},
                code="device_correlation_id_set_in_client",
            )
        return data


class VerificationSerializer(serializers.Serializer):
    is_identical = serializers.BooleanField()
    match_confidence = serializers.FloatField()


class SessionErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


def verification_of(row):
    """A session's or an attempt's verification result, or None for liveness only."""
    if row.is_identical is None:
        return None
    return {"is_identical": row.is_identical, "match_confidence": row.match_confidence}


class SessionSerializer(ModelSerializer):
    subject = serializers.UUIDField(source="subject_id", read_only=True)
    verification = serializers.SerializerMethodField()
    # One meaning per word, as in webhooks, the admin and the dashboard: `outcome` counts the review.
    outcome = serializers.SerializerMethodField(
        help_text="The outcome that counts: a staff review overrides the provider's (approved: `passed`, "
        "rejected: `failed`). Empty until there is a result."
    )
    provider_outcome = serializers.ChoiceField(
        source="outcome",
        choices=LivenessSession.Outcome.choices,
        allow_blank=True,
        read_only=True,
        help_text="What the provider decided, before any review. Empty until there is a result.",
    )
    error = serializers.SerializerMethodField()
    abuse_detected = serializers.BooleanField(
        read_only=True,
        help_text="The Face service's abuse monitoring (v1.3-preview.1) flagged an attempt: the session does not "
        "pass until staff approve it (it waits in the review queue).",
    )
    pending = serializers.ListField(
        source="pending_after_answer",
        child=serializers.ChoiceField(choices=["session_image", "remote_deletion"]),
        read_only=True,
        help_text="What the app still does at the provider after the result (in the background, or by "
        "`liveness_sync`): `session_image` (fetching the capture kept as evidence), `remote_deletion` "
        "(deleting the provider's copy). Empty when nothing is pending.",
    )

    class Meta:
        model = LivenessSession
        fields = [
            "id",
            "subject",
            "kind",
            "status",
            "liveness_decision",
            "verification",
            "outcome",
            "provider_outcome",
            "review_status",
            "abuse_detected",
            "created_at",
            "completed_at",
            "auth_token_expires_at",
            "error",
            "pending",
        ]
        read_only_fields = fields
        extra_kwargs = {"liveness_decision": BLANK_CHOICE, "review_status": BLANK_CHOICE}

    @extend_schema_field(VerificationSerializer(allow_null=True))
    def get_verification(self, session):
        return verification_of(session)

    @extend_schema_field(serializers.ChoiceField(choices=LivenessSession.Outcome.choices, allow_blank=True))
    def get_outcome(self, session):
        return session.effective_outcome

    @extend_schema_field(SessionErrorSerializer(allow_null=True))
    def get_error(self, session):
        if session.status != LivenessSession.Status.FAILED:
            return None
        return {"code": session.error_code, "message": session.error_message}


class AttemptSerializer(ModelSerializer):
    """One frontend call as the provider reported it (no image id, digest or face box)."""

    # Not "status": a second enum of that name would collide with the session's in the schema.
    attempt_status = serializers.ChoiceField(source="status", choices=LivenessAttempt.Status.choices, read_only=True)
    verification = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()

    class Meta:
        model = LivenessAttempt
        fields = ["attempt_id", "attempt_status", "liveness_decision", "verification", "error"]
        read_only_fields = fields
        extra_kwargs = {"liveness_decision": BLANK_CHOICE}

    @extend_schema_field(VerificationSerializer(allow_null=True))
    def get_verification(self, attempt):
        return verification_of(attempt)

    @extend_schema_field(SessionErrorSerializer(allow_null=True))
    def get_error(self, attempt):
        if not attempt.error_code:
            return None
        return {"code": attempt.error_code, "message": attempt.error_message}


class SessionDetailSerializer(SessionSerializer):
    """One session with its attempts (stored when the session ends with a result or a failure)."""

    attempts = serializers.SerializerMethodField()

    class Meta(SessionSerializer.Meta):
        fields = SessionSerializer.Meta.fields + ["attempts"]

    @extend_schema_field(AttemptSerializer(many=True))
    def get_attempts(self, session):
        if session.status not in (LivenessSession.Status.COMPLETED, LivenessSession.Status.FAILED):
            return []  # attempts are stored only then: no query for an open session
        if session.attempts_summary is None:  # stored before the summary existed
            return AttemptSerializer(session.attempts.all(), many=True).data
        return AttemptSerializer([LivenessAttempt(**item) for item in session.attempts_summary], many=True).data


def token_field():
    # Not read_only: drf-spectacular marks read-only fields required, and most answers have no token.
    return serializers.CharField(
        required=False,
        help_text="Hand it to the frontend's capture SDK. Only for the user who started the session, while the "
        "token is valid and the session open.",
    )


class SessionWithTokenSerializer(SessionDetailSerializer):
    """The session as its starter sees it while the token is valid: with ``auth_token``."""

    auth_token = token_field()

    class Meta(SessionDetailSerializer.Meta):
        fields = SessionDetailSerializer.Meta.fields + ["auth_token"]


class SessionCreatedSerializer(ModelSerializer):
    subject = serializers.UUIDField(source="subject_id", read_only=True)
    # Both left out of an Idempotency-Key replay once the token is no longer valid.
    auth_token = token_field()
    capture_url = serializers.SerializerMethodField(
        help_text="A one-time, short-lived link to a capture page served by this app: open it in a phone browser or "
        "a WebView to run the check without writing a frontend (docs/capture.md). A credential, like `auth_token`."
    )

    class Meta:
        model = LivenessSession
        fields = ["id", "subject", "kind", "status", "auth_token", "capture_url", "auth_token_expires_at", "created_at"]
        read_only_fields = ["id", "subject", "kind", "status", "auth_token_expires_at", "created_at"]

    def get_capture_url(self, session) -> str:
        return capture_links.capture_url(self.context["request"], session)


class ClientEventSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=CLIENT_EVENT_CODES)
    message = StrictCharField(max_length=CLIENT_EVENT_MESSAGE_MAX, required=False, allow_blank=True, default="")


class AuditEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    session_id = serializers.CharField()
    request_id = serializers.CharField()
    client_request_id = serializers.CharField()
    received_at = serializers.DateTimeField(allow_null=True)
    request = serializers.DictField()
    response = serializers.DictField()
    digest = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False, help_text="Validation errors by field."
    )


class ConsentSerializer(ModelSerializer):
    class Meta:
        model = Consent
        fields = ["id", "policy_version", "text_sha256", "purpose", "granted_at", "withdrawn_at"]
        read_only_fields = fields


class ConsentGrantSerializer(serializers.Serializer):
    policy_version = StrictCharField(max_length=64)
    text = StrictCharField(help_text="The consent text the person agreed to; stored as its SHA-256.")
    purpose = StrictCharField(max_length=255)
