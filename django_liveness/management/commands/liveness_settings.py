"""``manage.py liveness_settings [--abuse-monitoring on|off]``: the Face resource's liveness settings.

Shows them (Face API v1.3-preview.1's ``GET /settings``), or turns the resource's liveness abuse
monitoring on or off first (``PATCH /settings``): sessions created from then on carry the new
setting. An API version without the settings is a CommandError that says which version has them.
"""

from django.core.management.base import BaseCommand, CommandError

from django_liveness.exceptions import BackendError, LivenessError, ProviderUnavailable
from django_liveness.services import face_resource


class Command(BaseCommand):
    help = "Show the Face resource's liveness settings, or turn its abuse monitoring on or off (Face API v1.3-preview.1)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--abuse-monitoring",
            choices=("on", "off"),
            help="turn the resource's liveness abuse monitoring on or off (for sessions created from now on)",
        )

    def handle(self, *args, abuse_monitoring, **options):
        try:
            if abuse_monitoring is None:
                settings = face_resource.get_liveness_settings()
            else:
                settings = face_resource.set_abuse_monitoring(abuse_monitoring == "on")
        except (LivenessError, NotImplementedError) as error:
            raise CommandError(failure(error)) from None
        state = face_resource.on_off(settings.abuse_monitoring)
        if abuse_monitoring is None:
            self.stdout.write(f"Liveness abuse monitoring: {state}")
        else:
            self.stdout.write(self.style.SUCCESS(f"Liveness abuse monitoring is now {state}, for sessions created from now on."))


def failure(error):
    """A backend's refusal (or a missing capability) in words for the operator."""
    said = error.message or "no explanation given" if isinstance(error, LivenessError) else str(error)
    if isinstance(error, ProviderUnavailable):
        status = f"({error.status})" if error.status else "(no answer)"
        return f"The Face service failed {status}: {said.rstrip('.')}. The fault is on Azure's side: try again in a few minutes."
    if isinstance(error, BackendError):
        status = f"{error.status} {error.code}" if error.status else error.code
        return f"The Face service refused the request ({status}): {said}"
    return str(error)
