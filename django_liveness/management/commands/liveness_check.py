"""``manage.py liveness_check [--kind liveness|verify|both] [--timeout SECONDS]``: prove the configuration.

Resolves the endpoint, authenticates, creates and deletes a session of each kind, and prints each
step with its latency. On a failure it exits with the status of its cause (docs/operations.md,
"Checking the configuration") and a plain explanation of what is wrong.
"""

from django.core.management.base import BaseCommand, CommandError

from django_liveness.operations import config_check

EXIT_STATUS = {
    config_check.REFUSED: 1,
    config_check.CONFIGURATION: 3,
    config_check.DOES_NOT_RESOLVE: 4,
    config_check.UNREACHABLE: 5,
    config_check.ACCESS_DENIED: 6,
    config_check.NOT_FOUND: 7,
    config_check.THROTTLED: 8,
    config_check.SERVICE_FAILED: 9,
}
KIND_CHOICES = {"both": config_check.KINDS, "liveness": (config_check.LIVENESS,), "verify": (config_check.VERIFY,)}


class Command(BaseCommand):
    help = "Prove the LIVENESS configuration end to end: resolve, authenticate, create and delete sessions."
    # The check reports a configuration error itself, in its own words, instead of stopping at the system checks.
    requires_system_checks = ()

    def add_arguments(self, parser):
        parser.add_argument(
            "--kind", choices=KIND_CHOICES, default="both", help="which sessions to create and delete (default both)"
        )
        parser.add_argument(
            "--timeout", type=float, help="seconds to connect and to wait for each answer (default: the backend's)"
        )

    def handle(self, *args, kind, timeout, **options):
        if timeout is not None and timeout <= 0:
            raise CommandError("--timeout must be a number of seconds above 0.")
        report = config_check.run_check(kinds=KIND_CHOICES[kind], timeout=timeout)
        write = self.stdout.write
        write("django-liveness configuration check")
        for label, value in (
            ("backend", report.backend),
            ("service", report.service),
            ("endpoint", report.endpoint),
            ("key", report.key),
            ("API version", report.api_version),
        ):
            if value:
                write(f"  {label + ':':<13}{value}")
        for note in report.notes:
            write(f"  note: {note}")
        for step in report.steps:
            latency = f"{step.latency_ms} ms" if step.latency_ms is not None else ""
            style = {config_check.OK: self.style.SUCCESS, config_check.FAILED: self.style.ERROR}.get(step.status, str)
            status = style(f"{step.status:<8}")
            write(f"  {status}{step.name:<38}{latency:>9}  {step.detail}".rstrip())
        failure = report.failure
        if failure is None:
            write(self.style.SUCCESS(f"OK: every step passed, in {report.total_ms} ms."))
            return
        write(self.style.ERROR(f"FAILED at '{failure.name}', after {report.total_ms} ms."))
        raise CommandError(failure.explanation, returncode=EXIT_STATUS[failure.cause])
