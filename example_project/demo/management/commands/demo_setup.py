"""Create the demo's two users (idempotent) and print how to log in."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

# The end user who proves liveness, and the staff member who reviews decisions in the admin.
USERS = {
    "demo": {"password": "demo-password", "is_staff": False, "is_superuser": False},
    "reviewer": {"password": "reviewer-password", "is_staff": True, "is_superuser": True},
}


class Command(BaseCommand):
    help = "Create the example project's end user (demo) and staff reviewer (reviewer)."

    def handle(self, *args, **options):
        for username, spec in USERS.items():
            user, created = get_user_model().objects.get_or_create(
                username=username, defaults={"is_staff": spec["is_staff"], "is_superuser": spec["is_superuser"]}
            )
            if created:
                user.set_password(spec["password"])
                user.save()
            role = "staff reviewer, /admin/" if spec["is_staff"] else "end user, /"
            state = "created" if created else "already there"
            self.stdout.write(f"{role}: {username} / {spec['password']} ({state})")
