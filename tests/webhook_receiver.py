"""A real webhook receiver on loopback for the tests: it verifies every request with the
``standardwebhooks`` package (not with django-liveness's own code) and records what it got."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    """``Receiver(secret)`` serves on 127.0.0.1; ``answers`` is a list of statuses to give before
    200 (one per request), ``delay`` seconds to wait before answering, ``headers`` to add;
    ``gate``: answer nothing until that many requests wait at once (or 8 s, below a sender's
    timeout, have passed), so that several senders are all at work before any finishes."""

    def __init__(self, secrets=(), *, answers=(), delay=0.0, headers=None, body=b"ok", port=0, tls=None, gate=None):
        self.secrets = list(secrets)
        self.answers = list(answers)
        self.delay = delay
        self.gate = gate
        self.waiting = 0
        self.opened = threading.Event()
        self.headers = headers or {}
        self.body = body
        self.requests = []  # every request: {"headers", "body", "verified": [secret, ...], "status"}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = dict(self.headers.items())
                verified = []
                for secret in receiver.secrets:
                    try:
                        Webhook(secret).verify(body, headers)
                    except WebhookVerificationError:
                        continue
                    verified.append(secret)
                with receiver.lock:
                    status = receiver.answers.pop(0) if receiver.answers else (200 if verified else 400)
                    receiver.requests.append(
                        {"headers": headers, "body": body, "verified": verified, "status": status, "path": self.path}
                    )
                if receiver.gate:
                    with receiver.lock:
                        receiver.waiting += 1
                        if receiver.waiting >= receiver.gate:
                            receiver.opened.set()
                    receiver.opened.wait(timeout=8)
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(receiver.body)))
                self.end_headers()
                try:
                    self.wfile.write(receiver.body)
                except OSError:  # the sender read what it wanted and hung up
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:  # an ssl.SSLContext with the server's certificate
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}/hooks/liveness"

    @property
    def port(self):
        return self.server.server_address[1]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def delivered(self):
        """The events the receiver accepted (2xx) with a valid signature, as parsed JSON."""
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests if r["verified"] and 200 <= r["status"] < 300]

    def wait_for(self, count, timeout=10):
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.requests
