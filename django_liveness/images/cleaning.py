"""Keep only the image of an upload: no metadata, nothing after its end.

An uploaded photo can carry personal data beside the face (EXIF GPS position, device serial
number, XMP, comments) and anything after the image's last byte (a polyglot's HTML or zip).
What is stored is the image alone, with the pixels the Face service compares unchanged:

- JPEG: rewritten marker by marker, without decoding: the quantization and Huffman tables, the
  frame and scan headers and the compressed scans stay byte for byte (so do the restart interval
  and Adobe's colour-transform marker, which decoding needs); APP0-APP15 (EXIF, XMP, ICC
  profiles, JFIF thumbnails, maker notes) and comments go, and so does everything after EOI. A
  photo whose EXIF says it is rotated is the one exception: it is turned upright and re-encoded
  (quality 95), since the orientation would otherwise be lost with the EXIF.
- PNG: the chunks that make the pixels stay (IHDR, PLTE, tRNS, IDAT, IEND); text, EXIF, time,
  ICC and every other ancillary chunk go, and so does everything after IEND (and the extra frames
  of an APNG: its first image is the PNG image).
- GIF and BMP: stored as PNG, losslessly (the first frame of a GIF, as the service reads it):
  GIF comments and application blocks, and BMP trailing bytes, go.
"""

import io
import re
import struct
import zlib

from PIL import Image, ImageOps

from . import budget
from .budget import Deadline, OverBudget, TimedReader, png_inflated_size

JPEG_SOI, JPEG_EOI, JPEG_SOS = 0xD8, 0xD9, 0xDA
JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RST0-7 carry no length
JPEG_DROPPED = {*range(0xE0, 0xF0), 0xFE} - {0xEE}  # APPn (but Adobe's APP14) and COM
JPEG_FILL = re.compile(rb"\xff+")
# A 0xFF followed by a marker: not 0x00 (a stuffed 0xFF), not RSTn, not another 0xFF (fill). The
# pattern starts with a literal byte, so the regular expression engine scans for it at C speed.
JPEG_END_OF_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
GIF_EXTENSION, GIF_IMAGE = 0x21, 0x2C
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Inflate 16 KB of compressed pixels at a time, into at most 64 KB: zlib's ratio is at most
# about 1:1032, so no call does much more work than its slice.
PNG_INPUT_SLICE, PNG_OUTPUT_SLICE = 16 * 1024, 64 * 1024
PNG_KEPT = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
EXIF_ORIENTATION = 0x0112


class NotCleanable(ValueError):
    """The bytes are not laid out as their format says (the caller refuses the file as corrupt)."""


def clean_image(data, image_format, deadline=None):
    """Return ``(bytes, format)`` of the image alone; see the module's docstring for what is kept."""
    deadline = deadline or Deadline()
    if image_format == "JPEG":
        if _jpeg_orientation(data) not in (None, 1):
            return _reencode_upright(data, deadline), "JPEG"
        return _clean_jpeg(data, deadline), "JPEG"
    if image_format == "PNG":
        return _clean_png(data), "PNG"
    return _to_png(data, deadline), "PNG"


def _clean_jpeg(data, deadline):
    return b"".join(data[start:end] for marker, start, end in jpeg_segments(data, deadline) if marker not in JPEG_DROPPED)


def check_jpeg_structure(data, deadline):
    """Raise NotCleanable unless the JPEG's markers are laid out right, OverBudget if it has more
    scans or segments than a photo has (each scan is a pass over the whole image)."""
    for _marker in jpeg_segments(data, deadline):
        pass


