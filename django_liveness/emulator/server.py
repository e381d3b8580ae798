"""A small threaded HTTP server for the emulator (standalone and in tests).

It is wsgiref with threads, plus one thing runserver cannot do: when a view answers with a
response marked ``drop_connection``, the socket is closed without a response, as a network
fault would.
"""

import socket
import sys
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler

EMULATOR_URLCONF = "django_liveness.emulator.urls"


class EmulatorApplication(WSGIHandler):
    """A WSGI app of the emulator's own views: the emulator's URLconf and no middleware.

    The host project's middleware (ALLOWED_HOSTS, SECURE_SSL_REDIRECT, login walls ...) and its
    ROOT_URLCONF are for its own pages; the emulator stands in for an Azure service.
    """

    def load_middleware(self, is_async=False):
        # BaseHandler.load_middleware with an empty MIDDLEWARE, whatever the settings say.
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response)

    def get_response(self, request):
        request.urlconf = EMULATOR_URLCONF
        return super().get_response(request)


class _Dropped(Exception):
    pass


class _ServerHandler(ServerHandler):
    def finish_response(self):
        if getattr(self.result, "drop_connection", False):
            raise _Dropped
        super().finish_response()

    def handle_error(self):
        if isinstance(sys.exc_info()[1], _Dropped):
            self.request_handler.connection.shutdown(socket.SHUT_RDWR)
            return
        super().handle_error()


class _RequestHandler(WSGIRequestHandler):
    def handle(self):
        # wsgiref's handle(), with our ServerHandler.
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536 or not self.parse_request():
            return
        handler = _ServerHandler(self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True)
        handler.request_handler = self
        handler.run(self.server.get_app())

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    verbose = False
    # socketserver's backlog of 5 drops the connects of a burst (many sync threads): each waits a
    # second for its SYN to be sent again.
    request_queue_size = 128


class EmulatorServer:
    """Serve a WSGI app on ``host:port`` in a background thread (port 0 picks a free port).

    ``with EmulatorServer(app, prefix="/emulator") as server: server.endpoint``.
    """

    def __init__(self, app, *, host="127.0.0.1", port=0, prefix="", verbose=False):
        self.httpd = _ThreadingServer((host, port), _RequestHandler)
        self.httpd.verbose = verbose
        self.httpd.set_app(app)
        self.host, self.port = self.httpd.server_address[:2]
        self.endpoint = f"http://{self.host}:{self.port}{prefix}"
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, name="liveness-emulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        # A short poll so that stop() returns at once (the default is half a second).
        self.httpd.serve_forever(poll_interval=0.05)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
