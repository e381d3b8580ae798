"""``python -m django_liveness.emulator --port 5050 --key KEY``: the emulator on its own."""

import argparse
import secrets

from .faults import FIELDS, FaultSettings

DEFAULT_PORT = 5050
FAULT_HELP = {
    "latency_ms": "delay added to every call, in milliseconds",
    "throttle_next": "answer the next N calls with 429",
    "retry_after": "Retry-After seconds of those 429s (default 1)",
    "error_next": "answer the next N calls with --error-status",
    "error_status": "500 (default), 502, 503 or 504",
    "drop_next": "close the connection without an answer for the next N calls",
}


def add_fault_arguments(parser):
    """``--latency-ms``, ``--throttle-next`` ...: faults armed at start (see docs/testing.md)."""
    group = parser.add_argument_group("faults armed at start")
    for name in FIELDS:
        group.add_argument(f"--{name.replace('_', '-')}", type=int, default=None, metavar="N", help=FAULT_HELP[name])


def fault_settings(options):
    """The fault settings given on the command line (a dict for ``Faults.configure``)."""
    return {name: options[name] for name in FIELDS if options.get(name) is not None}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m django_liveness.emulator",
        description="Offline emulator of the Azure AI Face liveness API (test mode; never for production).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks one)")
    parser.add_argument("--key", default="emulator-key", help="subscription key to accept (default emulator-key)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    add_fault_arguments(parser)
    return parser


def configure_django():
    """Give the emulator a minimal Django of its own, unless one is configured already."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY=secrets.token_urlsafe(32),
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF="django_liveness.emulator.urls",
            INSTALLED_APPS=[],
            MIDDLEWARE=[],
            USE_TZ=True,
            DATA_UPLOAD_MAX_MEMORY_SIZE=10 * 1024 * 1024,
        )
    django.setup()


def serve(host, port, key, *, faults=None, verbose=False, out=print):
    """Serve the emulator until Ctrl+C; ``faults`` are armed first (raises ValueError if invalid)."""
    from . import state
    from .server import EmulatorApplication, EmulatorServer

    state.faults.configure(**(faults or {}))
    state.key_override = key
    server = EmulatorServer(EmulatorApplication(), host=host, port=port, verbose=verbose)
    out(f"Face liveness emulator listening on {server.endpoint}")
    out(f"  VISION_ENDPOINT={server.endpoint}")
    out(f"  VISION_KEY={key}")
    armed = state.faults.snapshot()
    if armed != vars(FaultSettings()):
        out(f"  faults: {', '.join(f'{name}={value}' for name, value in armed.items())}")
    out("Press Ctrl+C to stop.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_django()
    try:
        serve(args.host, args.port, args.key, faults=fault_settings(vars(args)), verbose=args.verbose)
    except ValueError as error:  # a fault setting out of range
        parser.error(str(error))


if __name__ == "__main__":
    main()
