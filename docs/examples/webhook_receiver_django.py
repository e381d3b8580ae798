"""A django-liveness webhook receiver in another Django project.

# settings.py
LIVENESS_WEBHOOK_SECRET = os.environ["LIVENESS_WEBHOOK_SECRET"]  # whsec_...
# urls.py
path("hooks/liveness/", views.liveness_webhook),
"""

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@csrf_exempt  # the signature authenticates the request, not a cookie
@require_POST
def liveness_webhook(request):
    try:
        event = Webhook(settings.LIVENESS_WEBHOOK_SECRET).verify(request.body, request.headers)
    except WebhookVerificationError:
        return HttpResponseBadRequest("invalid signature")
    # A retry or a replay carries the same id: act once. (A unique database column does it for good.)
    if not cache.add(f"liveness-webhook:{event['id']}", True, timeout=7 * 24 * 3600):
        return HttpResponse(status=204)
    subject = event["data"].get("subject", {})
    if event["type"] == "liveness.verified":
        grant_access(subject["external_id"])
    elif event["type"] == "liveness.failed":
        revoke_access(subject["external_id"], reason=event["data"]["reason"])
    return HttpResponse(status=204)


def grant_access(external_id):
    """Your code: the person with this id passed liveness with verification."""


def revoke_access(external_id, *, reason):
    """Your code: their check failed, or staff rejected it."""
