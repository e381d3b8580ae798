"""Subjects, their reference images and consent, liveness sessions, and the event log."""

import hashlib
import uuid
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _

from .conf import liveness_settings
from .db.encryption import EncryptedTextField


def capture_browser_hash(secret):
    """What is stored of a hosted page's browser secret (a random 256-bit value: a plain hash is enough)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ReferenceImageStorage(Storage):
    """Forwards everything to the storage named by LIVENESS['REFERENCE_IMAGE_STORAGE'], at call time.

    Django calls a FileField's storage callable when the model class is built, and checks that it
    got a Storage: this stand-in is one, so no setting is read on import, and it follows setting
    changes (``override_settings`` in tests) without a restart.
    """

    def __getattribute__(self, name):
        return getattr(storages[liveness_settings.REFERENCE_IMAGE_STORAGE], name)


_reference_image_storage = ReferenceImageStorage()


def reference_image_storage():
    return _reference_image_storage


def reference_image_path(instance, filename):
    # A random name: the uploaded file name can hold personal data and must never be used.
    suffix = PurePath(filename).suffix.lower()
    return f"liveness/reference-images/{uuid.uuid4().hex}{suffix}"


def session_image_path(instance, filename):
    suffix = PurePath(filename).suffix.lower()
    return f"liveness/session-images/{uuid.uuid4().hex}{suffix}"


def _new_external_id():
    return uuid.uuid4().hex


class Subject(models.Model):
    """The person being verified, optionally linked to a user account."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="liveness_subject",
    )
    external_id = models.CharField(
        max_length=255,
        unique=True,
        default=_new_external_id,
        help_text=_("Your own identifier for this person (customer number ...)."),
    )
    display_name = models.CharField(max_length=255, blank=True)
    verified_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Last time this person passed liveness with verification.")
    )
    erased_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Biometric data erased; no new sessions are allowed.")
    )
    # Sent as every session's deviceCorrelationId, so that the Face service sees one device, not a
    # new one per session (its abuse detection works per device). Made at the first session.
    device_correlation_id = models.CharField(max_length=64, blank=True, editable=False)
    # Sent as the userCorrelationId of its liveness sessions (Face API v1.3-preview.1: the service's
    # rate limiting and anti-hammering per person). A random UUID made at the first such session,
    # never the external id or the primary key; erased with the biometric data (services.abuse).
    user_correlation_id = models.CharField(max_length=64, blank=True, editable=False)
    locked_until = models.DateTimeField(
        null=True, blank=True, editable=False, help_text=_("Too many failed checks: no new sessions until then.")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("subject")

    def __str__(self):
        return self.display_name or self.external_id


class Consent(models.Model):
    """A subject's consent to biometric processing under one version of the policy."""

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="consents")
    policy_version = models.CharField(max_length=64)
    text_sha256 = models.CharField(max_length=64, help_text=_("SHA-256 of the consent text shown."))
    purpose = models.CharField(max_length=255)
    granted_at = models.DateTimeField(default=timezone.now)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-granted_at"]
        indexes = [models.Index(fields=["subject", "withdrawn_at"])]

    def __str__(self):
        return f"{self.subject} / {self.policy_version}"

    @property
    def is_valid(self):
        return self.withdrawn_at is None


class ReferenceImage(models.Model):
    """A face photo of a subject used for liveness with verification."""

    class Quality(models.TextChoices):
        LOW = "low", _("low")
        MEDIUM = "medium", _("medium")
        HIGH = "high", _("high")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="reference_images")
    file = models.FileField(storage=reference_image_storage, upload_to=reference_image_path, max_length=255)
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField(help_text=_("Bytes."))
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)  # finds the same photo on another subject
    is_active = models.BooleanField(default=True)
    face_rectangle = models.JSONField(null=True, blank=True)
    quality_for_recognition = models.CharField(max_length=8, choices=Quality.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject"],
                condition=models.Q(is_active=True),
                name="liveness_one_active_reference_image",
            )
        ]

    def __str__(self):
        return f"{self.subject} {self.width}x{self.height} {self.content_type}"


class LivenessSessionQuerySet(models.QuerySet):
    def with_effective_outcome(self, outcome):
        """The sessions whose outcome that counts (``LivenessSession.effective_outcome``) is ``outcome``."""
        return self.filter(LivenessSession.effective_outcome_q(outcome))


