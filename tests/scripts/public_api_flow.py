"""Only the public API: a subject with a reference image passes liveness with verification.

Run as a plain script (no test runner): it configures Django itself, with LocMemBackend.
"""

import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django_liveness"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    STORAGES={"default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}},
    USE_TZ=True,
    SECRET_KEY="only-for-this-script",  # auth tokens and webhook secrets are encrypted with a key derived from it
    LIVENESS={"BACKEND": "django_liveness.backends.locmem.LocMemBackend"},
)
django.setup()

from django.core.management import call_command  # noqa: E402

from django_liveness import services  # noqa: E402
from django_liveness.images import sample_face_image  # noqa: E402
from django_liveness.models import Consent, Subject  # noqa: E402
from django_liveness.signals import liveness_verified  # noqa: E402
from django_liveness.testing import locmem_backend  # noqa: E402

call_command("migrate", verbosity=0)

verified = []


def on_verified(sender, session, subject, **kwargs):
    verified.append((session.pk, subject.external_id))


liveness_verified.connect(on_verified)

subject = Subject.objects.create(external_id="customer-42", display_name="Ada")
Consent.objects.create(subject=subject, policy_version="1", text_sha256="0" * 64, purpose="onboarding")
services.add_reference_image(subject, sample_face_image())
session = services.start_session(subject, verify=True)
locmem_backend().complete(session, decision="realface", same_person=True)
session = services.refresh_session(session)
services.refresh_session(session)  # a second fetch changes nothing

assert verified == [(session.pk, "customer-42")], verified
print(f"status={session.status} outcome={session.outcome} verified_signals={len(verified)}")
