"""``Idempotency-Key`` for POSTs: the same key and body answers with the first request's object.

The key is claimed (per user and endpoint) in a short transaction of its own; the work, and its
provider call, runs outside any transaction; the answer is recorded after. A repeat while the
first request runs is a 409 ``idempotency_key_in_use``; once it answered, a repeat replays it: one
provider session, however many retries. Only the created object's id is kept, never the answer
itself (it holds the session's auth token): a replay shows the object as it is now. Only
successful requests are kept; a failed request can be retried with the same key. Expired keys
are deleted on reuse and by ``liveness_purge``.
"""

import hashlib
import json

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, status

from .. import services
from ..services.idempotency import IdempotencyKeyInUse, IdempotencyKeyReused
from .errors import Conflict

HEADER = "Idempotency-Key"
MAX_LENGTH = 255


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = gettext_lazy("This Idempotency-Key was used with a different request body.")


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
    if not key or len(key) > MAX_LENGTH:
        raise exceptions.ValidationError(
            {
                "detail": _("%(header)s must be 1 to %(max_length)s characters.")
                % {"header": HEADER, "max_length": MAX_LENGTH}
            },
            code="invalid_idempotency_key",
        )
    try:
        record, replay_id = services.claim_idempotency_key(
            user=request.user, scope=scope, key=key, request_hash=fingerprint(request)
        )
    except IdempotencyKeyReused:
        raise KeyReused() from None
    except IdempotencyKeyInUse as error:
        raise Conflict(error.message, code=error.code) from None
    if replay_id is not None:
        return _replay(record, replay)
    try:
        response = handler()
    except Exception:
        services.release_idempotency_key(record)  # what the handler stored stays; the key may be retried
        raise
    if 200 <= response.status_code < 300:
        services.record_idempotent_answer(record, status=response.status_code, object_id=response.data["id"])
    else:
        services.release_idempotency_key(record)
    return response


def _replay(record, replay):
    response = replay(record.response_body["id"])
    response.status_code = record.response_status
    response["Idempotent-Replayed"] = "true"
    response["Cache-Control"] = "no-store"
    return response
