"""Which inference backend embeds: PyTorch, or ONNX Runtime (fp32 or int8) on a CPU.

``auto`` takes ONNX Runtime fp32 for open_clip models on a CPU when onnxruntime is
installed (1.7x PyTorch's ingest rate on 2 cores: bench/cpu_ingest.py), and PyTorch
otherwise. int8 changes the embeddings a little, so it is only used when asked for.
When ONNX Runtime is missing or the export fails, PyTorch is used with a warning.
"""

from __future__ import annotations

import importlib.util
import logging

from retrieval.encoders.devices import pick_device
from retrieval.encoders.base import Encoder
from retrieval.models.loading import LoadedModel

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx", "onnx-int8")


def onnxruntime_installed() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def make_encoder(loaded: LoadedModel, backend: str = "auto", device: str | None = None, batch_size: int = 64,
                 threads: int | None = None) -> Encoder:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    device = pick_device(device)
    exportable = loaded.family == "open_clip"  # the exporter knows open_clip's towers
    if backend == "torch" or (backend == "auto" and (device != "cpu" or not exportable or not onnxruntime_installed())):
        return Encoder(loaded, device=device, batch_size=batch_size)
    if device != "cpu":
        log.warning("the %s backend runs on the CPU; using it instead of %s", backend, device)
    from retrieval.encoders.onnx_export import OnnxExportError

    precision = "int8" if backend == "onnx-int8" else "fp32"
    try:
        from retrieval.encoders.onnx_encoder import OnnxEncoder

        return OnnxEncoder(loaded, precision=precision, batch_size=batch_size, threads=threads)
    except (ImportError, OnnxExportError) as exc:
        log.warning("ONNX Runtime backend unavailable (%s); using PyTorch", exc)
        return Encoder(loaded, device="cpu", batch_size=batch_size)
