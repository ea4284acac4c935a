"""Which runtime embeds: PyTorch, or ONNX Runtime (fp32 or int8) on a CPU.

``auto`` takes ONNX Runtime for open_clip models on a CPU when onnxruntime is installed
(fp32 alone: 1.7x PyTorch's ingest rate on 2 cores, bench/cpu_ingest.py), and PyTorch
otherwise. On ONNX Runtime its image tower is int8 where that measured clearly faster on
this machine, once per model (precision_choice.py: an index run measures), else fp32.
When ONNX Runtime is missing or the export fails, PyTorch is used with a warning.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import platform
import sys
from typing import Callable

from retrieval.encoders.base import Encoder
from retrieval.encoders.devices import pick_device
from retrieval.encoders.torch_encoder import TorchEncoder
from retrieval.models import LoadedModel

log = logging.getLogger(__name__)

AUTO, TORCH, ONNX, ONNX_INT8 = "auto", "torch", "onnx", "onnx-int8"
BACKENDS = (AUTO, TORCH, ONNX, ONNX_INT8)
MEASURED = "measured"
AUTO_PRECISIONS = (MEASURED, "fp32", "int8")  # how auto's ONNX image tower is chosen: as measured here, or fixed


def onnxruntime_installed() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def make_encoder(loaded: LoadedModel, backend: str = AUTO, device: str | None = None, batch_size: int | None = None,
                 threads: int | None = None, onnx_cache: str | None = None, auto_precision: str = MEASURED) -> Encoder:
    """The encoder of ``loaded`` on the runtime ``backend`` names. ``onnx_cache``: where
    exported ONNX towers are kept (None: a temporary folder of this process).
    ``auto_precision``: auto's ONNX image tower, as measured here (fp32 where nothing was) or fixed."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    device = pick_device(device)
    exportable = loaded.family == "open_clip"  # the exporter knows open_clip's towers
    if backend == TORCH or (backend == AUTO and (device != "cpu" or not exportable or not onnxruntime_installed())):
        return TorchEncoder(loaded, device=device, batch_size=batch_size)
    if device != "cpu":
        log.warning("the %s backend runs on the CPU; using it instead of %s", backend, device)
    from retrieval.encoders.onnx_export import OnnxExportError

    precision = _precision(backend, loaded.spec, onnx_cache, auto_precision)
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


def _cpu_without_torch(backend: str, device: str | None) -> bool:
    """Whether ``device`` is the CPU for ``backend``, known without importing torch."""
    return device in (None, "auto", "cpu") and not (device != "cpu" and backend == AUTO and gpu_visible())


def _precision(backend: str, spec: str, onnx_cache: str | None, auto_precision: str) -> str:
    if auto_precision not in AUTO_PRECISIONS:
        raise ValueError(f"auto_precision must be one of {', '.join(AUTO_PRECISIONS)}, not {auto_precision!r}")
    if backend != AUTO:
        return "int8" if backend == ONNX_INT8 else "fp32"
    if auto_precision != MEASURED:
        return auto_precision
    from retrieval.encoders.onnx_export import cache_dir_for
    from retrieval.encoders.precision_choice import recorded_precision

    return recorded_precision(cache_dir_for(spec, onnx_cache))


def measure_auto_precision(spec: str, device: str | None = None, batch_size: int | None = None,
                           threads: int | None = None, onnx_cache: str | None = None,
                           load: Callable[[], LoadedModel] | None = None) -> dict | None:
    """Which precision `auto` embeds images of ``spec`` with on this machine: measured now
    (exporting the int8 tower first where there is none) unless it was measured already.
    Returns the recorded measurement, or None where `auto` would not run ONNX Runtime.
    ``load``: loads the PyTorch model, where an export needs it (default: load_model)."""
    if not onnxruntime_installed() or not _cpu_without_torch(AUTO, device):
        return None
    from retrieval.encoders.onnx_encoder import OnnxEncoder, cached_onnx_encoder
    from retrieval.encoders.onnx_export import OnnxExportError, cache_dir_for
    from retrieval.encoders.precision_choice import measure, recorded

    folder = cache_dir_for(spec, onnx_cache)
    if (entry := recorded(folder)) is not None:
        return entry
    encoders = {p: cached_onnx_encoder(spec, p, onnx_cache, batch_size, threads) for p in ("fp32", "int8")}
    if None in encoders.values():  # a tower to export first: that needs the PyTorch model
        from retrieval.models import load_model

        loaded = load() if load is not None else load_model(spec)
        if loaded.family != "open_clip" or pick_device(device) != "cpu":
            return None
        try:
            encoders = {p: OnnxEncoder.exporting(loaded, p, batch_size, threads, onnx_cache) for p in ("fp32", "int8")}
        except (ImportError, OnnxExportError):
            return None  # make_encoder says why when it falls back to PyTorch
    return measure(encoders, folder)


def cached_encoder(spec: str, backend: str = AUTO, device: str | None = None, batch_size: int | None = None,
                   threads: int | None = None, onnx_cache: str | None = None, weights_cache: str | None = None,
                   auto_precision: str = MEASURED):
    """The ONNX Runtime encoder of ``spec`` from its cached export, with no torch and no
    PyTorch model, where ``backend`` and ``device`` would choose it; None where the model
    must be loaded (another runtime, a GPU, no export yet)."""
    if backend not in (AUTO, ONNX, ONNX_INT8) or not onnxruntime_installed():
        return None
    if not _cpu_without_torch(backend, device):
        return None
    from retrieval.encoders.onnx_encoder import cached_onnx_encoder

    precision = _precision(backend, spec, onnx_cache, auto_precision)
    return cached_onnx_encoder(spec, precision, onnx_cache, batch_size, threads, weights_cache)
