"""The on-device JPEG path (nvJPEG on a GPU) checked on the CPU against the PIL path."""

import io
import logging
import sys

import numpy as np
import pytest
import torch
from imagefiles import noise_image
from PIL import Image, ImageOps

from retrieval.images import gpu_jpeg
from retrieval.images.decode import decode_image
from retrieval.images.gpu_preprocess import TensorPreprocessor, choose_jpeg_decoder, orient


def _jpeg(img, **kw):
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95, **kw)
    return buf.getvalue()


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
    blobs = [_jpeg(p) for p in pictures]
    decoded = pre.decode(blobs)
    ours = pre.batch(decoded)
    reference = torch.stack([tiny_model.preprocess(decode_image(_jpeg(p)).image) for p in pictures])
    assert ours.shape == reference.shape == (6, 3, 64, 64)
    # Same pixels up to resampling differences: well under one grey level on average.
    assert (ours - reference).abs().mean() < 0.02


def test_device_and_cpu_paths_give_the_same_embeddings(tiny_encoder):
    pictures = [noise_image(i, (320, 240)).resize((40, 30)).resize((320, 240), Image.BICUBIC) for i in range(4)]
    pre = TensorPreprocessor.from_model(tiny_encoder.model, "cpu")
    device = tiny_encoder.embed_pixels(pre.batch(pre.decode([_jpeg(p) for p in pictures])))
    cpu = tiny_encoder.embed_images([decode_image(_jpeg(p)).image for p in pictures])
    cosine = (device * cpu).sum(axis=1)
    assert cosine.min() > 0.999


def test_a_bad_jpeg_in_a_batch_costs_only_itself(tiny_model):
    pre = TensorPreprocessor.from_model(tiny_model.model, "cpu")
    good = _jpeg(noise_image(1, (50, 40)))
    decoded = pre.decode([good, b"\xff\xd8garbage\xff\xd9", good])
    assert decoded[0] is not None and decoded[1] is None and decoded[2] is not None


class _FakeNvimgcodec:
    """Just enough of nvidia.nvimgcodec for the decoder choice; ``decoded`` is what a
    decoder restricted to the hardware engines returns for a plain JPEG."""

    class BackendKind:
        HW_GPU_ONLY, HYBRID_CPU_GPU = "hw", "hybrid"

    class ColorSpec:
        SRGB = "srgb"

    class SampleFormat:
        P_RGB = "planar rgb"

    def __init__(self, decoded):
        fake = self

        class Decoder:
            def __init__(self, **kwargs):
                pass

            def decode(self, streams, **kwargs):
                return [fake.decoded for _ in streams]

        self.decoded = decoded
        self.Decoder = Decoder
        self.Backend = self.DecodeParams = self.CodeStream = lambda *args, **kwargs: object()


def test_the_cpu_gets_torchvisions_decoder(caplog):
    assert choose_jpeg_decoder("cpu").name == "torchvision"
    with caplog.at_level(logging.WARNING, logger="retrieval.images.gpu_preprocess"):
        assert choose_jpeg_decoder("cpu", "nvimgcodec").name == "torchvision"
    assert "CUDA device" in caplog.text


def test_without_nvimgcodec_asking_for_it_falls_back_to_torchvision_and_says_why(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "nvidia.nvimgcodec", None)  # makes the import fail
    with caplog.at_level(logging.INFO, logger="retrieval.images.gpu_preprocess"):
        assert choose_jpeg_decoder("cuda", "nvimgcodec").name == "torchvision"
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "nvImageCodec is not installed" in caplog.text


def test_a_gpu_without_jpeg_engines_falls_back_to_torchvision(monkeypatch, caplog):
    monkeypatch.setattr(gpu_jpeg, "load_nvimgcodec", lambda: _FakeNvimgcodec(decoded=None))
    with caplog.at_level(logging.INFO, logger="retrieval.images.gpu_preprocess"):
        assert choose_jpeg_decoder("cuda:0", "nvimgcodec").name == "torchvision"
    assert "no hardware JPEG decoder" in caplog.text


def test_the_hardware_decoder_is_used_where_it_works_and_only_when_asked_for(monkeypatch):
    monkeypatch.setattr(gpu_jpeg, "load_nvimgcodec", lambda: _FakeNvimgcodec(decoded=object()))
    monkeypatch.setattr(gpu_jpeg, "keep_pool_memory", lambda device_id: None)  # no CUDA driver here
    assert choose_jpeg_decoder("cuda", "nvimgcodec").name == "nvimgcodec"
    assert choose_jpeg_decoder("cuda").name == "torchvision"  # auto: the faster one in the pipeline
    assert choose_jpeg_decoder("cuda", "torchvision").name == "torchvision"
    with pytest.raises(ValueError, match="JPEG decoder must be one of"):
        choose_jpeg_decoder("cuda", "pil")
