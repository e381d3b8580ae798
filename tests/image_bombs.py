"""Hostile images for the decoding-bound tests and the uploads benchmark: small files that ask for
far more work than their header declares."""

import struct
import zlib

from django_liveness.images.budget import png_inflated_size

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ZLIB_BEST_RATIO_HEADER = b"\x78\xda"


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_ihdr(width, height, bit_depth=8, color_type=2, interlace=0):
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace))


def png(ihdr, compressed, idat_size=1 << 20):
    """A PNG of ``ihdr`` whose IDAT chunks (``idat_size`` bytes each) hold ``compressed``."""
    idats = [png_chunk(b"IDAT", compressed[start : start + idat_size]) for start in range(0, len(compressed), idat_size)]
    return PNG_SIGNATURE + ihdr + b"".join(idats) + png_chunk(b"IEND", b"")


def zeros_deflated(total, block=64 << 20):
    """A valid zlib stream of ``total`` zero bytes (a multiple of ``block``), made without deflating
    them all: after a full flush deflate starts afresh, so every block of zeros compresses to the
    same bytes, and the Adler-32 of n zeros is (n mod 65521) << 16 | 1."""
    block = min(block, total)
    assert total % block == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    one_block = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush(zlib.Z_FINISH)
    adler = ((total % 65521) << 16) | 1
    return ZLIB_BEST_RATIO_HEADER + one_block * (total // block) + end + struct.pack(">I", adler)


def png_inflation_bomb(inflated=2 << 30, width=64, height=64):
    """A ``width`` x ``height`` PNG (RGB, 8 bits) whose pixels inflate to ``inflated`` bytes (2 GiB:
    a 2 MB file): every row past the declared ones is extra."""
    return png(png_ihdr(width, height), zeros_deflated(inflated))


def png_inflated_size_of(width, height, color_type, interlaced):
    """The pixel data size of an 8-bit PNG (see ``image_budget.png_inflated_size``)."""
    return png_inflated_size(width, height, 8, color_type, interlaced)
