"""What django-liveness 0.2.0 stored, read for the 0.3.0 data migration.

0.2.0 kept the provider's raw v1.2-preview.1 session body in ``result_payload``; these helpers
read the facts 0.3.0 keeps in fields of their own, so the migration needs no provider JSON keys.
"""

from .base import sanitized


def latency_ms(payload):
    """The latency the preview recorded for the call that gave the result, or None."""
    response = ((payload or {}).get("result") or {}).get("response") or {}
    latency = response.get("latencyInMilliseconds")
    return latency if isinstance(latency, int) and latency >= 0 else None


def session_image_id(payload):
    return ((payload or {}).get("result") or {}).get("sessionImageId") or ""


def clean_payload(payload):
    return sanitized(payload) if payload is not None else None
