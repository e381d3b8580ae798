"""Subjects and their reference images: create, change (logged, verification reset when the
person changes), delete (never with sessions: they are the audit trail), upload."""

import logging

from django.core.files.base import ContentFile
from django.db import IntegrityError
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _

from ..common import costly_work
from ..exceptions import StorageMisconfigured, StorageUnavailable, SubjectConflict, SubjectHasSessions
from ..images import validate_reference_image
from ..models import LivenessEvent, ReferenceImage, Subject
from .base import atomic_with_retry, check_subject_may_proceed, delete_files_on_commit, lock_subject, log_event

logger = logging.getLogger("django_liveness")
Event = LivenessEvent.Kind
# Changing these means another person: the subject's verification does not carry over.
IDENTITY_FIELDS = ("user", "external_id")
EDITABLE_FIELDS = ("user", "external_id", "display_name")


def find_or_create_subject(*, external_id=None, user=None, **fields):
    """Return ``(subject, created)``: the subject with ``external_id``, else the one linked to
    ``user``, else a new one with ``fields``.

    Raises SubjectConflict when the external_id and the user do not belong to one subject.
    """

    def existing():
        if external_id:
            subject = Subject.objects.filter(external_id=external_id).first()
            if subject is not None:
                if user is not None and subject.user_id is None:
                    raise SubjectConflict(
                        _(
                            "A subject with this external_id exists and is linked to no user; link it with "
                            "PATCH subjects/{id}/ first."
                        )
                    )
                if user is not None and subject.user_id != user.pk:
                    raise SubjectConflict(_("A subject with this external_id exists, linked to another user."))
                return subject
        if user is not None:
            subject = Subject.objects.filter(user=user).first()
            if subject is not None and external_id:
                raise SubjectConflict(_("This user already has a subject, with another external_id."))
            return subject
        return None

    subject = existing()
    if subject is not None:
        return subject, False
    new = {**fields, "user": user} | ({"external_id": external_id} if external_id else {})
    try:
        return _create_subject(new), True
    except IntegrityError:  # created concurrently since we looked
        subject = existing()
        if subject is None:
            raise
        return subject, False


@atomic_with_retry
def _create_subject(fields):
    return Subject.objects.create(**fields)


@atomic_with_retry
def update_subject(subject, *, actor=None, **changes):
    """Change a subject's ``user``, ``external_id`` or ``display_name``; return it.

    The change is an event with the old and new values. When the person changes (another user
    or external_id), the subject's verification is reset: it belonged to the other person.
    Raises SubjectConflict when another subject has that user or external_id.
    """
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValueError(f"update_subject cannot change {unknown[0]!r}.")
    locked = lock_subject(subject.pk)
    changed = {}
    for name, value in changes.items():
        old = getattr(locked, f"{name}_id" if name == "user" else name)
        new = getattr(value, "pk", value)
        if old != new:
            changed[name] = (old, new)
            setattr(locked, name, value)
    if not changed:
        return locked
    if "user" in changed and locked.user_id and Subject.objects.filter(user_id=locked.user_id).exclude(pk=locked.pk).exists():
        raise SubjectConflict(_("This user already has another subject."))
    if "external_id" in changed and Subject.objects.filter(external_id=locked.external_id).exclude(pk=locked.pk).exists():
        raise SubjectConflict(_("Another subject has this external_id."))
    fields = list(changed)
    if any(name in IDENTITY_FIELDS for name in changed) and locked.verified_at is not None:
        changed["verified_at"] = (locked.verified_at.isoformat(), None)
        locked.verified_at = None
        fields.append("verified_at")
    locked.save(update_fields=[*fields, "updated_at"])
    log_event(
        Event.SUBJECT_CHANGED,
        subject=locked,
        actor=actor,
        data={name: {"old": _plain(old), "new": _plain(new)} for name, (old, new) in changed.items()},
    )
    return locked


def _plain(value):
    return str(value) if value is not None and not isinstance(value, (str, int)) else value


@atomic_with_retry
def delete_subject(subject, *, actor=None):
    """Delete a subject that has no sessions, its consents and its reference images (files too).

    A subject with sessions is never deleted (they are the audit trail): erase its biometric data
    instead (``privacy.erase_subject``). Raises SubjectHasSessions.
    """
    locked = lock_subject(subject.pk)
    if locked.sessions.exists():
        raise SubjectHasSessions(
            _("This subject has liveness sessions, which are the audit trail: erase its biometric data instead.")
        )
    images = list(locked.reference_images.all())
    log_event(Event.SUBJECT_DELETED, actor=actor, data={"subject": str(locked.pk), "images": len(images)})
    locked.delete()
    delete_files_on_commit((image.file.storage, image.file.name) for image in images)


