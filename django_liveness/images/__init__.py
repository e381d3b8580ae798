"""Reference images: what an upload must be, and what is kept of it.

This package owns the checks an image must pass before it is stored (``validation``: format, size,
sides, read to its last byte), the rewrite that keeps the image alone without its metadata
(``cleaning``), and the work one upload may cost (``budget``). It imports nothing of django_liveness
(Pillow and Django only), so that the service layer, the backends' in-memory test double and the
emulator may all use it. Its public names are re-exported here: ``from django_liveness.images import
validate_reference_image, sample_face_image``.
"""

from .validation import (
    FORMATS,
    MAX_BYTES,
    MAX_PIXELS,
    MAX_SIDE,
    MIN_SIDE,
    ValidatedImage,
    read_image_bytes,
    sample_face_image,
    validate_reference_image,
)

__all__ = [
    "FORMATS",
    "MAX_BYTES",
    "MAX_PIXELS",
    "MAX_SIDE",
    "MIN_SIDE",
    "ValidatedImage",
    "read_image_bytes",
    "sample_face_image",
    "validate_reference_image",
]
