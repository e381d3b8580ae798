import io

import pytest
from django.core.exceptions import ValidationError
from PIL import Image, ImageFile

from django_liveness import images
from django_liveness.images import validate_reference_image


def encode(image_format, size=(64, 80), mode="RGB", **save_options):
    buffer = io.BytesIO()
    Image.new(mode, size, (120, 90, 60) if mode == "RGB" else 1).save(buffer, format=image_format, **save_options)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "image_format, content_type, extension",
    # GIF and BMP are stored as PNG, losslessly (see test_image_cleaning.py).
    [("JPEG", "image/jpeg", ".jpg"), ("PNG", "image/png", ".png"), ("BMP", "image/png", ".png"), ("GIF", "image/png", ".png")],
)
def test_supported_formats_are_recognised_from_the_content(image_format, content_type, extension):
    data = encode(image_format, mode="P" if image_format == "GIF" else "RGB")
    validated = validate_reference_image(data)
    assert (validated.content_type, validated.extension) == (content_type, extension)
    assert (validated.width, validated.height, validated.size) == (64, 80, len(validated.data))
    assert validated.sha256 == __import__("hashlib").sha256(validated.data).hexdigest()


def test_animated_gif_is_accepted_for_its_first_frame():
    frames = [Image.new("P", (50, 50), color) for color in (1, 2, 3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    validated = validate_reference_image(buffer.getvalue())
    assert validated.content_type == "image/png"
    with Image.open(io.BytesIO(validated.data)) as stored, Image.open(buffer) as original:
        assert getattr(stored, "n_frames", 1) == 1
        assert stored.convert("RGB").tobytes() == original.convert("RGB").tobytes()  # the first frame


def code_of(data):
    with pytest.raises(ValidationError) as caught:
        validate_reference_image(data)
    return caught.value.code, caught.value.messages[0]


def test_other_formats_are_refused_whatever_the_name_says():
    code, message = code_of(encode("TIFF"))
    assert code == "unsupported_format"
    assert message == "The file is not a JPEG, PNG, GIF or BMP image."
    assert code_of(b"%PDF-1.4 not an image")[0] == "unsupported_format"


def test_empty_file_is_refused():
    assert code_of(b"") == ("empty", "The file is empty.")


def test_file_over_6_mb_is_refused_with_the_limit():
    code, message = code_of(b"\xff\xd8" + b"\0" * (6 * 1024 * 1024))
    assert code == "too_large"
    assert "6291456 bytes (6 MB)" in message


def test_truncated_image_is_refused():
    data = encode("JPEG", size=(400, 400), quality=95)
    assert code_of(data[: len(data) // 2]) == ("corrupt", "The image is truncated or corrupt.")


@pytest.mark.parametrize("size", [(5000, 4000), (8000, 1000), (1000, 4097)])
def test_image_over_the_side_cap_is_refused_from_the_header_without_decoding(size, monkeypatch):
    big = encode("PNG", size=size, mode="1")

    def no_decoding(image):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    code, message = code_of(big)
    assert code == "too_many_pixels"
    assert f"{size[0]} x {size[1]}" in message and "4096 x 4096" in message


def test_image_of_exactly_4096_a_side_is_accepted():
    assert validate_reference_image(encode("PNG", size=(4096, 300), mode="1")).width == 4096


def test_decompression_bomb_is_refused():
    # 20000 x 20000 pixels compress to a few tens of kilobytes of PNG.
    bomb = encode("PNG", size=(20000, 20000), mode="1")
    assert len(bomb) < images.MAX_BYTES
    code, message = code_of(bomb)
    assert code == "too_many_pixels"
    assert "4096 x 4096" in message


def test_image_too_small_for_a_face_is_refused():
    assert code_of(encode("PNG", size=(20, 200)))[0] == "too_small"


def test_uploaded_file_objects_are_read_from_the_start():
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("me.png", encode("PNG"), content_type="image/jpeg")
    upload.read(10)
    validated = validate_reference_image(upload)
    assert validated.content_type == "image/png"  # from the bytes, not the declared type
