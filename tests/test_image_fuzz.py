"""Fuzzing the upload's validation and cleaning with malformed images (Hypothesis).

Valid seeds of every accepted format and layout are mutated: bytes flipped, header fields set to
huge or zero values, cut short, spliced with copies of themselves or random bytes. Whatever comes
out, validation either accepts it or raises the project's ValidationError (never another
exception), within a bounded time and bounded memory.
"""

import io
import struct
import time
import tracemalloc
import zlib

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from django_liveness.images import validate_reference_image

from .image_bombs import png, png_ihdr, png_inflated_size_of


def encode(image_format, size=(48, 40), mode="RGB", **options):
    buffer = io.BytesIO()
    image = Image.effect_noise(size, 40).convert(mode)
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def animated_gif():
    frames = [Image.effect_noise((40, 40), 30 + n).convert("P") for n in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], comment=b"hello")
    return buffer.getvalue()


def interlaced_png():
    return png(png_ihdr(40, 44, color_type=0, interlace=1), zlib.compress(bytes(png_inflated_size_of(40, 44, 0, True))))


SEEDS = {
    "jpeg": encode("JPEG"),
    "jpeg-progressive": encode("JPEG", progressive=True),
    "jpeg-restart": encode("JPEG", restart_marker_blocks=1),
    "png-rgb": encode("PNG"),
    "png-palette": encode("PNG", mode="P"),
    "png-16bit": encode("PNG", mode="I;16"),
    "png-interlaced": interlaced_png(),
    "gif": encode("GIF", mode="P"),
    "gif-animated": animated_gif(),
    "bmp": encode("BMP"),
    "bmp-8bit": encode("BMP", mode="P"),
}
HUGE = [b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x10\x00", b"\xff\xff", b"\x00\x00\x00\x00", b"\x10\x00"]


@st.composite
def malformed(draw):
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "huge", "truncate", "splice", "insert", "repeat"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        near_header = draw(st.integers(0, min(64, len(data) - 1)))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "huge":  # a size field in the header made huge or zero
            value = draw(st.sampled_from(HUGE))
            data[near_header : near_header + len(value)] = value
        elif kind == "truncate":
            del data[at:]
        elif kind == "splice":
            other = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
            data[at:] = other[draw(st.integers(0, len(other) - 1)) :]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:  # a slice repeated many times: chunks, markers, scans
            piece = bytes(data[at : at + draw(st.integers(1, 64))])
            data[at:at] = piece * draw(st.integers(2, 20_000))
    return bytes(data)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=malformed())
def test_malformed_images_are_refused_cleanly_in_bounded_time_and_memory(data):
    tracemalloc.start()
    started = time.thread_time()
    try:
        validate_reference_image(data)
    except ValidationError as refused:
        assert refused.code in {"empty", "too_large", "unsupported_format", "too_many_pixels", "too_small", "corrupt", "too_complex"}
    finally:
        seconds, peak = time.thread_time() - started, tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert seconds < 1
    assert peak < 4 * len(data) + 16 * 1024 * 1024  # copies of the file and a few slices, never a whole inflated image


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_seed_is_valid(name):
    """The mutations start from images that pass (else the fuzzing would only test the refusals)."""
    assert validate_reference_image(SEEDS[name]).width >= 36


def test_png_ihdr_fields_set_huge_are_refused_before_any_inflating():
    seed = SEEDS["png-rgb"]
    for field_offset in (16, 20):  # width, height
        data = bytearray(seed)
        data[field_offset : field_offset + 4] = struct.pack(">I", 0x7FFFFFFF)
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # a correct CRC: only the size is wrong
        with pytest.raises(ValidationError) as refused:
            validate_reference_image(bytes(data))
        assert refused.value.code == "too_many_pixels"
