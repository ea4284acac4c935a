"""Encoders: pixels and words into unit vectors, on PyTorch or ONNX Runtime.

Modules (test file in brackets):

- base.py           Encoder: batching, preprocessing, normalisation, the model's temperature (tests/unit/retrieval/test_encoder.py)
- torch_encoder.py  the forward passes on PyTorch, autocast on GPUs (tests/unit/retrieval/test_encoder.py)
- onnx_encoder.py   the forward passes on ONNX Runtime (tests/unit/retrieval/test_onnx_backend.py)
- onnx_export.py    exporting open_clip towers to ONNX (fp32, int8), cached by weights (tests/unit/retrieval/test_onnx_backend.py)
- ort_sessions.py   ONNX Runtime sessions opened from the graph saved optimised (tests/unit/retrieval/test_onnx_backend.py)
- onnx_light.py     what an export needs to embed without torch, checked against the model (tests/unit/retrieval/test_onnx_backend.py)
- calibration.py    inputs of the model's own kind that static int8 quantization is calibrated on (tests/unit/retrieval/test_onnx_backend.py)
- backend.py        make_encoder: which runtime for a model and device (tests/unit/retrieval/test_onnx_backend.py)
- precision_choice.py  auto's ONNX image tower: int8 where it measured clearly faster here, once per model and machine (tests/unit/retrieval/test_precision_choice.py)
- recipe.py         EncoderRecipe: how to build an encoder, as data that pickles (tests/integration/test_ray_index.py)
- devices.py        which torch device; half precision per device (tests/unit/retrieval/test_encoder.py)
"""

from retrieval.encoders.backend import BACKENDS, make_encoder
from retrieval.encoders.base import Encoder
from retrieval.encoders.devices import half_dtype, half_precision, pick_device
from retrieval.encoders.recipe import EncoderRecipe
from retrieval.encoders.torch_encoder import TorchEncoder

__all__ = ["BACKENDS", "Encoder", "EncoderRecipe", "TorchEncoder", "half_dtype", "half_precision", "make_encoder", "pick_device"]
