"""``manage.py liveness_sync``: refresh sessions nobody completed, clean up at the provider, and
send the webhook deliveries that are due (``liveness_webhooks`` does only that).

Run it from cron every few minutes, on as many machines as you like: each run claims its own
sessions. With a task backend in ``TASKS`` (not the immediate one) it enqueues the work for the
workers instead, one task per batch (``--here`` runs it in this process all the same).
"""

from django.core.management.base import BaseCommand

from django_liveness import services, tasks, webhooks
from django_liveness.exceptions import BackendError


class Command(BaseCommand):
    help = "Fetch results of open sessions, retry failed deletions, delete provider sessions with no local row."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=500, help="sessions per run (default 500)")
        parser.add_argument("--skip-orphans", action="store_true", help="do not list the provider's sessions")
        parser.add_argument("--here", action="store_true", help="run in this process even with a task backend")

    def handle(self, *args, limit, skip_orphans, here, **options):
        if tasks.in_background() and not here:
            count = tasks.enqueue_sync(limit=limit)
            tasks.send_webhooks.enqueue()
            self.stdout.write(f"Enqueued {count} sync task(s) and the webhook deliveries for the workers.")
            return
        summary = services.sync_sessions(limit=limit)
        self.stdout.write(
            f"Refreshed {summary['refreshed']} open session(s), {summary['changed']} changed, "
            f"{summary['errors']} provider error(s); {summary['remote_deleted']} provider session(s) deleted, "
            f"{summary['session_images']} session image(s) stored."
        )
        self.stdout.write(webhooks_report(webhooks.send_due()))
        if not skip_orphans:
            try:
                orphans = services.delete_orphan_remote_sessions()
            except BackendError as error:
                self.stderr.write(f"Could not list the provider's sessions: {error.code}.")
                return
            if orphans is None:
                self.stdout.write("The provider cannot list its sessions (Face API v1.2): no orphan sweep.")
            else:
                self.stdout.write(f"Deleted {orphans} provider session(s) with no local row.")


def webhooks_report(summary):
    return (
        f"Webhooks: {summary['sent']} delivered, {summary['retrying']} to be tried again, "
        f"{summary['failed']} given up."
    )
