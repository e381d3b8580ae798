"""What Face API v1.3-preview.1 adds against abuse, on this side: the subject's user correlation id,
the client address a session is bound to, and the service's abuse-monitoring verdicts.

- The **user correlation id** is the ``userCorrelationId`` of the subject's liveness sessions (the
  service's rate limiting and anti-hammering per person): a random UUID made at the first such
  session, like the device correlation id (``devices``), never the external id or the primary key;
  erased with the subject's biometric data.
- **Client-IP binding** (``LIVENESS["BIND_CLIENT_IP"]``): a liveness session started with the
  requester's address sends it as ``expectedClientIpAddress``; the service refuses a capture from
  elsewhere.
- An attempt the **abuse monitoring** flagged (``isAbuseDetected``) marks its session: the session
  never passes by itself (it waits in the review queue), it is linked to the other flagged sessions
  this app knows, and an ``abuse_detected`` event says why.

Only backends that declare ``USER_CORRELATION`` / ``CLIENT_IP_BINDING`` (AzureFaceBackend and
LocMemBackend under v1.3-preview.1) are sent the first two; the verify create has neither field.
"""

import ipaddress
import uuid

from django.utils.translation import gettext as _

from ..backends.base import CLIENT_IP_BINDING, USER_CORRELATION
from ..conf import liveness_settings
from ..exceptions import ServiceError
from ..models import LivenessEvent, LivenessSession, Subject
from .base import log_event


class ClientIpUnknown(ServiceError):
    """BIND_CLIENT_IP is on, and the request's address (CLIENT_IP_RESOLVER) is not an IP address."""

    code = "client_ip_unknown"


def plan(backend, *, verify, user_correlation_id_set_in_client, client_ip):
    """What a new session sends of v1.3's create fields: ``(correlate, expected_client_ip)``.

    ``correlate`` is True when the subject's user correlation id (or the flag that the frontend sets
    it) goes with the create; ``expected_client_ip`` is the address to bind to, or "". Raises
    ClientIpUnknown, before anything is stored, for an address to bind that is not one (fail closed).
    """
    correlate = not verify and backend.supports(USER_CORRELATION)
    if verify or not liveness_settings.BIND_CLIENT_IP or not backend.supports(CLIENT_IP_BINDING) or client_ip is None:
        return correlate, ""
    try:
        return correlate, str(ipaddress.ip_address((client_ip or "").strip()))
    except ValueError:
        raise ClientIpUnknown(
            _("The client's address could not be read, so the session cannot be bound to it (LIVENESS['CLIENT_IP_RESOLVER']).")
        ) from None


def user_correlation_id(locked):
    """The user correlation id of the subject ``locked`` (its row locked by the caller), made at its
    first liveness session under v1.3."""
    if not locked.user_correlation_id:
        locked.user_correlation_id = str(uuid.uuid4())
        Subject.objects.filter(pk=locked.pk).update(user_correlation_id=locked.user_correlation_id)
    return locked.user_correlation_id


def create_options(session, *, correlate, set_in_client):
    """The backend keywords of ``plan``'s choice for ``session`` (its subject already has its id)."""
    options = {}
    if correlate:
        # None asks the provider to take it from the frontend (userCorrelationIdSetInClient).
        options["user_correlation_id"] = None if set_in_client else session.subject.user_correlation_id
    if session.expected_client_ip:
        options["expected_client_ip"] = session.expected_client_ip
    return options


def attempt_fields(attempt):
    """The LivenessAttempt fields of a backend ``Attempt``'s v1.3 facts."""
    monitoring = attempt.abuse_monitoring
    return {
        "client_ips": list(attempt.client_ips),
        "abuse_detected": monitoring.is_abuse_detected if monitoring else None,
        "other_flagged_sessions": [
            {"session_id": other.session_id, "attempt_id": other.attempt_id, "session_image_id": other.session_image_id}
            for other in (monitoring.other_flagged_sessions if monitoring and monitoring.is_abuse_detected else ())
        ],
    }


def is_flagged(result):
    """True when the service's abuse monitoring flagged any attempt of ``result`` (a SessionResult)."""
    return any(attempt.abuse_monitoring and attempt.abuse_monitoring.is_abuse_detected for attempt in result.attempts)


def record_verdict(locked, result, *, actor=None):
    """Mark the locked session ``locked`` flagged (saved by the caller), link the other flagged sessions
    this app knows (both ways), and log why. Nothing when no attempt of ``result`` was flagged."""
    if not is_flagged(result):
        return False
    flagged = [attempt for attempt in result.attempts if attempt.abuse_monitoring and attempt.abuse_monitoring.is_abuse_detected]
    others = sorted({other.session_id for attempt in flagged for other in attempt.abuse_monitoring.other_flagged_sessions})
    known = list(
        LivenessSession.objects.filter(provider_session_id__in=others).exclude(pk=locked.pk).values_list("pk", flat=True)
    ) if others else []
    if known:
        locked.flagged_with.add(*known)
    locked.abuse_detected = True
    log_event(
        LivenessEvent.Kind.ABUSE_DETECTED,
        session=locked,
        actor=actor,
        message=_("The Face service's abuse monitoring flagged this session: it needs a staff review."),
        data={
            "attempts": [attempt.attempt_id for attempt in flagged],
            "other_sessions": others,  # the provider's ids
            "linked_sessions": sorted(str(pk) for pk in known),
        },
    )
    return True


def forget_user_correlation(subject):
    """Erasure: the subject's user correlation id goes with its biometric data (a new one if it ever
    comes back is not possible: an erased subject starts no session)."""
    Subject.objects.filter(pk=subject.pk).exclude(user_correlation_id="").update(user_correlation_id="")
    subject.user_correlation_id = ""
