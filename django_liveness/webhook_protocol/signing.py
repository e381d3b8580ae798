"""Signatures per the Standard Webhooks specification (https://www.standardwebhooks.com/), made by
the ``standardwebhooks`` package itself, so a receiver verifying with it (or with Svix's
libraries) agrees with the sender byte for byte.

``webhook-signature`` is ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``; during a rotation
it holds one signature per valid secret, space-separated, and a receiver that knows either passes.
"""

import base64
import json
import secrets
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret():
    """A fresh signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def encode_body(payload):
    """The exact bytes sent: compact, keys sorted, so every attempt sends (and signs) the same body."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(message_id, body, signing_secrets, *, now=None):
    """The three Standard Webhooks headers for ``body`` (bytes), signed with each of ``signing_secrets``."""
    now = now or datetime.now(timezone.utc)
    text = body.decode()
    signatures = " ".join(Webhook(secret).sign(msg_id=message_id, timestamp=now, data=text) for secret in signing_secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
    }
