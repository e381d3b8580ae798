"""Helpers for testing code that uses django-liveness: factories and the in-memory backend.

    from django_liveness.testing import SubjectFactory, locmem_backend

Factories need ``factory-boy`` (installed with ``django-liveness[dev]``, or add it yourself).
See docs/testing.md.
"""

import hashlib

import factory
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone

from .backends import get_backend
from .backends.locmem import LocMemBackend
from .exceptions import LivenessConfigurationError
from .images import sample_face_image
from .models import Consent, LivenessSession, ReferenceImage, Subject


def locmem_backend():
    """The configured backend, which must be LocMemBackend (set LIVENESS['BACKEND'] in your test settings)."""
    backend = get_backend()
    if not isinstance(backend, LocMemBackend):
        raise LivenessConfigurationError(
            "locmem_backend() needs LIVENESS['BACKEND'] = 'django_liveness.backends.locmem.LocMemBackend'."
        )
    return backend


def wait_for_after_answer(timeout=30):
    """Wait until the work after ``complete/``'s answer (the session image's fetch, the remote
    deletion) that runs in this process's threads is done; it fails after ``timeout`` seconds.
    Needed only in a test whose transactions commit (pytest-django's ``transactional_db``,
    ``TransactionTestCase``) on a database other than in-memory SQLite: elsewhere it runs at once."""
    from .services import after_answer

    if not after_answer.wait_idle(timeout=timeout):
        raise AssertionError(f"the work after the answer still runs after {timeout} s")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("password")


class SubjectFactory(factory.django.DjangoModelFactory):
    """A subject; with ``consent=True`` (the default) it has valid consent, as REQUIRE_CONSENT needs."""

    class Meta:
        model = Subject
        skip_postgeneration_save = True

    external_id = factory.Sequence(lambda n: f"customer-{n}")
    display_name = factory.Sequence(lambda n: f"Person {n}")

    @factory.post_generation
    def consent(subject, create, extracted, **kwargs):
        if create and extracted is not False:
            ConsentFactory(subject=subject)


class ConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consent

    subject = factory.SubFactory(SubjectFactory, consent=False)
    policy_version = "2026-01"
    text_sha256 = hashlib.sha256(b"I agree to the processing of my face images.").hexdigest()
    purpose = "identity verification"


class ReferenceImageFactory(factory.django.DjangoModelFactory):
    """An active reference image holding a small valid JPEG."""

    class Meta:
        model = ReferenceImage

    subject = factory.SubFactory(SubjectFactory)
    file = factory.LazyFunction(lambda: ContentFile(sample_face_image(), name="face.jpg"))
    content_type = "image/jpeg"
    size = factory.LazyFunction(lambda: len(sample_face_image()))
    width = 480
    height = 640
    sha256 = factory.LazyFunction(lambda: hashlib.sha256(sample_face_image()).hexdigest())
    is_active = True


class LivenessSessionFactory(factory.django.DjangoModelFactory):
    """A session row only (no provider call); use services.start_session for a real one."""

    class Meta:
        model = LivenessSession

    subject = factory.SubFactory(SubjectFactory)
    kind = LivenessSession.Kind.LIVENESS
    operation_mode = LivenessSession.OperationMode.PASSIVE
    provider_session_id = factory.Faker("uuid4")
    device_correlation_id = factory.Faker("uuid4")
    auth_token_expires_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(minutes=10))

    class Params:
        completed = factory.Trait(
            status=LivenessSession.Status.COMPLETED,
            liveness_decision=LivenessSession.Decision.REALFACE,
            outcome=LivenessSession.Outcome.PASSED,
            completed_at=factory.LazyFunction(timezone.now),
            model_version="2023-12-20-preview.06",
        )


class capture_signal:
    """Record what a signal sends while the ``with`` block runs.

        with capture_signal(liveness_verified) as sent:
            ...
        assert sent[0]["session"] == session

    Each item is the keyword arguments of one send, plus ``sender``. The receiver is always
    disconnected on exit, so nothing leaks into other tests.
    """

    def __init__(self, signal):
        self.signal = signal
        self.calls = []

    def _receiver(self, sender, **kwargs):
        kwargs.pop("signal", None)
        self.calls.append({"sender": sender, **kwargs})

    def __enter__(self):
        self.signal.connect(self._receiver, weak=False)
        return self.calls

    def __exit__(self, *exc_info):
        self.signal.disconnect(self._receiver)
        return False
