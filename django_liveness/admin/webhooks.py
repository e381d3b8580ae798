"""The admin screens of the webhooks: endpoints (the secret shown once, rotation, disabling, test
events) and deliveries (read-only, replay). Changes go through ``django_liveness.webhooks``."""

import json

import django
from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..exceptions import WebhookURLRefused
from ..models import WebhookDelivery, WebhookEndpoint
from ..services import webhooks
from ..webhook_protocol import guard
from ..webhook_protocol.events import EVENT_TYPES
from .mixins import CappedCountMixin, ConfirmActionMixin


class WebhookEndpointForm(forms.ModelForm):
    """What staff may set: the URL, the description and the event types. The secret is made by
    the service and shown once, on the page after saving; it is never a form field."""

    # A URL typed without a scheme is an https one (Django 5 asks which; 4.2 assumes http and cannot be told).
    url = forms.URLField(max_length=2000, label=_("URL"), **({"assume_scheme": "https"} if django.VERSION >= (5, 0) else {}))
    events = forms.MultipleChoiceField(
        choices=[(kind, kind) for kind in EVENT_TYPES], widget=forms.CheckboxSelectMultiple, label=_("events")
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            guard.check_url(url)
        except WebhookURLRefused as error:
            raise forms.ValidationError(error.message) from None
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ConfirmActionMixin, admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "description", "subscribed", "is_active", "failing_since", "disabled_at", "created_at"]
    list_filter = ["is_active", "created_at"]
    search_fields = ["url", "description"]
    readonly_fields = ["is_active", "secret_state", "failing_since", "disabled_at", "disabled_reason", "created_at", "updated_at", "deliveries_link"]
    actions = ["rotate_secret", "disable_endpoints", "enable_endpoints", "send_test_event"]

    def get_fields(self, request, obj=None):
        return ["url", "description", "events"] + (self.readonly_fields if obj is not None else [])

    @admin.display(description=_("events"))
    def subscribed(self, endpoint):
        return ", ".join(endpoint.events)

    @admin.display(description=_("signing secret"))
    def secret_state(self, endpoint):
        # Never the secret itself: it was shown once, when it was made.
        if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > timezone.now():
            return _("set (not shown); rotated, the previous one also signs until %(until)s") % {
                "until": f"{endpoint.previous_secret_expires_at:%Y-%m-%d %H:%M} UTC"
            }
        return _("set (not shown)")

    @admin.display(description=_("deliveries"))
    def deliveries_link(self, endpoint):
        url = reverse("admin:django_liveness_webhookdelivery_changelist") + f"?endpoint__id__exact={endpoint.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Deliveries to this endpoint"))

    def save_model(self, request, endpoint, form, change):
        # Through the service: it checks the URL again, and makes the secret.
        fields = {name: form.cleaned_data[name] for name in ("url", "description", "events")}
        if change:
            webhooks.update_endpoint(endpoint, **fields)
            return
        created, secret = webhooks.create_endpoint(fields.pop("url"), **fields)
        endpoint.pk, endpoint.secret = created.pk, secret
        request._liveness_new_secrets = [(created, secret)]

    def response_add(self, request, obj, post_url_continue=None):
        return self.secrets_page(request, getattr(request, "_liveness_new_secrets", []), title=_("The endpoint's signing secret"))

    def secrets_page(self, request, secrets, *, title, overlap_until=None):
        response = TemplateResponse(
            request,
            "admin/django_liveness/webhook_secret.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "secrets": secrets,
                "overlap_until": overlap_until,
                "opts": self.model._meta,
            },
        )
        response["Cache-Control"] = "no-store"  # the page holds a secret
        return response

    def changelist_view(self, request, extra_context=None):
        # Staff are told here when failures disabled an endpoint (and by the webhook_endpoint_disabled signal).
        if request.method == "GET":
            for endpoint in WebhookEndpoint.objects.filter(is_active=False, failing_since__isnull=False):
                self.message_user(
                    request,
                    _("Webhook endpoint %(endpoint)s is disabled: %(reason)s Fix the receiver, then enable it.")
                    % {"endpoint": endpoint, "reason": endpoint.disabled_reason},
                    messages.WARNING,
                )
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Rotate the signing secret"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        page = self.confirmation(
            request,
            queryset,
            action="rotate_secret",
            title=_("Rotate the signing secrets?"),
            question=_(
                "Each endpoint gets a new secret, shown once on the next page. The old one keeps signing too for "
                "24 hours, so the receiver can switch to the new one without losing a message."
            ),
            objects=queryset,
        )
        if page is not None:
            return page
        secrets = [(endpoint, webhooks.rotate_secret(endpoint)) for endpoint in queryset]
        until = max((endpoint.previous_secret_expires_at for endpoint, _secret in secrets), default=None)
        return self.secrets_page(
            request, secrets, title=_("The new signing secrets"), overlap_until=f"{until:%Y-%m-%d %H:%M}" if until else None
        )

    @admin.action(description=_("Disable (stop sending)"), permissions=["change"])
    def disable_endpoints(self, request, queryset):
        for endpoint in queryset:
            webhooks.disable_endpoint(endpoint, reason=_("Disabled by %(user)s.") % {"user": request.user})
        self.message_user(request, _("%d endpoint(s) disabled.") % queryset.count(), messages.SUCCESS)

    @admin.action(description=_("Enable (send again, pending deliveries first)"), permissions=["change"])
    def enable_endpoints(self, request, queryset):
        for endpoint in queryset:
            webhooks.enable_endpoint(endpoint)
        self.message_user(request, _("%d endpoint(s) enabled.") % queryset.count(), messages.SUCCESS)

    @admin.action(description=_("Send a test event"), permissions=["change"])
    def send_test_event(self, request, queryset):
        for endpoint in queryset:
            webhooks.send_test_event(endpoint)
        self.message_user(
            request,
            _("%d test event(s) sent; their deliveries show how each receiver answered.") % queryset.count(),
            messages.SUCCESS,
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(CappedCountMixin, admin.ModelAdmin):
    list_display = [
        "event_type",
        "event_id",
        "endpoint",
        "status",
        "attempts",
        "last_response_status",
        "last_duration_ms",
        "last_attempt_at",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event_type", "endpoint", "last_response_status", "created_at"]
    list_select_related = ["endpoint"]
    search_fields = ["=event_id"]
    fields = [
        "event_id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "next_attempt_at",
        "last_attempt_at",
        "last_response_status",
        "last_duration_ms",
        "last_error",
        "last_response_body",
        "delivered_at",
        "created_at",
        "payload_json",
    ]
    readonly_fields = fields
    actions = ["replay"]

    def has_add_permission(self, request):
        return False  # deliveries come only from events (and "send a test event")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":  # nothing is editable; a save would write back a stale row
            return HttpResponseRedirect(request.path)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("payload"))
    def payload_json(self, delivery):
        return format_html('<pre style="white-space:pre-wrap">{}</pre>', json.dumps(delivery.payload, indent=2, sort_keys=True))

    @admin.action(description=_("Replay (send again)"), permissions=["change"])
    def replay(self, request, queryset):
        count = webhooks.replay(queryset)
        self.message_user(request, _("%d delivery(ies) will be sent again, with the same event id.") % count, messages.SUCCESS)
