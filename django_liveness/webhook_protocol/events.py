"""The events webhooks tell, their payloads and the JSON Schema of each (docs/webhooks.md).

A payload carries ids, statuses, outcomes, decisions and confidence: never an auth token, an
image, a face rectangle or anything else biometric, so a receiver holds nothing that needs the
care the face data does.
"""

import uuid

from django.utils import timezone

# Bumped when a payload changes in a way a receiver could notice (a field removed or retyped).
API_VERSION = "1"

SESSION_CREATED = "session.created"
SESSION_COMPLETED = "session.completed"
SESSION_ENDED = "session.ended"
LIVENESS_VERIFIED = "liveness.verified"
LIVENESS_FAILED = "liveness.failed"
SESSION_REVIEWED = "session.reviewed"
SUBJECT_ERASED = "subject.erased"
SUBJECT_LOCKED = "subject.locked"
# Sent only by "send test event" (the admin, webhooks.send_test_event), whatever an endpoint subscribes to.
WEBHOOK_TEST = "webhook.test"

EVENT_TYPES = (
    SESSION_CREATED,
    SESSION_COMPLETED,
    SESSION_ENDED,
    LIVENESS_VERIFIED,
    LIVENESS_FAILED,
    SESSION_REVIEWED,
    SUBJECT_ERASED,
    SUBJECT_LOCKED,
)


def new_event_id():
    return f"evt_{uuid.uuid4().hex}"


def timestamp(value):
    """``value`` (an aware datetime) as the payloads write it: ISO 8601 in UTC with a "Z"; None stays None."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def subject_data(subject):
    # external_id is the host's own identifier: how the receiver finds its record. No name.
    return {"id": str(subject.pk), "external_id": subject.external_id}


def session_data(session):
    return {
        "id": str(session.pk),
        "kind": session.kind,
        "status": session.status,
        "outcome": session.effective_outcome or None,
        "provider_outcome": session.outcome or None,
        "liveness_decision": session.liveness_decision or None,
        "is_identical": session.is_identical,
        "match_confidence": session.match_confidence,
        "review_status": session.review_status or None,
        "abuse_detected": session.abuse_detected,
        "error_code": session.error_code or None,
        "created_at": timestamp(session.created_at),
        "completed_at": timestamp(session.completed_at),
    }


def build_payload(event_type, *, session=None, subject=None, event_id=None, **details):
    """The body of one event: ``{"id", "type", "timestamp", "api_version", "data"}``.

    ``details`` are the event's own fields (``reason``, ``decision``); the subject defaults to the session's.
    """
    subject = subject if subject is not None else getattr(session, "subject", None)
    data = {}
    if session is not None:
        data["session"] = session_data(session)
    if subject is not None:
        data["subject"] = subject_data(subject)
    data.update(details)
    return {
        "id": event_id or new_event_id(),
        "type": event_type,
        "timestamp": timestamp(timezone.now()),
        "api_version": API_VERSION,
        "data": data,
    }


# --- JSON Schemas (draft 2020-12), one per event type; docs/webhooks.md shows them ---------------

_NULLABLE_STRING = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}

SUBJECT_SCHEMA = {
    "type": "object",
    "required": ["id", "external_id"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "external_id": {"type": "string"},
    },
}

SESSION_SCHEMA = {
    "type": "object",
    "required": [
        "id",
        "kind",
        "status",
        "outcome",
        "provider_outcome",
        "liveness_decision",
        "is_identical",
        "match_confidence",
        "review_status",
        "abuse_detected",
        "error_code",
        "created_at",
        "completed_at",
    ],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "kind": {"enum": ["liveness", "liveness_with_verify"]},
        "status": {"enum": ["created", "started", "completed", "expired", "canceled", "failed"]},
        "outcome": {
            "enum": ["passed", "failed", "needs_review", None],
            "description": "The outcome that counts: a staff review overrides the provider's.",
        },
        "provider_outcome": {"enum": ["passed", "failed", "needs_review", None]},
        "liveness_decision": {"enum": ["realface", "spoofface", "uncertain", None]},
        "is_identical": {"type": ["boolean", "null"]},
        "match_confidence": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        "review_status": {"enum": ["pending", "approved", "rejected", None]},
        "abuse_detected": {
            "type": "boolean",
            "description": "The Face service's abuse monitoring (v1.3-preview.1) flagged an attempt: the session "
            "waits for a staff review and never passes by itself.",
        },
        "error_code": _NULLABLE_STRING,
        "created_at": _TIME,
        "completed_at": {"type": ["string", "null"], "format": "date-time"},
    },
}

_DATA = {
    SESSION_CREATED: ({"session": SESSION_SCHEMA, "subject": SUBJECT_SCHEMA}, {}),
    SESSION_COMPLETED: ({"session": SESSION_SCHEMA, "subject": SUBJECT_SCHEMA}, {}),
    SESSION_ENDED: ({"session": SESSION_SCHEMA, "subject": SUBJECT_SCHEMA}, {}),
    LIVENESS_VERIFIED: ({"session": SESSION_SCHEMA, "subject": SUBJECT_SCHEMA}, {}),
    LIVENESS_FAILED: (
        {"session": SESSION_SCHEMA, "subject": SUBJECT_SCHEMA},
        {"reason": {"enum": ["spoof", "not_identical", "low_confidence", "rejected_by_review"]}},
    ),
    SESSION_REVIEWED: (
        {"session": SESSION_SCHEMA, "subject": SUBJECT_SCHEMA},
        {"decision": {"enum": ["approved", "rejected"]}},
    ),
    SUBJECT_ERASED: ({"subject": SUBJECT_SCHEMA}, {"erased_at": _TIME}),
    SUBJECT_LOCKED: (
        {"subject": SUBJECT_SCHEMA},
        {"locked_until": _TIME, "failures": {"type": "integer", "minimum": 1}},
    ),
    WEBHOOK_TEST: ({}, {"endpoint_id": {"type": "string", "format": "uuid"}, "message": {"type": "string"}}),
}


def schema(event_type):
    """The JSON Schema of the payload of ``event_type``."""
    objects, details = _DATA[event_type]
    properties = {**objects, **details}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:django-liveness:webhook:{event_type}:{API_VERSION}",
        "title": event_type,
        "type": "object",
        "required": ["id", "type", "timestamp", "api_version", "data"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "pattern": "^evt_[0-9a-f]{32}$"},
            "type": {"const": event_type},
            "timestamp": _TIME,
            "api_version": {"const": API_VERSION},
            "data": {
                "type": "object",
                "required": sorted(properties),
                "additionalProperties": False,
                "properties": properties,
            },
        },
    }


SCHEMAS = {event_type: schema(event_type) for event_type in (*EVENT_TYPES, WEBHOOK_TEST)}