class LivenessSession(models.Model):
    """One liveness check (optionally with verification) at the provider, and its local state."""

    class Kind(models.TextChoices):
        LIVENESS = "liveness", _("liveness")
        LIVENESS_WITH_VERIFY = "liveness_with_verify", _("liveness with verify")

    class Status(models.TextChoices):
        CREATED = "created", _("created")
        STARTED = "started", _("started")
        COMPLETED = "completed", _("completed")
        EXPIRED = "expired", _("expired")
        CANCELED = "canceled", _("canceled")
        FAILED = "failed", _("failed")

    class Decision(models.TextChoices):
        REALFACE = "realface", _("real face")
        SPOOFFACE = "spoofface", _("spoof")
        UNCERTAIN = "uncertain", _("uncertain")

    class Outcome(models.TextChoices):
        PASSED = "passed", _("passed")
        FAILED = "failed", _("failed")
        NEEDS_REVIEW = "needs_review", _("needs review")

    class OperationMode(models.TextChoices):
        PASSIVE = "Passive", "Passive"
        PASSIVE_ACTIVE = "PassiveActive", "PassiveActive"

    class ReviewStatus(models.TextChoices):
        NONE = "", _("not reviewed")
        PENDING = "pending", _("flagged for review")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")

    FINAL_STATUSES = frozenset({Status.COMPLETED, Status.EXPIRED, Status.CANCELED, Status.FAILED})
    OPEN_STATUSES = frozenset({Status.CREATED, Status.STARTED})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="sessions")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    reference_image = models.ForeignKey(
        ReferenceImage, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    operation_mode = models.CharField(max_length=16, choices=OperationMode.choices)
    device_correlation_id = models.CharField(max_length=64, blank=True)
    # The person's browser and OS family (from the User-Agent, nothing finer): the dashboard's rates
    # by platform (client_platform.py; docs/privacy.md).
    client_browser = models.CharField(max_length=64, blank=True, editable=False)
    client_os = models.CharField(max_length=64, blank=True, editable=False)
    provider_session_id = models.CharField(max_length=128, blank=True, db_index=True)
    # Handed to the frontend only; encrypted at rest (encryption.py), cleared once the session is
    # final. Never logged or shown in admin. Lost with its key, it reads as "" (the session cannot go on).
    auth_token = EncryptedTextField(blank=True, editable=False, lost_is_blank=True)
    auth_token_expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)

    liveness_decision = models.CharField(max_length=16, choices=Decision.choices, blank=True)
    is_identical = models.BooleanField(null=True, blank=True)
    match_confidence = models.FloatField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    face_rectangle = models.JSONField(null=True, blank=True, help_text=_("Target face in the capture."))
    model_version = models.CharField(max_length=64, blank=True)
    result_digest = models.CharField(max_length=128, blank=True)
    # The provider's answer, sanitized by the backend: never a token, key or image.
    result_payload = models.JSONField(null=True, blank=True)
    provider_latency_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("The provider's processing time of the result, when it reported one.")
    )
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)

    review_status = models.CharField(max_length=16, choices=ReviewStatus.choices, blank=True, default="")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Set when liveness_verified was sent, so that it is sent once per session.
    verified_at = models.DateTimeField(null=True, blank=True)
    remote_deleted_at = models.DateTimeField(null=True, blank=True)
    redacted_at = models.DateTimeField(null=True, blank=True)
    # The session's attempts without their face data (services.sessions.ATTEMPT_SUMMARY_FIELDS), set
    # once with them: they never change, and the API reads them without a query.
    attempts_summary = models.JSONField(null=True, blank=True, editable=False)
    # A sync worker holds the session until then (services.sync); others skip it.
    sync_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The hosted capture page (capture_views.py): where it sends the person back.
    return_url = models.URLField(max_length=2000, blank=True, editable=False)
    # The capture the provider kept (review evidence): its id there, and the copy stored here with
    # the reference images' rules. An id without a file is fetched again by the sync.
    session_image_id = models.CharField(max_length=128, blank=True, editable=False)
    session_image = models.FileField(
        storage=reference_image_storage, upload_to=session_image_path, blank=True, editable=False
    )
    # When the person started on the hosted page (its one-time link is then spent), and the SHA-256 of
    # the secret in the cookie of the browser that did: that browser alone may reload the page.
    capture_link_opened_at = models.DateTimeField(null=True, blank=True, editable=False)
    capture_browser_hash = models.CharField(max_length=64, blank=True, editable=False)
    # When complete/ (or an admin refresh) last asked the provider for the result: at most one such
    # fetch per COMPLETE_MIN_INTERVAL_SECONDS, claimed with one conditional UPDATE (services.sessions).
    last_fetch_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The address (or CIDR block) the capture had to come from (LIVENESS["BIND_CLIENT_IP"], Face API
    # v1.3-preview.1); personal data, cleared with the face data (privacy).
    expected_client_ip = models.CharField(max_length=64, blank=True, editable=False)
    # The service's abuse monitoring flagged an attempt (v1.3-preview.1): the session never passes by
    # itself (services.abuse), and links the other flagged sessions this app knows.
    abuse_detected = models.BooleanField(default=False, editable=False)
    flagged_with = models.ManyToManyField("self", blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("liveness session")
        permissions = [
            ("review_livenesssession", _("Can approve or reject liveness sessions")),
            ("view_provider_audit", _("Can read the provider's audit entries of a session")),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["outcome", "created_at"]),
            models.Index(fields=["review_status", "created_at"]),
        ]

    objects = LivenessSessionQuerySet.as_manager()

    def __str__(self):
        return f"{self.get_kind_display()} {self.id}"

    @property
    def is_verify(self):
        return self.kind == self.Kind.LIVENESS_WITH_VERIFY

    @property
    def effective_outcome(self):
        """The outcome that counts: a staff review overrides what the provider decided."""
        if self.review_status == self.ReviewStatus.APPROVED:
            return self.Outcome.PASSED
        if self.review_status == self.ReviewStatus.REJECTED:
            return self.Outcome.FAILED
        return self.outcome

    @classmethod
    def effective_outcome_q(cls, outcome):
        """A filter (``Q``) for sessions whose outcome that counts is ``outcome`` (for aggregates;
        ``LivenessSession.objects.with_effective_outcome(outcome)`` filters with it)."""
        review = cls.ReviewStatus
        reviewed = Q(review_status__in=[review.APPROVED, review.REJECTED])
        if outcome == cls.Outcome.PASSED:
            return Q(review_status=review.APPROVED) | (Q(outcome=cls.Outcome.PASSED) & ~reviewed)
        if outcome == cls.Outcome.FAILED:
            return Q(review_status=review.REJECTED) | (Q(outcome=cls.Outcome.FAILED) & ~reviewed)
        return Q(outcome=outcome) & ~reviewed

    @property
    def is_final(self):
        return self.status in self.FINAL_STATUSES

    @property
    def pending_after_answer(self):
        """What an ended session still waits for at the provider, done after the answer (or by
        liveness_sync): ``"session_image"`` (to fetch) and ``"remote_deletion"``; empty when none."""
        if not self.is_final:
            return []
        pending = []
        if self.session_image_id and not self.session_image and self.redacted_at is None:
            pending.append("session_image")
        if self.provider_session_id and self.remote_deleted_at is None and liveness_settings.DELETE_REMOTE_SESSION_ON_RESULT:
            pending.append("remote_deletion")
        return pending

    def next_fetch_at(self):
        """When complete/ may ask the provider for the result again (COMPLETE_MIN_INTERVAL_SECONDS
        after the last fetch); None when it has never asked."""
        if self.last_fetch_at is None:
            return None
        return self.last_fetch_at + timedelta(seconds=liveness_settings.COMPLETE_MIN_INTERVAL_SECONDS)

    def fetch_is_due(self, now=None):
        """True when complete/ would ask the provider now (an open session, outside the interval)."""
        next_fetch_at = self.next_fetch_at()
        return not self.is_final and (next_fetch_at is None or (now or timezone.now()) >= next_fetch_at)

    def token_is_valid(self, now=None):
        now = now or timezone.now()
        return bool(self.auth_token) and self.auth_token_expires_at is not None and now < self.auth_token_expires_at

    def is_capture_browser(self, secret):
        """True when ``secret`` (the hosted page's cookie) is the one of the browser that started the capture."""
        return bool(self.capture_browser_hash and secret) and constant_time_compare(
            self.capture_browser_hash, capture_browser_hash(secret)
        )


class LivenessAttempt(models.Model):
    """One frontend call of a session as the provider reported it: a decision or an error."""

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", _("not started")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        CANCELED = "canceled", _("canceled")

    session = models.ForeignKey(LivenessSession, on_delete=models.CASCADE, related_name="attempts")
    attempt_id = models.PositiveIntegerField(help_text=_("The provider's number of the attempt, from 1."))
    status = models.CharField(max_length=16, choices=Status.choices)
    liveness_decision = models.CharField(max_length=16, choices=LivenessSession.Decision.choices, blank=True)
    is_identical = models.BooleanField(null=True, blank=True)
    match_confidence = models.FloatField(null=True, blank=True)
    face_rectangle = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    # Kept for fetching the captured frame; never shown in the API.
    session_image_id = models.CharField(max_length=128, blank=True)
    digest = models.CharField(max_length=128, blank=True)
    # Face API v1.3-preview.1: the addresses the service saw the capture come from (personal data,
    # cleared with the face data), and its abuse monitoring's verdict: None when it gave none; the
    # other flagged sessions as it named them ({"session_id", "attempt_id", "session_image_id"}).
    client_ips = models.JSONField(default=list, blank=True)
    abuse_detected = models.BooleanField(null=True, blank=True)
    other_flagged_sessions = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session", "attempt_id"]
        verbose_name = _("liveness attempt")
        constraints = [
            models.UniqueConstraint(fields=["session", "attempt_id"], name="liveness_unique_attempt_per_session")
        ]

    def __str__(self):
        return f"attempt {self.attempt_id} ({self.get_status_display()})"


class LivenessEvent(models.Model):
    """Append-only log: one row per state change, review, remote error, image view ..."""

    class Kind(models.TextChoices):
        SESSION_CREATED = "session_created", _("session created")
        STATUS_CHANGED = "status_changed", _("status changed")
        RESULT_STORED = "result_stored", _("result stored")
        REVIEWED = "reviewed", _("reviewed")
        FLAGGED = "flagged", _("flagged for review")
        REMOTE_ERROR = "remote_error", _("provider error")
        REMOTE_DELETED = "remote_deleted", _("deleted at provider")
        IMAGE_UPLOADED = "image_uploaded", _("reference image uploaded")
        IMAGE_VIEWED = "image_viewed", _("reference image viewed")
        IMAGE_DELETED = "image_deleted", _("reference image deleted")
        SUBJECT_CHANGED = "subject_changed", _("subject changed")
        SUBJECT_DELETED = "subject_deleted", _("subject deleted")
        CONSENT_GRANTED = "consent_granted", _("consent granted")
        CONSENT_WITHDRAWN = "consent_withdrawn", _("consent withdrawn")
        ERASED = "erased", _("biometric data erased")
        PURGED = "purged", _("retention purge")
        CLIENT_EVENT = "client_event", _("reported by the frontend")
        CAPTURE_LINK_OPENED = "capture_link_opened", _("capture link opened")
        SESSION_IMAGE_STORED = "session_image_stored", _("session image stored")
        SESSION_IMAGE_VIEWED = "session_image_viewed", _("session image viewed")
        DEVICE_ID_RESET = "device_id_reset", _("device correlation id reset")
        SUBJECT_LOCKED = "subject_locked", _("subject locked")
        LOCK_LIFTED = "lock_lifted", _("lock lifted")
        LOW_QUALITY_REFERENCE = "low_quality_reference", _("low-quality reference image")
        DUPLICATE_REFERENCE = "duplicate_reference", _("reference photo also on another subject")
        ABUSE_DETECTED = "abuse_detected", _("flagged by the service's abuse monitoring")

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # SET_NULL: the trail outlives what it is about.
    session = models.ForeignKey(
        LivenessSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    subject = models.ForeignKey(Subject, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("liveness event")

    def __str__(self):
        return f"{self.get_kind_display()} at {self.created_at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Liveness events are append-only and cannot be changed.")
        super().save(*args, **kwargs)


class IdempotencyKey(models.Model):
    """The first response to a POST carrying an Idempotency-Key, replayed for repeats."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=64, help_text=_("Endpoint the key was used on."))
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "scope", "key"], name="liveness_unique_idempotency_key")
        ]


class WebhookEndpoint(models.Model):
    """A URL outside this process that is told about events, signed (django_liveness.webhooks)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(max_length=2000, help_text=_("HTTPS URL the events are POSTed to."))
    description = models.CharField(max_length=255, blank=True)
    events = models.JSONField(default=list, help_text=_("Event types this endpoint receives."))
    is_active = models.BooleanField(default=True)
    # Signing secrets (whsec_...): shown once when made, never logged or shown again, encrypted at
    # rest (encryption.py). During a rotation the previous one still signs until previous_secret_expires_at.
    secret = EncryptedTextField(editable=False)
    previous_secret = EncryptedTextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Since when every attempt failed (None after a success); disabled once it is too long ago.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=255, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("webhook endpoint")

    def __str__(self):
        return self.description or self.url

    def signing_secrets(self, now=None):
        """The secrets that sign a message now: the current one, and the previous one during a rotation."""
        now = now or timezone.now()
        secrets = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and now < self.previous_secret_expires_at:
            secrets.append(self.previous_secret)
        return secrets


class WebhookDelivery(models.Model):
    """One event for one endpoint: written in the transaction of the change (the outbox), sent after it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The webhook-id header: the same on every attempt, so that a receiver can drop repeats.
    event_id = models.CharField(max_length=64, db_index=True)
    event_type = models.CharField(max_length=64)
    # The body sent (ids, statuses, decisions: never a token, image or face data).
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A sender holds the delivery until then (services.webhook_delivery); others skip it.
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response_body = models.TextField(blank=True, help_text=_("The start of the receiver's answer."))
    last_error = models.CharField(max_length=255, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"], name="liveness_unique_delivery_per_endpoint")]

    def __str__(self):
        return f"{self.event_type} {self.event_id}"
