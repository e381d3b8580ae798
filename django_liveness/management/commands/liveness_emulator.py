"""``manage.py liveness_emulator``: the Face liveness emulator on its own port."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.core.wsgi import get_wsgi_application
from django.urls import clear_url_caches

from django_liveness.conf import liveness_settings
from django_liveness.emulator.__main__ import DEFAULT_PORT, serve


class Command(BaseCommand):
    help = "Run the offline Face liveness emulator (test mode; never for production)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=DEFAULT_PORT)
        parser.add_argument("--key", default=None, help="subscription key to accept (default LIVENESS['EMULATOR_KEY'])")
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument("--verbose", action="store_true")

    def handle(self, *args, host, port, key, latency_ms, verbose, **options):
        # This process serves only the emulator, at the root like the standalone server.
        settings.ROOT_URLCONF = "django_liveness.emulator.urls"
        clear_url_caches()
        serve(
            host,
            port,
            key or liveness_settings.EMULATOR_KEY,
            latency_ms=latency_ms,
            verbose=verbose,
            app=get_wsgi_application(),
            out=self.stdout.write,
        )
