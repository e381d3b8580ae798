"""``manage.py liveness_reencrypt``: write the secrets django-liveness keeps encrypted (webhook
signing secrets, open sessions' auth tokens) again with the current ``SECRET_KEY``.

Run it after rotating ``SECRET_KEY`` (the new key in ``SECRET_KEY``, the previous one in
``SECRET_KEY_FALLBACKS``), then remove the previous key from ``SECRET_KEY_FALLBACKS``.
"""

from django.core.management.base import BaseCommand

from django_liveness import services, webhooks


class Command(BaseCommand):
    help = "Encrypt the stored webhook secrets and open sessions' auth tokens again with the current SECRET_KEY."

    def handle(self, *args, **options):
        endpoints = webhooks.reencrypt_secrets()
        tokens = services.reencrypt_auth_tokens()
        self.stdout.write(
            f"Encrypted again with the current SECRET_KEY: the secrets of {endpoints} webhook endpoint(s) "
            f"and the auth tokens of {tokens} open session(s)."
        )