# --- reference images ---------------------------------------------------------------------


def add_reference_image(subject, source, *, actor=None):
    """Validate and store a new active reference image (the previous one is deactivated).

    Raises ValidationError for a bad image, StorageUnavailable when the storage fails (nothing
    stored in either case), SubjectErased or ConsentRequired.
    """
    check_subject_may_proceed(subject)
    costly_work.spend()  # reading and decoding the image: a refused upload counts from here on
    validated = validate_reference_image(source)
    image = ReferenceImage(
        subject=subject,
        content_type=validated.content_type,
        size=validated.size,
        width=validated.width,
        height=validated.height,
        sha256=validated.sha256,
        is_active=True,
    )
    # Stored before the transaction, which then holds no lock while the storage works (and can run
    # again without storing twice).
    _store_file(image, validated)
    try:
        _save_reference_image(image, actor=actor)
    except Exception:
        # The database write failed after the file was stored: leave no orphan file behind.
        image.file.storage.delete(image.file.name)
        raise
    return image


@atomic_with_retry
def _save_reference_image(image, *, actor):
    subject = image.subject
    # Serialises uploads per subject, so "one active image" holds under concurrency; read
    # locked, an erasure or a withdrawn consent since the first check counts.
    check_subject_may_proceed(lock_subject(subject.pk))
    ReferenceImage.objects.filter(subject=subject, is_active=True).update(is_active=False)
    image.save(force_insert=True)
    log_event(
        Event.IMAGE_UPLOADED,
        subject=subject,
        actor=actor,
        data={"reference_image": str(image.pk), "sha256": image.sha256, "size": image.size},
    )
    _flag_duplicate_photo(image, actor=actor)


def with_duplicate_flags(images):
    """``images`` annotated with ``is_duplicate``: the same photo (SHA-256) is on another subject."""
    others = ReferenceImage.objects.filter(sha256=OuterRef("sha256")).exclude(subject_id=OuterRef("subject_id"))
    return images.annotate(is_duplicate=Exists(others))


def _flag_duplicate_photo(image, *, actor=None):
    """The same photo on two subjects is the cheapest way to enrol one face as many people: record
    it on the new image's subject (the admin filters on it) for a person to look at."""
    others = list(
        ReferenceImage.objects.filter(sha256=image.sha256)
        .exclude(subject_id=image.subject_id)
        .values_list("subject_id", flat=True)
        .distinct()[:10]
    )
    image.is_duplicate = bool(others)
    if others:
        log_event(
            Event.DUPLICATE_REFERENCE,
            subject=image.subject,
            actor=actor,
            data={"reference_image": str(image.pk), "other_subjects": [str(pk) for pk in others]},
        )


# A folder that cannot be made or written: a configuration error, not a passing failure.
MISCONFIGURED_STORAGE_ERRORS = (PermissionError, FileExistsError, NotADirectoryError, IsADirectoryError)


def _store_file(image, validated):
    try:
        image.file.save(f"upload{validated.extension}", ContentFile(validated.data), save=False)
    except MISCONFIGURED_STORAGE_ERRORS as error:
        logger.error("The reference-image storage cannot be written (%s); fix its folder (manage.py check).", error)
        raise StorageMisconfigured(
            _(
                "The server cannot write to its image storage: a configuration error that its administrator must "
                "fix (manage.py check names it). Nothing was stored."
            )
        ) from error
    except Exception as error:
        # Each storage backend fails in its own way (OSError, Azure or S3 errors): one error for callers.
        logger.error("Storing a reference image failed (%s); nothing was kept.", type(error).__name__)
        raise StorageUnavailable(_("The image could not be stored; try again later.")) from error


@atomic_with_retry
def delete_reference_image(image, *, actor=None):
    """Delete a reference image's row and its file from storage."""
    log_event(Event.IMAGE_DELETED, subject=image.subject, actor=actor, data={"reference_image": str(image.pk)})
    image.delete()
    delete_files_on_commit([(image.file.storage, image.file.name)])


def record_image_view(image, *, actor):
    """Note in the event log that ``actor`` looked at a reference image."""
    log_event(Event.IMAGE_VIEWED, subject=image.subject, actor=actor, data={"reference_image": str(image.pk)})
