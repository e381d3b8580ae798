"""``Idempotency-Key`` for POSTs: the same key and body answers with the first request's object.

The key is stored (per user and endpoint) in the same transaction as the work, so a concurrent
repeat on PostgreSQL waits on the unique index until the first request commits, then replays
its answer: one provider session, however many retries. Only the created object's id is kept,
never the answer itself (it holds the session's auth token): a replay shows the object as it is
now. Only successful requests are kept; a failed request can be retried with the same key.
Expired keys are deleted on reuse and by ``liveness_purge``.
"""

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions, status

from ..conf import liveness_settings
from ..models import IdempotencyKey
from .errors import Conflict

HEADER = "Idempotency-Key"


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used with a different request body."


def fingerprint(request):
    """A hash of the request body as parsed (files by their content)."""
    parts = []
    for name in sorted(request.data.keys()) if hasattr(request.data, "keys") else []:
        values = request.data.getlist(name) if hasattr(request.data, "getlist") else [request.data[name]]
        for value in values:
            if hasattr(value, "chunks"):
                digest = hashlib.sha256()
                for chunk in value.chunks():
                    digest.update(chunk)
                value.seek(0)
                value = "file:" + digest.hexdigest()
            parts.append([name, value])
    raw = json.dumps([request.method, request.path, parts], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def idempotent(scope, handler, request, replay):
    """Run ``handler()`` once per (user, scope, Idempotency-Key); answer repeats with ``replay(id)``.

    ``handler()`` returns a Response whose data has the new object's ``id``; ``replay(id)`` returns
    a Response for that object as it is now.
    """
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not key or len(key) > 255:
        raise exceptions.ValidationError({"detail": f"{HEADER} must be 1 to 255 characters."}, code="invalid_idempotency_key")
    request_hash = fingerprint(request)
    cutoff = timezone.now() - timedelta(seconds=liveness_settings.IDEMPOTENCY_KEY_TTL_SECONDS)
    keys = IdempotencyKey.objects.filter(user=request.user, scope=scope, key=key)
    keys.filter(created_at__lt=cutoff).delete()
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(user=request.user, scope=scope, key=key, request_hash=request_hash)
        except IntegrityError:
            record = keys.select_for_update().get()
            if record.request_hash != request_hash:
                raise KeyReused() from None
            if record.response_status is not None:
                return _replay(record, replay)
            raise Conflict("The first request with this Idempotency-Key is still running.", code="idempotency_key_in_use")
        failure = None
        try:
            response = handler()
        except Exception as error:
            # Keep what the handler stored (a failed session is part of the record); forget the key
            # so the client can retry with it.
            failure = error
            if not transaction.get_rollback():
                record.delete()
        else:
            if 200 <= response.status_code < 300:
                record.response_status, record.response_body = response.status_code, {"id": str(response.data["id"])}
                record.save(update_fields=["response_status", "response_body"])
            else:
                record.delete()
    if failure is not None:
        raise failure
    return response


def _replay(record, replay):
    response = replay(record.response_body["id"])
    response.status_code = record.response_status
    response["Idempotent-Replayed"] = "true"
    response["Cache-Control"] = "no-store"
    return response
