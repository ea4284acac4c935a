"""The numpy transform gives open_clip's model inputs, pixel for pixel, for every kind of
picture a folder holds: what the ONNX path embeds must be what the PyTorch path embeds."""

import numpy as np
import pytest
from imagefiles import noise_image

from retrieval.images.pixel_transform import PixelTransform, UnsupportedTransform

MEAN, STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


def _pictures():
    base = [noise_image(seed, size=size) for seed, size in
            enumerate([(640, 480), (480, 640), (224, 224), (225, 223), (33, 1000), (3000, 2), (1, 1), (7, 300)])]
    return base + [base[0].convert("L"), base[1].convert("RGBA"), base[3].convert("P"), base[2].convert("CMYK")]


@pytest.mark.parametrize("size, interpolation, resize_mode", [
    (224, "bicubic", "shortest"), (48, "bicubic", "shortest"), (64, "bilinear", "shortest"), (96, "bicubic", "squash"),
])
def test_the_same_pixels_as_open_clips_transform(size, interpolation, resize_mode):
    transform_module = pytest.importorskip("open_clip.transform")
    from retrieval.images.aspect import BoundedAspect

    reference = transform_module.image_transform(size, is_train=False, mean=MEAN, std=STD,
                                                 interpolation=interpolation, resize_mode=resize_mode)
    if resize_mode == "shortest":
        reference = BoundedAspect(reference)  # what the loader wraps it in
    mine = PixelTransform.of_config({"size": (size, size), "mode": "RGB", "mean": MEAN, "std": STD,
                                     "interpolation": interpolation, "resize_mode": resize_mode})
    for picture in _pictures():
        ours, theirs = mine(picture), reference(picture).numpy()
        assert ours.dtype == np.float32 and ours.shape == theirs.shape == (3, size, size)
        assert float(np.abs(ours - theirs).max()) <= 1e-6, picture


@pytest.mark.parametrize("change", [{"resize_mode": "longest"}, {"size": (224, 160)}, {"mode": "L"},
                                    {"interpolation": "random"}])
def test_what_it_does_not_reproduce_is_refused(change):
    cfg = {"size": 224, "mode": "RGB", "mean": MEAN, "std": STD, "interpolation": "bicubic", "resize_mode": "shortest"}
    with pytest.raises(UnsupportedTransform):
        PixelTransform.of_config({**cfg, **change})
