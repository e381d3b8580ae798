"""The records behind the REST API's ``Idempotency-Key``: claimed, answered or released, each in
its own short transaction, so that no transaction stays open across the provider call."""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..conf import liveness_settings
from ..exceptions import ServiceError
from ..models import IdempotencyKey
from .base import STALE_CREATED_AFTER, atomic_with_retry


class IdempotencyKeyReused(ServiceError):
    code = "idempotency_key_reused"


class IdempotencyKeyInUse(ServiceError):
    code = "idempotency_key_in_use"


def claim_idempotency_key(*, user, scope, key, request_hash):
    """Claim ``key`` for a new request; return ``(record, None)``, or ``(record, object_id)`` when
    an earlier request with the same key and body already answered (replay that object).

    Raises IdempotencyKeyReused for another body, IdempotencyKeyInUse while the first request
    runs. An expired record, or a claim whose request died without an answer, is forgotten.
    """
    record, created = _claim(user=user, scope=scope, key=key, request_hash=request_hash)
    if created:
        return record, None
    if record.request_hash != request_hash:
        raise IdempotencyKeyReused(_("This Idempotency-Key was used with a different request body."))
    if record.response_status is None:
        raise IdempotencyKeyInUse(_("The first request with this Idempotency-Key is still running."))
    return record, record.response_body["id"]


@atomic_with_retry
def _claim(*, user, scope, key, request_hash):
    """``(record, True)`` for a new claim, ``(the earlier record, False)`` when the key is taken."""
    now = timezone.now()
    keys = IdempotencyKey.objects.filter(user=user, scope=scope, key=key)
    expired = now - timedelta(seconds=liveness_settings.IDEMPOTENCY_KEY_TTL_SECONDS)
    abandoned = Q(response_status__isnull=True, created_at__lt=now - STALE_CREATED_AFTER)
    keys.filter(Q(created_at__lt=expired) | abandoned).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(user=user, scope=scope, key=key, request_hash=request_hash), True
    except IntegrityError:
        return keys.get(), False


def record_idempotent_answer(record, *, status, object_id):
    """Keep the answer of a claimed key: its status and the created object's id (never the body)."""
    IdempotencyKey.objects.filter(pk=record.pk).update(response_status=status, response_body={"id": str(object_id)})


def release_idempotency_key(record):
    """Forget a claim whose request failed, so that the client can retry with the same key."""
    IdempotencyKey.objects.filter(pk=record.pk).delete()
