"""The hosted capture page's credentials, signed with SECRET_KEY (nothing stored but the opening):

- the *link* (``capture_url``): one-time and short-lived, handed to the app that started the session;
  opening it is what lets a phone browser or a WebView run the capture without logging in;
- the *page token*: given to the page once the link was opened, sent back in the
  ``X-Liveness-Capture`` header by the page's calls (the session's state, complete, client events).
  It is bound to one session and lives as long as a session's auth token can.

And the check of a ``return_url`` against ``LIVENESS["CAPTURE"]["RETURN_URL_HOSTS"]``.
"""

from django.core import signing
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from .conf import liveness_settings

LINK_SALT = "django_liveness.capture.link"
PAGE_SALT = "django_liveness.capture.page"
PAGE_TOKEN_HEADER = "X-Liveness-Capture"


class InvalidLink(Exception):
    """A link or page token that is forged, altered or expired."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason  # "invalid" | "expired"


class _SignedAtCreation(signing.TimestampSigner):
    """Dates the link from the session's creation rather than now: a session has one link however often
    it is written out (an Idempotency-Key replay answers exactly as the first time), and its lifetime
    counts from the moment the session was started."""

    def __init__(self, session, **kwargs):
        super().__init__(**kwargs)
        self.session = session

    def timestamp(self):
        return signing.b62_encode(int(self.session.created_at.timestamp()))


def capture_url(request, session):
    token = _SignedAtCreation(session, salt=LINK_SALT).sign_object({"session": str(session.pk)})
    return request.build_absolute_uri(reverse("django_liveness:capture-page", args=[token]))


def session_id_of_link(token):
    return _unsign(token, LINK_SALT, liveness_settings.CAPTURE["LINK_TTL_SECONDS"])


def page_token(session):
    return signing.TimestampSigner(salt=PAGE_SALT).sign_object({"session": str(session.pk)})


def session_id_of_page_token(token):
    # Long enough for the longest-lived auth token, plus the wait for a result.
    return _unsign(token, PAGE_SALT, liveness_settings.AUTH_TOKEN_TTL_SECONDS + 3600)


def _unsign(token, salt, max_age):
    try:
        return signing.TimestampSigner(salt=salt).unsign_object(token, max_age=max_age)["session"]
    except signing.SignatureExpired:
        raise InvalidLink("expired") from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise InvalidLink("invalid") from None


def is_allowed_return_url(url, request):
    """True for a path on this site, or an absolute URL on one of RETURN_URL_HOSTS (https when this
    request is); never a scheme like javascript: or a look-alike host."""
    hosts = {request.get_host(), *liveness_settings.CAPTURE["RETURN_URL_HOSTS"]}
    return url_has_allowed_host_and_scheme(url, allowed_hosts=hosts, require_https=request.is_secure())
