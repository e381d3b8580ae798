"""``manage.py liveness_webhooks``: send the webhook deliveries that are due (first attempts that
were not made after their commit, and retries). ``liveness_sync`` does this too.

Run it from cron every minute, on as many machines as you like: each run claims its own
deliveries. With a task backend in ``TASKS`` it enqueues the work instead (``--here`` runs it in
this process all the same).
"""

from django.core.management.base import BaseCommand

from django_liveness import tasks, webhooks
from django_liveness.management.commands.liveness_sync import webhooks_report


class Command(BaseCommand):
    help = "Send the webhook deliveries that are due."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=1000, help="deliveries per run (default 1000)")
        parser.add_argument("--here", action="store_true", help="run in this process even with a task backend")

    def handle(self, *args, limit, here, **options):
        if tasks.in_background() and not here:
            tasks.send_webhooks.enqueue()
            self.stdout.write("Enqueued the webhook deliveries for the workers.")
            return
        self.stdout.write(webhooks_report(webhooks.send_due(limit=limit)))
