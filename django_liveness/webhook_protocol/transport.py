"""One webhook POST: to the address the guard checked, outside any transaction, never following a
redirect, reading only the start of the answer. ``post`` never raises: it returns an ``Attempt``
that says what happened and whether another try may cure it (the service layer keeps the record).
"""

import email.utils
import time
from dataclasses import dataclass

import urllib3
from django.utils import timezone

from .. import __version__
from ..exceptions import WebhookURLRefused
from . import guard

RETRY_STATUSES = frozenset({408, 429})
# The part of an answer that is read (and the part kept, for the admin): the rest is never read.
RESPONSE_READ_CAP = 4096
RESPONSE_KEEP = 1000
USER_AGENT = f"django-liveness-webhooks/{__version__}"


@dataclass
class Attempt:
    """What one POST did: the status and the start of the body, or the error that stopped it."""

    status: int | None = None
    body: str = ""
    error: str = ""
    retry_after: float | None = None
    duration_ms: int = 0
    refused: bool = False  # the address guard refused to connect

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self):
        if self.refused:
            return False
        if self.status is None:  # timeout, connection error, a name that does not resolve
            return True
        return self.status in RETRY_STATUSES or self.status >= 500


# --- one HTTP call ----------------------------------------------------------------------------


def post(url, body, headers, *, timeout):
    """POST ``body`` to ``url`` at the address the guard checked; never raises, never follows a redirect."""
    started = time.monotonic()
    attempt = _post(url, body, headers, timeout)
    attempt.duration_ms = round((time.monotonic() - started) * 1000)
    return attempt


def _post(url, body, headers, timeout):
    try:
        target = guard.resolve(url)
    except WebhookURLRefused as error:
        return Attempt(error=error.message[:255], refused=True)
    except guard.AddressUnresolved as error:
        return Attempt(error=str(error)[:255])
    timeouts = urllib3.Timeout(connect=min(timeout, 5), read=timeout)
    if target.scheme == "https":
        # Connect to the checked address; the certificate is checked against the URL's host name.
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeouts,
            retries=False,
            maxsize=1,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeouts, retries=False, maxsize=1)
    headers = {
        **headers,
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers=headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            text = response.read(RESPONSE_READ_CAP).decode("utf-8", "replace")
        finally:
            response.release_conn()
        return Attempt(
            status=response.status, body=text[:RESPONSE_KEEP], retry_after=_retry_after(response.headers.get("Retry-After"))
        )
    except urllib3.exceptions.HTTPError as error:
        return Attempt(error=f"{type(error).__name__}: {_reason(error)}"[:255])
    finally:
        pool.close()


def _reason(error):
    # urllib3 wraps the cause; its message can name the address, which is fine (never a secret).
    return str(getattr(error, "reason", None) or error)[:200]


def _retry_after(value):
    """Seconds from a Retry-After header (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - timezone.now()).total_seconds()) if when.tzinfo else None
