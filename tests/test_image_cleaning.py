"""What is stored of an upload: the image alone (no metadata, nothing after its end), with the
pixels the Face service compares unchanged."""

import hashlib
import io

import pytest
from django.core.exceptions import ValidationError
from PIL import Image, ImageDraw

from django_liveness.images import validate_reference_image

GPS = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
SERIAL = "SN-0042-SECRET"
TRAILER = b"<html><script>alert(1)</script></html>PK\x03\x04payload.zip"


def photo(size=(120, 160)):
    """A picture with detail, so that a re-encode would show in the pixels."""
    image = Image.new("RGB", size, (200, 170, 150))
    draw = ImageDraw.Draw(image)
    for step in range(0, size[0], 7):
        draw.line([(step, 0), (size[0] - step, size[1])], fill=(step % 255, 40, 200 - step % 200), width=2)
    return image


def exif(orientation=1):
    data = Image.Exif()
    data[0x0112] = orientation
    data[0xA431] = SERIAL  # BodySerialNumber
    data[0x010F] = "PhoneMaker"
    data[0x8825] = GPS  # GPSInfo
    return data


def jpeg(image=None, **options):
    buffer = io.BytesIO()
    (image or photo()).save(buffer, format="JPEG", quality=90, **options)
    return buffer.getvalue()


def pixels(data):
    with Image.open(io.BytesIO(data)) as image:
        image.seek(0)
        return image.convert("RGBA").tobytes()


def stored(data):
    validated = validate_reference_image(data)
    assert validated.sha256 == hashlib.sha256(validated.data).hexdigest()  # the digest of what is kept
    assert validated.size == len(validated.data)
    return validated


@pytest.mark.parametrize(
    "options",
    [{}, {"progressive": True}, {"restart_marker_blocks": 1}, {"subsampling": 0}],
    ids=["baseline", "progressive", "restart-markers", "no-subsampling"],
)
def test_jpeg_keeps_its_pixels_and_loses_exif_comments_and_trailing_bytes(options):
    original = jpeg(exif=exif(), comment=b"taken at home by " + SERIAL.encode(), **options)
    icc = b"\xff\xe2\x00\x10ICC_PROFILE\x00\x01\x01"  # an APP2 segment
    uploaded = original[:2] + icc + original[2:] + TRAILER
    assert b"PhoneMaker" in uploaded and SERIAL.encode() in uploaded

    kept = stored(uploaded)
    assert kept.content_type == "image/jpeg" and (kept.width, kept.height) == (120, 160)
    assert pixels(kept.data) == pixels(original)  # not re-encoded: the same compressed scans
    for secret in (b"Exif", b"PhoneMaker", SERIAL.encode(), b"ICC_PROFILE", b"<html>", b"PK\x03\x04"):
        assert secret not in kept.data
    assert kept.data.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(kept.data)) as image:
        assert dict(image.getexif()) == {} and "comment" not in image.info


def test_a_rotated_jpeg_is_turned_upright_and_re_encoded_without_exif():
    uploaded = jpeg(photo((160, 120)), exif=exif(orientation=6))  # 90 degrees: shown as 120 x 160
    kept = stored(uploaded)
    assert (kept.width, kept.height) == (120, 160)
    with Image.open(io.BytesIO(kept.data)) as image:
        assert image.size == (120, 160) and dict(image.getexif()) == {}
    assert SERIAL.encode() not in kept.data


def test_png_keeps_its_pixels_and_transparency_and_loses_text_exif_and_trailing_bytes():
    from PIL import PngImagePlugin

    image = photo().convert("RGBA")
    image.putpixel((0, 0), (1, 2, 3, 0))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "home address: 1 Main St")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>" + SERIAL + "</x:xmpmeta>")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, exif=exif())
    uploaded = buffer.getvalue() + TRAILER

    kept = stored(uploaded)
    assert kept.content_type == "image/png" and pixels(kept.data) == pixels(buffer.getvalue())
    for secret in (b"Main St", SERIAL.encode(), b"eXIf", b"tEXt", b"iTXt", b"<html>"):
        assert secret not in kept.data
    assert kept.data.endswith(b"IEND\xaeB`\x82")


@pytest.mark.parametrize("image_format", ["GIF", "BMP"])
def test_gif_and_bmp_are_stored_as_png_with_the_same_pixels(image_format):
    image = photo().convert("P") if image_format == "GIF" else photo()
    buffer = io.BytesIO()
    extra = {"comment": SERIAL.encode()} if image_format == "GIF" else {}
    image.save(buffer, format=image_format, **extra)
    uploaded = buffer.getvalue() + TRAILER

    kept = stored(uploaded)
    assert (kept.content_type, kept.extension) == ("image/png", ".png")
    assert pixels(kept.data) == pixels(buffer.getvalue())
    assert SERIAL.encode() not in kept.data and b"<html>" not in kept.data


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xe0\xff\xf0JFIF",  # a segment longer than the file
        b"\xff\xd8\xff\xdb\x00\x02\xff\xda\x00\x02\x01\x02\x03",  # a scan that never ends
        b"\xff\xd8\x00\x00",  # no marker where one must be
    ],
)
def test_a_jpeg_laid_out_wrongly_is_not_cleaned(data):
    from django_liveness.images.cleaning import NotCleanable, clean_image

    with pytest.raises(NotCleanable):
        clean_image(data, "JPEG")


def test_a_png_without_its_end_is_not_cleaned():
    from django_liveness.images.cleaning import NotCleanable, clean_image

    buffer = io.BytesIO()
    photo().save(buffer, format="PNG")
    with pytest.raises(NotCleanable):
        clean_image(buffer.getvalue()[:-12], "PNG")  # IEND cut off


def test_a_truncated_upload_is_refused_as_corrupt():
    with pytest.raises(ValidationError) as caught:
        validate_reference_image(jpeg()[:-300])
    assert caught.value.code == "corrupt"


def png_bytes(size=(300, 200)):
    buffer = io.BytesIO()
    photo(size).save(buffer, format="PNG")
    return bytearray(buffer.getvalue())


def test_a_png_with_a_damaged_chunk_is_refused_as_corrupt():
    data = png_bytes()
    idat = data.index(b"IDAT")
    data[idat + 20] ^= 0xFF  # the CRC no longer matches
    with pytest.raises(ValidationError) as caught:
        validate_reference_image(bytes(data))
    assert caught.value.code == "corrupt"


def test_a_png_whose_pixels_stop_early_is_refused_even_with_right_crcs():
    import struct
    import zlib

    data = png_bytes()
    idat = data.index(b"IDAT") - 4
    (length,) = struct.unpack(">I", data[idat : idat + 4])
    short = bytes(data[idat + 8 : idat + 8 + length // 2])  # half the compressed stream, a valid chunk
    chunk = struct.pack(">I", len(short)) + b"IDAT" + short + struct.pack(">I", zlib.crc32(b"IDAT" + short))
    damaged = bytes(data[:idat]) + chunk + bytes(data[idat + 12 + length :])
    with pytest.raises(ValidationError) as caught:
        validate_reference_image(damaged)
    assert caught.value.code == "corrupt"


def test_a_jpeg_is_read_to_its_end_at_an_eighth_of_its_size(monkeypatch):
    from PIL import JpegImagePlugin

    scales = []
    draft = JpegImagePlugin.JpegImageFile.draft

    def recording_draft(self, mode, size):
        result = draft(self, mode, size)
        scales.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", recording_draft)
    kept = stored(jpeg(photo((800, 640))))
    assert (kept.width, kept.height) == (800, 640) and scales == [(100, 80)]
