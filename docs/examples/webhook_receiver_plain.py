"""A django-liveness webhook receiver in plain Python: the standard library and ``standardwebhooks``.

pip install standardwebhooks
LIVENESS_WEBHOOK_SECRET=whsec_... python webhook_receiver_plain.py
"""

import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = os.environ["LIVENESS_WEBHOOK_SECRET"]  # whsec_..., shown once when the endpoint was made
handled = set()  # ids of the events handled; keep them in your database


def handle(event):
    """Act on one event, once."""
    subject = event["data"].get("subject", {})
    if event["type"] == "liveness.verified":
        print("grant access to", subject["external_id"])
    elif event["type"] == "liveness.failed":
        print("revoke access of", subject["external_id"], "because", event["data"]["reason"])


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            # Checks the signature (any of them, during a secret rotation) and the timestamp (5 minutes).
            event = Webhook(SECRET).verify(body, dict(self.headers))
        except WebhookVerificationError:
            self.send_response(400)
            self.end_headers()
            return
        if event["id"] not in handled:  # a retry or a replay carries the same id
            handled.add(event["id"])
            handle(event)
        self.send_response(204)  # any 2xx: delivered; answer fast, do slow work later
        self.end_headers()


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
