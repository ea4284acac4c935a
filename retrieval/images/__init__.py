"""Pictures in: untrusted bytes decoded safely on the CPU, or JPEGs decoded and resized on a GPU.

Modules (test file in brackets):

- decode.py          bytes -> an upright RGB picture, or an ImageError that says why (tests/unit/retrieval/test_images.py)
- gpu_preprocess.py  JPEG bytes -> model-ready batches on the device (tests/unit/retrieval/test_gpu_preprocess.py)
- aspect.py          extreme aspect ratios cut to 4:1 before the resize (tests/unit/retrieval/test_images.py)
- gpu_jpeg.py        the GPU's hardware JPEG engines through nvImageCodec (tests/unit/retrieval/test_gpu_preprocess.py)
- pixel_transform.py open_clip's eval transform in PIL and numpy, without torch (tests/unit/retrieval/test_pixel_transform.py)
"""

from retrieval.images.decode import (
    DEFAULT_MAX_PIXELS,
    DecodedImage,
    ImageError,
    decode_image,
    probe_image,
    read_image_file,
)

__all__ = ["DEFAULT_MAX_PIXELS", "DecodedImage", "ImageError", "decode_image", "probe_image", "read_image_file"]
