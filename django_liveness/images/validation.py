"""Reference image validation, by the Face service's rules.

JPEG, PNG, GIF (first frame) or BMP, recognised from the bytes (never the name or the declared
content type); at most 6 MB; at most 4096 pixels a side, checked from the header before any
decoding so that a decompression bomb is refused cheaply; read to its last byte so that truncated
or corrupt files are refused too, in bounded memory: a JPEG is decoded at an eighth of its size
(every compressed block is still read), a PNG's compressed stream is inflated piece by piece and
thrown away (and every chunk's CRC checked), a GIF's first frame or a BMP (small: 6 MB at most) is
decoded. No decoder does more work than the header declares, and all of it stops at a time
budget (``budget``). Every refusal is a ValidationError with a stable code.

What is kept is the image alone, without metadata or trailing bytes (``cleaning``): its
size and SHA-256 are those of what is stored.
"""

import hashlib
import io
from dataclasses import dataclass, field
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from .budget import Deadline, OverBudget, TimedReader
from .cleaning import NotCleanable, check_layout, check_png_stream, clean_image

MAX_BYTES = 6 * 1024 * 1024
# 4096 x 4096: the largest the Face service detects faces in, far below Pillow's bomb limit (~89 Mpx).
MAX_SIDE = 4096
MAX_PIXELS = MAX_SIDE * MAX_SIDE
# The service finds no face smaller than 36 x 36 pixels.
MIN_SIDE = 36

FORMATS = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "GIF": ("image/gif", ".gif"),
    "BMP": ("image/bmp", ".bmp"),
}


@dataclass(frozen=True)
class ValidatedImage:
    content_type: str
    extension: str
    width: int
    height: int
    size: int
    sha256: str
    data: bytes = field(repr=False)


def _read(source):
    """Read at most MAX_BYTES + 1 bytes from bytes, an UploadedFile or a file object."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source[: MAX_BYTES + 1])
    if hasattr(source, "seek"):
        source.seek(0)
    return source.read(MAX_BYTES + 1)


def validate_reference_image(source):
    """Return a ValidatedImage for ``source`` or raise ValidationError saying what is wrong."""
    deadline = Deadline()
    data = _read(source)
    if not data:
        raise ValidationError(_("The file is empty."), code="empty")
    if len(data) > MAX_BYTES:
        raise ValidationError(
            _("The image is larger than %(limit)s bytes (6 MB), the Face service's limit."),
            code="too_large",
            params={"limit": MAX_BYTES},
        )
    try:
        check_layout(data, deadline)  # before Pillow, which walks markers and chunks one at a time
        image_format, width, height = _header(data, deadline)
        _check_size(width, height)
        _read_to_the_end(data, image_format, deadline)
        data, image_format = clean_image(data, image_format, deadline)
        with Image.open(io.BytesIO(data), formats=[image_format]) as image:
            width, height = image.size  # turned upright, a photo's sides swap
    except OverBudget:
        raise ValidationError(
            _("The image takes more work to read than a photo does; save it again as an ordinary JPEG or PNG."),
            code="too_complex",
        ) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, NotCleanable):
        raise ValidationError(_("The image is truncated or corrupt."), code="corrupt") from None
    content_type, extension = FORMATS[image_format]
    return ValidatedImage(
        content_type=content_type,
        extension=extension,
        width=width,
        height=height,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
    )


def _header(data, deadline):
    """``(format, width, height)`` from the header alone; no pixel is decoded."""
    try:
        with Image.open(TimedReader(data, deadline), formats=list(FORMATS)) as image:
            return image.format, *image.size
    except Image.DecompressionBombError:
        # Pillow itself refuses headers beyond twice its own limit, before we see the size.
        raise ValidationError(
            _("The image has more than %(limit)s pixels (4096 x 4096), the most allowed."),
            code="too_many_pixels",
            params={"limit": MAX_PIXELS},
        ) from None
    except OverBudget:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(_("The file is not a JPEG, PNG, GIF or BMP image."), code="unsupported_format") from None


def _check_size(width, height):
    """The pixel budget, from the header: no decoder is handed more than MAX_SIDE a side."""
    if max(width, height) > MAX_SIDE:
        raise ValidationError(
            _("The image is %(width)s x %(height)s pixels; at most %(limit)s x %(limit)s are allowed."),
            code="too_many_pixels",
            params={"width": width, "height": height, "limit": MAX_SIDE},
        )
    if min(width, height) < MIN_SIDE:
        raise ValidationError(
            _("The image is %(width)s x %(height)s pixels; each side must be at least %(limit)s pixels."),
            code="too_small",
            params={"width": width, "height": height, "limit": MIN_SIDE},
        )


def _read_to_the_end(data, image_format, deadline):
    """Raise unless the whole image can be read; never holds the full-size pixels of a JPEG or PNG."""
    if image_format == "PNG":
        check_png_stream(data, deadline)
        return
    with Image.open(TimedReader(data, deadline), formats=[image_format]) as image:
        if image_format == "JPEG":
            # libjpeg decodes every block, at 1/8 scale: the memory of a thumbnail.
            image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()


def read_image_bytes(reference_image):
    """The stored bytes of a ReferenceImage, read through its storage."""
    with reference_image.file.open("rb") as stored:
        return stored.read()


@lru_cache(maxsize=4)
def sample_face_image(width=480, height=640, image_format="JPEG"):
    """A small valid image for tests and the emulator's frontend (not a real face)."""
    image = Image.new("RGB", (width, height), (200, 170, 150))
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()
