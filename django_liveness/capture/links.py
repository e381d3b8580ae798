"""The hosted capture page's credentials:

- the *link* (``capture_url``), signed with SECRET_KEY: short-lived, handed to the app that started the
  session. Opening it only shows the page (a chat app's link preview spends nothing); the page's own
  same-origin POST to it, when the person taps Start, spends it (``services.start_capture``);
- the *browser secret*: a random value set by that start in an HttpOnly cookie scoped to the link's
  path (only its hash is stored): the browser that started may reload the page, others get 410;
- the *page token*, signed: answered by the start, sent back in the ``X-Liveness-Capture`` header by
  the page's calls (the session's state, complete, client events). It is bound to one session and
  lives as long as a session's auth token can.

And the check of a ``return_url`` against ``LIVENESS["CAPTURE"]["RETURN_URL_HOSTS"]``.
"""

import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from ..conf import liveness_settings

LINK_SALT = "django_liveness.capture.link"
PAGE_SALT = "django_liveness.capture.page"
PAGE_TOKEN_HEADER = "X-Liveness-Capture"
BROWSER_COOKIE = "liveness_capture"


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
    """(session id, expired): the link's session, and whether the time to start on it has passed (the
    browser that started in time may still come back). InvalidLink when it is forged or altered."""
    try:
        return _unsign(token, LINK_SALT, liveness_settings.CAPTURE["LINK_TTL_SECONDS"]), False
    except InvalidLink as error:
        if error.reason != "expired":
            raise
    return _unsign(token, LINK_SALT, None), True


def new_browser_secret():
    return secrets.token_urlsafe(32)


def set_browser_cookie(response, request, secret, session):
    """Bind the link to this browser until the session's token expires: sent back only to the link's
    own path, never to scripts (HttpOnly), nor by other sites' requests but a top-level link (Lax)."""
    response.set_cookie(
        BROWSER_COOKIE,
        secret,
        expires=session.auth_token_expires_at,
        path=request.path,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )


def is_same_origin(request):
    """True for a request the page itself sent: the browser says so (Sec-Fetch-Site), or, from a browser
    that does not send it (plain http off localhost), its Origin is this site or a CSRF_TRUSTED_ORIGINS
    one. A form or script on another site, a link preview or a curl without Origin are refused."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin", "")
    if not origin or origin == "null":
        return False
    if urlsplit(origin).netloc == request.get_host() and urlsplit(origin).scheme == request.scheme:
        return True
    return origin in settings.CSRF_TRUSTED_ORIGINS


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