def jpeg_segments(data, deadline):
    """Yield ``(marker, start, end)`` for every segment of a JPEG (where ``data[start:end]`` is it,
    a scan's compressed data with its SOS header, fill bytes left out) up to EOI; stops at the
    budget's scan and segment counts and at its deadline. Nothing is copied."""
    if data[:2] != b"\xff\xd8":
        raise NotCleanable("no JPEG start of image")
    yield JPEG_SOI, 0, 2
    position, segments, scans = 2, 0, 0
    while True:
        segments += 1
        if segments > budget.MAX_JPEG_SEGMENTS:
            raise OverBudget(f"more than {budget.MAX_JPEG_SEGMENTS} JPEG segments")
        deadline.check()
        marker, position = _next_marker(data, position)
        start = position - 2  # the marker's own 0xFF
        if marker == JPEG_EOI:
            yield marker, start, position
            return
        if marker in JPEG_STANDALONE or marker == JPEG_SOI:
            yield marker, start, position
            continue
        if position + 2 > len(data):
            raise NotCleanable("truncated JPEG segment")
        (length,) = struct.unpack(">H", data[position : position + 2])
        end = position + length
        if length < 2 or end > len(data):
            raise NotCleanable("bad JPEG segment length")
        position = end
        if marker == JPEG_SOS:
            scans += 1
            if scans > budget.MAX_JPEG_SCANS:
                raise OverBudget(f"more than {budget.MAX_JPEG_SCANS} JPEG scans")
            position = _end_of_scan(data, position)
        yield marker, start, position


def _next_marker(data, position):
    if position >= len(data) or data[position] != 0xFF:
        raise NotCleanable("expected a JPEG marker")
    start, position = position, JPEG_FILL.match(data, position).end()
    if position - start > budget.MAX_JPEG_FILL_BYTES:  # Pillow skips them a byte at a time
        raise OverBudget(f"more than {budget.MAX_JPEG_FILL_BYTES} JPEG fill bytes in a row")
    if position >= len(data):
        raise NotCleanable("truncated JPEG marker")
    return data[position], position + 1


def _end_of_scan(data, position):
    """Where the entropy-coded data after SOS ends: the first marker that is not a stuffed 0xFF00
    or RSTn (found by the regular expression engine: a Python loop per 0xFF byte was slow on a
    scan of megabytes of 0xFF)."""
    end = JPEG_END_OF_SCAN.search(data, position)
    if end is None:
        raise NotCleanable("JPEG scan without an end")
    return end.start()


def _clean_png(data):
    if not data.startswith(PNG_SIGNATURE):
        raise NotCleanable("no PNG signature")
    kept = [PNG_SIGNATURE]
    position = len(PNG_SIGNATURE)
    while position + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        end = position + 12 + length
        if end > len(data):
            raise NotCleanable("truncated PNG chunk")
        if kind in PNG_KEPT:
            kept.append(data[position:end])
        if kind == b"IEND":
            return b"".join(kept)
        position = end
    raise NotCleanable("PNG without IEND")


def check_layout(data, deadline):
    """Walk a JPEG's segments or a PNG's chunks, as cheaply as the bytes allow, before Pillow does:
    Pillow walks them one at a time in Python, so a file of a million markers or chunks would cost
    it seconds. Other formats pass."""
    if data.startswith(b"\xff\xd8"):
        check_jpeg_structure(data, deadline)
    elif data.startswith(PNG_SIGNATURE):
        for _chunk in png_chunks(data, deadline):
            pass
    elif data[:6] in (b"GIF87a", b"GIF89a"):
        _check_gif_blocks(data, deadline)


def _check_gif_blocks(data, deadline):
    """Walk a GIF's extension blocks up to its first image (the one that is kept): Pillow skips
    unknown bytes and reads sub-blocks one at a time; here they are counted and unknown bytes refused."""
    if len(data) < 13:
        raise NotCleanable("truncated GIF header")
    position = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)  # after the global colour table
    sub_blocks = 0
    while position < len(data):
        if data[position] == GIF_IMAGE:
            return  # its compressed pixels are read by Pillow's decoder, in C, up to the declared size
        if data[position] != GIF_EXTENSION:
            raise NotCleanable("unknown GIF block")
        position += 2  # the introducer and the extension's label
        while True:
            sub_blocks += 1
            if sub_blocks > budget.MAX_GIF_SUB_BLOCKS:
                raise OverBudget(f"more than {budget.MAX_GIF_SUB_BLOCKS} GIF sub-blocks before the image")
            if position >= len(data):
                raise NotCleanable("truncated GIF extension")
            size = data[position]
            position += 1 + size
            if size == 0:
                break
        deadline.check()
    raise NotCleanable("GIF without an image")


