import io

import numpy as np
import pytest
from imagefiles import BAD_FILES, noise_image, rotated_pair
from PIL import Image

from retrieval.images.decode import ImageError, decode_image


def _bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_bytes_raise_a_clear_image_error(name):
    factory, words = BAD_FILES[name]
    with pytest.raises(ImageError) as info:
        decode_image(factory())
    assert words in str(info.value)


def test_pixel_limit_is_a_setting():
    data = _bytes(noise_image(1, (100, 100)), "PNG")
    assert decode_image(data, max_pixels=10_000).width == 100
    with pytest.raises(ImageError, match="too large"):
        decode_image(data, max_pixels=9_999)


def test_one_pixel_image_decodes():
    out = decode_image(_bytes(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG"))
    assert out.image.size == (1, 1) and out.image.getpixel((0, 0)) == (1, 2, 3)


def test_cmyk_palette_and_gray_become_rgb():
    base = noise_image(2, (32, 24))
    for img, fmt in [(base.convert("CMYK"), "JPEG"), (base.convert("P"), "GIF"), (base.convert("L"), "BMP")]:
        out = decode_image(_bytes(img, fmt))
        assert out.image.mode == "RGB" and out.image.size == (32, 24)


def test_sixteen_bit_gray_is_scaled_not_clipped():
    mid_gray = Image.fromarray(np.full((8, 8), 32768, dtype=np.uint16))
    out = decode_image(_bytes(mid_gray, "PNG"))
    value = out.image.getpixel((0, 0))
    assert 120 <= value[0] <= 136 and value[0] == value[1] == value[2]


def test_transparent_pixels_are_shown_over_white():
    img = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # fully transparent red
    out = decode_image(_bytes(img, "PNG"))
    assert out.image.getpixel((0, 0)) == (255, 255, 255)


def test_exif_rotated_photo_is_upright(tmp_path):
    upright_path, sideways_path = rotated_pair(str(tmp_path))
    out = decode_image(open(sideways_path, "rb").read())
    assert (out.width, out.height) == (60, 120)
    assert out.image.size == (60, 120)
    assert out.image.getpixel((30, 10)) == (255, 0, 0)  # red on top, as the upright photo
    assert out.image.getpixel((30, 110)) == (0, 0, 255)


def test_exif_date_taken_is_read():
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = "2021:07:04 15:30:00"
    out = decode_image(_bytes(noise_image(3, (20, 20)), "JPEG", exif=exif.tobytes()))
    assert out.taken_at is not None and out.taken_at.isoformat() == "2021-07-04T15:30:00"


def test_large_jpeg_is_drafted_but_reports_full_size():
    data = _bytes(noise_image(4, (2000, 1500)), "JPEG")
    out = decode_image(data, min_side=224)
    assert (out.width, out.height) == (2000, 1500)
    assert min(out.image.size) >= 224 and out.image.size[0] < 2000


def test_a_wide_picture_is_seen_as_before_and_a_strip_costs_no_giant_resize(tiny_model):
    """The centre cut before the resize changes nothing the model sees (the centre square),
    and a 30000 x 1 strip is resized from a 4:1 piece, not into 30000 x size."""
    import numpy as np
    from PIL import Image

    from retrieval.images.aspect import BoundedAspect, centre_box

    bounded = tiny_model.preprocess
    assert isinstance(bounded, BoundedAspect)
    wide = Image.fromarray((np.random.default_rng(1).random((60, 420, 3)) * 255).astype("uint8"))
    assert centre_box(*wide.size) == (90, 0, 330, 60)
    assert np.allclose(bounded(wide).numpy(), bounded.preprocess(wide).numpy(), atol=2e-2)
    seen = []
    strip = Image.new("RGB", (30_000, 1), (200, 30, 30))
    BoundedAspect(lambda image: seen.append(image.size) or bounded.preprocess(image))(strip)
    assert seen == [(4, 1)]
    assert centre_box(100, 100) is None and centre_box(400, 100) is None
