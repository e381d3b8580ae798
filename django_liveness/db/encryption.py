"""Secrets at rest: webhook signing secrets and open sessions' auth tokens, encrypted in the database.

The key is derived from ``SECRET_KEY`` (HMAC-SHA256 with a salt of its own, so it is no other
key Django derives); the cipher is Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``).
``SECRET_KEY_FALLBACKS`` are honoured as Django honours them for signatures: a value encrypted
with a previous key still decrypts, every write encrypts with the current one, and
``manage.py liveness_reencrypt`` rewrites every stored value with the current key, after which
the previous one can leave ``SECRET_KEY_FALLBACKS`` (docs/deployment.md).

A stored value carries the ``fernet:`` prefix, so a value written before encryption existed is
recognised and read as it is (the migration encrypts them all, ``liveness_reencrypt`` too).
"""

import base64
import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models
from django.utils.crypto import salted_hmac

from ..exceptions import LivenessConfigurationError

logger = logging.getLogger("django_liveness")

PREFIX = "fernet:"
KEY_SALT = "django_liveness.encryption"


class SecretUndecryptable(LivenessConfigurationError):
    """A stored secret was encrypted with a key that is neither SECRET_KEY nor in SECRET_KEY_FALLBACKS."""


def _ciphers():
    """One Fernet per key, the current SECRET_KEY first. Derived at every call (an HMAC: microseconds),
    so override_settings and a rotated key apply at once."""
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [Fernet(base64.urlsafe_b64encode(salted_hmac(KEY_SALT, "at rest", secret=key, algorithm="sha256").digest())) for key in keys]


def _fernet():
    return MultiFernet(_ciphers())


def encrypt(plaintext):
    """The stored form of ``plaintext`` (a str), encrypted with the current SECRET_KEY."""
    return PREFIX + _fernet().encrypt(plaintext.encode()).decode()


def decrypt(stored):
    """The plaintext of a stored value; a value from before encryption is returned as it is."""
    if not stored.startswith(PREFIX):
        return stored
    try:
        return _fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise SecretUndecryptable(
            "A secret stored by django-liveness cannot be decrypted: SECRET_KEY changed and the key it was "
            "encrypted with is not in SECRET_KEY_FALLBACKS. Put the previous key in SECRET_KEY_FALLBACKS, run "
            "`manage.py liveness_reencrypt`, then remove it."
        ) from None


def is_current(stored):
    """Whether ``stored`` is encrypted with the current SECRET_KEY (False for plaintext or a fallback key)."""
    if not stored.startswith(PREFIX):
        return not stored
    try:
        _ciphers()[0].decrypt(stored[len(PREFIX) :].encode())
    except InvalidToken:
        return False
    return True


class EncryptedTextField(models.TextField):
    """A text column holding ``encrypt(value)``; Python code sees the plaintext. The empty string is
    stored as it is (nothing to hide, and ``exclude(field="")`` keeps working); other lookups on
    the column cannot match (each encryption differs).

    ``lost_is_blank``: a value that no key decrypts reads as "" (with a warning) instead of raising:
    for a short-lived credential (an auth token) that is worth less than the page that reads it."""

    def __init__(self, *args, lost_is_blank=False, **kwargs):
        self.lost_is_blank = lost_is_blank
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.lost_is_blank:
            kwargs["lost_is_blank"] = True
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        try:
            return decrypt(value)
        except SecretUndecryptable:
            if not self.lost_is_blank:
                raise
            logger.warning("A stored %s could not be decrypted (SECRET_KEY changed); read as empty.", self.name)
            return ""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else value
