"""``python -m django_liveness.emulator --port 5050 --key KEY``: the emulator on its own."""

import argparse
import secrets

DEFAULT_PORT = 5050


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m django_liveness.emulator",
        description="Offline emulator of the Azure AI Face liveness API (test mode; never for production).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks one)")
    parser.add_argument("--key", default="emulator-key", help="subscription key to accept (default emulator-key)")
    parser.add_argument("--latency-ms", type=int, default=0, help="delay added to every call")
    parser.add_argument("--verbose", action="store_true", help="log every request")
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


def serve(host, port, key, *, latency_ms=0, verbose=False, prefix="", app=None, out=print):
    from django.core.wsgi import get_wsgi_application

    from . import state
    from .server import EmulatorServer

    state.key_override = key
    if latency_ms:
        state.faults.configure(latency_ms=latency_ms)
    server = EmulatorServer(app or get_wsgi_application(), host=host, port=port, prefix=prefix, verbose=verbose)
    out(f"Face liveness emulator listening on {server.endpoint}")
    out(f"  VISION_ENDPOINT={server.endpoint}")
    out(f"  VISION_KEY={key}")
    out("Press Ctrl+C to stop.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


def main(argv=None):
    args = build_parser().parse_args(argv)
    configure_django()
    serve(args.host, args.port, args.key, latency_ms=args.latency_ms, verbose=args.verbose)


if __name__ == "__main__":
    main()
