"""The work one uploaded image may cost: what its header declares, and a few seconds at most.

A hostile file can declare a small image and still ask for a lot of work: a PNG whose compressed
pixels inflate to gigabytes, a JPEG with thousands of scans (each one a pass over the whole
image), a file made of nothing but markers or chunks. ``validation`` checks the declared size against
the pixel budget (``validation.MAX_PIXELS``) before any decoding; the decoders then stop at the work
that size implies (``cleaning``), and every upload gets a time budget on top, checked while
the bytes are read, whichever decoder reads them. The layout of a JPEG, PNG or GIF (markers,
chunks, blocks) is walked and counted first, quickly: Pillow walks it one piece at a time in Python.
"""

import io
import time

# Seconds of work (CPU time of the thread reading the image, so a busy server does not shrink it):
# far above what reading a genuine 6 MB, 4096 x 4096 image takes (a few tenths of a second).
DECODE_SECONDS = 2.0
# A progressive JPEG has about ten scans; every scan is a pass over the whole image.
MAX_JPEG_SCANS = 100
# Markers and segments outside the scans: a photo has a few dozen.
MAX_JPEG_SEGMENTS = 1000
# 0xFF bytes that may pad a JPEG marker: encoders write none or a few.
MAX_JPEG_FILL_BYTES = 1024
# Sub-blocks of a GIF's extensions before its first image (comments, XMP, application data).
MAX_GIF_SUB_BLOCKS = 10_000
# Chunks of a PNG: an encoder writes its pixels in IDAT chunks of 8 KB or more (6 MB: < 800).
MAX_PNG_CHUNKS = 10_000


class OverBudget(ValueError):
    """The image asks for more work than it may (the caller refuses it as too complex)."""


class Deadline:
    """When the work on one image must be over, in CPU time of the thread that reads it."""

    def __init__(self, seconds=None):
        self.seconds = DECODE_SECONDS if seconds is None else seconds
        self.ends = time.thread_time() + self.seconds

    def check(self):
        if time.thread_time() > self.ends:
            raise OverBudget(f"reading the image took more than {self.seconds} seconds")


class TimedReader(io.BytesIO):
    """The image's bytes for a decoder (Pillow reads through ``read``): the deadline is checked
    at every read, so a decoder that reads little at a time (BMP's run lengths) is stopped too."""

    def __init__(self, data, deadline):
        super().__init__(data)
        self.deadline = deadline

    def read(self, size=-1):
        self.deadline.check()
        return super().read(size)


def png_inflated_size(width, height, bit_depth, color_type, interlaced):
    """How many bytes a PNG's pixels inflate to (each row: a filter byte, then the pixels);
    an interlaced image is seven smaller images (Adam7 passes), each with its own rows."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]

    def rows(pass_width, pass_height):
        if not pass_width or not pass_height:
            return 0
        return pass_height * (1 + (pass_width * channels * bit_depth + 7) // 8)

    if not interlaced:
        return rows(width, height)
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    return sum(
        rows(max(0, (width - x + dx - 1) // dx), max(0, (height - y + dy - 1) // dy)) for x, y, dx, dy in passes
    )
