"""The on-device JPEG path (nvJPEG on a GPU) checked on the CPU against the PIL path."""

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from imagefiles import noise_image
from retrieval.images import decode_image
from retrieval.tensor_preprocess import TensorPreprocessor, orient


def _jpeg(img, **kw):
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95, **kw)
    return buf.getvalue()


def _blob(data):
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pil_exif_transpose(orientation):
    img = noise_image(orientation, (7, 4))
    exif = Image.Exif()
    exif[0x0112] = orientation
    tagged = Image.open(io.BytesIO(_png(img, exif)))
    expected = np.asarray(ImageOps.exif_transpose(tagged).convert("RGB"))
    stored = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)
    assert np.array_equal(orient(stored, orientation).permute(1, 2, 0).numpy(), expected)


def _png(img, exif):
    buf = io.BytesIO()
    img.save(buf, "PNG", exif=exif.tobytes())
    return buf.getvalue()


def test_device_batches_match_the_pil_transform(tiny_model):
    pre = TensorPreprocessor.from_model(tiny_model.model, "cpu")
    assert pre is not None and pre.size == 64
    sizes = [(500, 375), (375, 500), (640, 480), (640, 480), (64, 64), (1024, 768)]
    pictures = [noise_image(i, s).resize((s[0] // 8, s[1] // 8)).resize(s, Image.BICUBIC) for i, s in enumerate(sizes)]
    blobs = [_blob(_jpeg(p)) for p in pictures]
    decoded = pre.decode(blobs)
    ours = pre.batch(decoded)
    reference = torch.stack([tiny_model.preprocess(decode_image(_jpeg(p)).image) for p in pictures])
    assert ours.shape == reference.shape == (6, 3, 64, 64)
    # Same pixels up to resampling differences: well under one grey level on average.
    assert (ours - reference).abs().mean() < 0.02


def test_device_and_cpu_paths_give_the_same_embeddings(tiny_encoder):
    pictures = [noise_image(i, (320, 240)).resize((40, 30)).resize((320, 240), Image.BICUBIC) for i in range(4)]
    pre = TensorPreprocessor.from_model(tiny_encoder.model, "cpu")
    device = tiny_encoder.embed_pixels(pre.batch(pre.decode([_blob(_jpeg(p)) for p in pictures])))
    cpu = tiny_encoder.embed_images([decode_image(_jpeg(p)).image for p in pictures])
    cosine = (device * cpu).sum(axis=1)
    assert cosine.min() > 0.999


def test_a_bad_jpeg_in_a_batch_costs_only_itself(tiny_model):
    pre = TensorPreprocessor.from_model(tiny_model.model, "cpu")
    good = _jpeg(noise_image(1, (50, 40)))
    decoded = pre.decode([_blob(good), _blob(b"\xff\xd8garbage\xff\xd9"), _blob(good)])
    assert decoded[0] is not None and decoded[1] is None and decoded[2] is not None
