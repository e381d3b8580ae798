"""Create the demo user (idempotent) and print how to log in."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERNAME, PASSWORD = "demo", "demo-password"


class Command(BaseCommand):
    help = "Create the demo staff user of the example project."

    def handle(self, *args, **options):
        user, created = get_user_model().objects.get_or_create(username=USERNAME, defaults={"is_staff": True, "is_superuser": True})
        if created:
            user.set_password(PASSWORD)
            user.save()
        self.stdout.write(f"Demo user: {USERNAME} / {PASSWORD} ({'created' if created else 'already there'})")
