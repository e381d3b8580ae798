"""A short-lived process (a management command, a script, `manage.py shell`) delivers the webhooks
of what it did before it exits, instead of leaving them claimed for liveness_sync to find later."""

import time

from .file_sqlite import file_sqlite_site
from .webhook_receiver import Receiver

# `manage.py shell -c` scripts: first an endpoint for reviews and a completed session to review ...
SETUP = """
from django_liveness import webhooks
from django_liveness.testing import LivenessSessionFactory

endpoint, secret = webhooks.create_endpoint({url!r}, events=[webhooks.SESSION_REVIEWED])
print(secret, LivenessSessionFactory(completed=True).pk)
"""
# ... then, in a process of its own, the review, and the process exits.
REVIEW = """
from django_liveness import services
from django_liveness.models import LivenessSession
from django_liveness.testing import UserFactory

session = LivenessSession.objects.get(pk={session_id!r})
services.review_session(session, reviewer=UserFactory(is_staff=True), decision="rejected", note="A printed photo.")
"""


def test_a_review_from_manage_py_shell_delivers_its_webhook_before_the_process_exits(tmp_path):
    run = file_sqlite_site(tmp_path)
    with Receiver() as receiver:
        setup = run("shell", "-c", SETUP.format(url=receiver.url))
        assert setup.returncode == 0, setup.stderr
        secret, session_id = setup.stdout.split()[-2:]
        receiver.secrets.append(secret)
        started = time.monotonic()
        review = run("shell", "-c", REVIEW.format(session_id=session_id))
        assert review.returncode == 0, review.stderr
        # Delivered by the process itself before it exited (within seconds): nothing left for liveness_sync.
        assert time.monotonic() - started < 20
        (event,) = receiver.delivered()
    assert (event["type"], event["data"]["session"]["id"]) == ("session.reviewed", session_id)
    assert "Traceback" not in review.stderr, review.stderr
