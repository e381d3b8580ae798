"""``manage.py liveness_emulator``: the Face liveness emulator on its own port."""

from django.core.management.base import BaseCommand, CommandError

from django_liveness.conf import liveness_settings
from django_liveness.emulator.__main__ import DEFAULT_PORT, add_fault_arguments, fault_settings, serve


class Command(BaseCommand):
    help = "Run the offline Face liveness emulator (test mode; never for production)."
    # The emulator needs nothing of the project: run it even while its checks fail (say, no endpoint yet).
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
        parser.add_argument("--key", default=None, help="subscription key to accept (default LIVENESS['EMULATOR_KEY'])")
        parser.add_argument("--verbose", action="store_true")
        add_fault_arguments(parser)

    def handle(self, *args, host, port, key, verbose, **options):
        # Only the emulator's own views, without the project's URLconf or middleware (see EmulatorApplication).
        try:
            serve(
                host,
                port,
                key or liveness_settings.EMULATOR_KEY,
                faults=fault_settings(options),
                verbose=verbose,
                out=self.stdout.write,
            )
        except ValueError as error:  # a fault setting out of range
            raise CommandError(str(error)) from None
