"""Which runtime embeds: PyTorch, or ONNX Runtime (fp32 or int8) on a CPU.

``auto`` takes ONNX Runtime fp32 for open_clip models on a CPU when onnxruntime is
installed (1.7x PyTorch's ingest rate on 2 cores: bench/cpu_ingest.py), and PyTorch
otherwise. int8 changes the embeddings a little, so it is only used when asked for.
When ONNX Runtime is missing or the export fails, PyTorch is used with a warning.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import platform
import sys

from retrieval.encoders.base import Encoder
from retrieval.encoders.devices import pick_device
from retrieval.encoders.torch_encoder import TorchEncoder
from retrieval.models import LoadedModel

log = logging.getLogger(__name__)

AUTO, TORCH, ONNX, ONNX_INT8 = "auto", "torch", "onnx", "onnx-int8"
BACKENDS = (AUTO, TORCH, ONNX, ONNX_INT8)


def onnxruntime_installed() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def make_encoder(loaded: LoadedModel, backend: str = AUTO, device: str | None = None, batch_size: int | None = None,
                 threads: int | None = None, onnx_cache: str | None = None) -> Encoder:
    """The encoder of ``loaded`` on the runtime ``backend`` names. ``onnx_cache``: where
    exported ONNX towers are kept (None: a temporary folder of this process)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    device = pick_device(device)
    exportable = loaded.family == "open_clip"  # the exporter knows open_clip's towers
    if backend == TORCH or (backend == AUTO and (device != "cpu" or not exportable or not onnxruntime_installed())):
        return TorchEncoder(loaded, device=device, batch_size=batch_size)
    if device != "cpu":
        log.warning("the %s backend runs on the CPU; using it instead of %s", backend, device)
    from retrieval.encoders.onnx_export import OnnxExportError

    precision = "int8" if backend == ONNX_INT8 else "fp32"
    try:
        from retrieval.encoders.onnx_encoder import OnnxEncoder

        return OnnxEncoder.exporting(loaded, precision, batch_size, threads, cache_root=onnx_cache)
    except (ImportError, OnnxExportError) as exc:
        log.warning("ONNX Runtime backend unavailable (%s); using PyTorch", exc)
        return TorchEncoder(loaded, device="cpu", batch_size=batch_size)


def gpu_visible() -> bool:
    """Whether torch might find a GPU here, asked without importing torch: an NVIDIA, AMD
    or WSL GPU device node, or Apple silicon (mps). A false yes only costs the torch import."""
    if any(os.path.exists(node) for node in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")):
        return True
    return sys.platform == "darwin" and platform.machine() == "arm64"


def cached_encoder(spec: str, backend: str = AUTO, device: str | None = None, batch_size: int | None = None,
                   threads: int | None = None, onnx_cache: str | None = None, weights_cache: str | None = None):
    """The ONNX Runtime encoder of ``spec`` from its cached export, with no torch and no
    PyTorch model, where ``backend`` and ``device`` would choose it; None where the model
    must be loaded (another runtime, a GPU, no export yet)."""
    if backend not in (AUTO, ONNX, ONNX_INT8) or not onnxruntime_installed():
        return None
    if device not in (None, "auto", "cpu") or (device != "cpu" and backend == AUTO and gpu_visible()):
        return None
    from retrieval.encoders.onnx_encoder import cached_onnx_encoder

    precision = "int8" if backend == ONNX_INT8 else "fp32"
    return cached_onnx_encoder(spec, precision, onnx_cache, batch_size, threads, weights_cache)
