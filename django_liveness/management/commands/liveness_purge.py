"""``manage.py liveness_purge [--dry-run]``: apply LIVENESS['RETENTION'] and pending erasures."""

from django.core.management.base import BaseCommand

from django_liveness import services


class Command(BaseCommand):
    help = "Delete or redact biometric data past its retention period and erase subjects who withdrew consent."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count what would be done, change nothing")

    def handle(self, *args, dry_run, **options):
        summary = services.apply_retention(dry_run=dry_run)
        prefix = "Would purge" if dry_run else "Purged"
        self.stdout.write(
            f"{prefix}: {summary['reference_images']} reference image(s), {summary['payloads_redacted']} result "
            f"payload(s) redacted, {summary['session_images']} session image(s), {summary['sessions_deleted']} session(s) deleted, {summary['remote_deleted']} "
            f"provider session(s) deleted, {summary['subjects_erased']} subject(s) erased, "
            f"{summary['webhook_deliveries']} old webhook delivery(ies) deleted, "
            f"{summary['idempotency_keys']} expired Idempotency-Key(s) deleted."
        )
