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
import struct
import zlib

from PIL import Image, ImageOps

JPEG_SOI, JPEG_EOI, JPEG_SOS = 0xD8, 0xD9, 0xDA
JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RST0-7 carry no length
JPEG_DROPPED = {*range(0xE0, 0xF0), 0xFE} - {0xEE}  # APPn (but Adobe's APP14) and COM
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_KEPT = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
EXIF_ORIENTATION = 0x0112


class NotCleanable(ValueError):
    """The bytes are not laid out as their format says (the caller refuses the file as corrupt)."""


def clean_image(data, image_format):
    """Return ``(bytes, format)`` of the image alone; see the module's docstring for what is kept."""
    if image_format == "JPEG":
        if _jpeg_orientation(data) not in (None, 1):
            return _reencode_upright(data), "JPEG"
        return _clean_jpeg(data), "JPEG"
    if image_format == "PNG":
        return _clean_png(data), "PNG"
    return _to_png(data), "PNG"


def _clean_jpeg(data):
    if data[:2] != b"\xff\xd8":
        raise NotCleanable("no JPEG start of image")
    kept = [b"\xff\xd8"]
    position = 2
    while True:
        marker, position = _next_marker(data, position)
        if marker == JPEG_EOI:
            kept.append(b"\xff\xd9")
            return b"".join(kept)
        if marker in JPEG_STANDALONE or marker == JPEG_SOI:
            kept.append(bytes((0xFF, marker)))
            continue
        if position + 2 > len(data):
            raise NotCleanable("truncated JPEG segment")
        (length,) = struct.unpack(">H", data[position : position + 2])
        end = position + length
        if length < 2 or end > len(data):
            raise NotCleanable("bad JPEG segment length")
        if marker not in JPEG_DROPPED:
            kept.append(bytes((0xFF, marker)) + data[position:end])
        position = end
        if marker == JPEG_SOS:
            scan_end = _end_of_scan(data, position)
            kept.append(data[position:scan_end])
            position = scan_end


def _next_marker(data, position):
    if position >= len(data) or data[position] != 0xFF:
        raise NotCleanable("expected a JPEG marker")
    while position < len(data) and data[position] == 0xFF:  # fill bytes
        position += 1
    if position >= len(data):
        raise NotCleanable("truncated JPEG marker")
    return data[position], position + 1


def _end_of_scan(data, position):
    """Where the entropy-coded data after SOS ends: the first marker that is not a stuffed 0xFF00 or RSTn."""
    while True:
        position = data.find(b"\xff", position)
        if position < 0 or position + 1 >= len(data):
            raise NotCleanable("JPEG scan without an end")
        following = data[position + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            position += 1 if following == 0xFF else 2
            continue
        return position


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


def check_png_stream(data):
    """Raise NotCleanable unless every chunk's CRC is right and the compressed pixels inflate to
    their end. The inflated bytes are thrown away as they come: memory stays small."""
    if not data.startswith(PNG_SIGNATURE):
        raise NotCleanable("no PNG signature")
    inflater = zlib.decompressobj()
    position = len(PNG_SIGNATURE)
    while position + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length] or b"\0\0\0\0")
        if len(body) != length or zlib.crc32(kind + body) != crc:
            raise NotCleanable(f"PNG chunk {kind!r} is truncated or corrupt")
        if kind == b"IDAT":
            try:
                pending = body
                while pending:
                    inflater.decompress(pending, 1 << 16)
                    pending = inflater.unconsumed_tail
            except zlib.error as error:
                raise NotCleanable(f"PNG pixels do not inflate: {error}") from None
        if kind == b"IEND":
            if not inflater.eof:
                raise NotCleanable("PNG pixels end early")
            return
        position += 12 + length
    raise NotCleanable("PNG without IEND")


def _jpeg_orientation(data):
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.getexif().get(EXIF_ORIENTATION)
    except (OSError, SyntaxError, ValueError) as error:
        raise NotCleanable(f"unreadable JPEG header: {error}") from None


def _reencode_upright(data):
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
    buffer = io.BytesIO()
    upright.save(buffer, format="JPEG", quality=95)  # no exif= given: nothing but the pixels is written
    return buffer.getvalue()


def _to_png(data):
    with Image.open(io.BytesIO(data)) as image:
        image.seek(0)
        frame = image.copy()  # the first frame, without the file's info (comments, extensions)
    frame.info = {key: value for key, value in frame.info.items() if key == "transparency"}
    buffer = io.BytesIO()
    frame.save(buffer, format="PNG")
    return buffer.getvalue()