def png_chunks(data, deadline):
    """Yield ``(kind, body)`` for every chunk of a PNG up to IEND, each one's CRC checked; stops at
    the budget's chunk count and at its deadline."""
    if not data.startswith(PNG_SIGNATURE):
        raise NotCleanable("no PNG signature")
    position, chunks = len(PNG_SIGNATURE), 0
    while position + 12 <= len(data):
        chunks += 1
        if chunks > budget.MAX_PNG_CHUNKS:
            raise OverBudget(f"more than {budget.MAX_PNG_CHUNKS} PNG chunks")
        deadline.check()
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        crc = data[position + 8 + length : position + 12 + length]
        if len(body) != length or len(crc) != 4 or zlib.crc32(kind + body) != int.from_bytes(crc, "big"):
            raise NotCleanable(f"PNG chunk {kind!r} is truncated or corrupt")
        yield kind, body
        if kind == b"IEND":
            return
        position += 12 + length
    raise NotCleanable("PNG without IEND")


def check_png_stream(data, deadline=None):
    """Raise NotCleanable unless every chunk's CRC is right and the compressed pixels inflate to
    exactly the size the header declares (OverBudget past the chunk budget or the deadline).

    The pixels are inflated a slice at a time and thrown away as they come, and refused as soon as
    they pass the declared size: a stream that inflates to gigabytes costs no more than the image
    its header describes."""
    deadline = deadline or Deadline()
    inflater = zlib.decompressobj()
    declared = inflated = 0
    for number, (kind, body) in enumerate(png_chunks(data, deadline)):
        if number == 0:
            declared = _png_declared_size(kind, body)
        if kind == b"IDAT":
            inflated = _inflate_within(inflater, body, inflated, declared, deadline)
    if not inflater.eof or inflated != declared:
        raise NotCleanable("PNG pixels end early")


def _png_declared_size(kind, body):
    if kind != b"IHDR" or len(body) != 13:
        raise NotCleanable("PNG without IHDR first")
    width, height, bit_depth, color_type, _compression, _filter, interlace = struct.unpack(">IIBBBBB", body)
    if color_type not in (0, 2, 3, 4, 6) or bit_depth not in (1, 2, 4, 8, 16) or interlace not in (0, 1):
        raise NotCleanable("PNG header with an unknown pixel format")
    return png_inflated_size(width, height, bit_depth, color_type, interlaced=interlace == 1)


def _inflate_within(inflater, body, inflated, declared, deadline):
    """Feed ``body`` to ``inflater`` a slice at a time; return the bytes inflated so far, or raise
    as soon as they pass ``declared`` (at most one output slice past it is ever made)."""
    try:
        for start in range(0, len(body), PNG_INPUT_SLICE):
            pending = body[start : start + PNG_INPUT_SLICE]
            while pending:
                inflated += len(inflater.decompress(pending, PNG_OUTPUT_SLICE))
                if inflated > declared:
                    raise NotCleanable("PNG pixels inflate to more than the header declares")
                pending = inflater.unconsumed_tail
            deadline.check()
    except zlib.error as error:
        raise NotCleanable(f"PNG pixels do not inflate: {error}") from None
    return inflated


def _jpeg_orientation(data):
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.getexif().get(EXIF_ORIENTATION)
    except (OSError, SyntaxError, ValueError) as error:
        raise NotCleanable(f"unreadable JPEG header: {error}") from None


def _reencode_upright(data, deadline):
    with Image.open(TimedReader(data, deadline)) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
    buffer = io.BytesIO()
    upright.save(buffer, format="JPEG", quality=95)  # no exif= given: nothing but the pixels is written
    return buffer.getvalue()


def _to_png(data, deadline):
    with Image.open(TimedReader(data, deadline)) as image:
        image.seek(0)
        frame = image.copy()  # the first frame, without the file's info (comments, extensions)
    frame.info = {key: value for key, value in frame.info.items() if key == "transparency"}
    buffer = io.BytesIO()
    frame.save(buffer, format="PNG")
    return buffer.getvalue()
