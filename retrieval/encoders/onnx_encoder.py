"""The Encoder on ONNX Runtime: the exported towers of an open_clip model, on the CPU.

Preprocessing and tokenizing stay open_clip's own, so the inputs are the same as the
PyTorch path's; only the two forward passes run in ONNX Runtime (fp32, or int8 weights).
"""

from __future__ import annotations

import numpy as np

from retrieval.encoders.base import Encoder
from retrieval.encoders.onnx_export import exported
from retrieval.models import LoadedModel


class OnnxEncoder(Encoder):
    def __init__(self, loaded: LoadedModel, precision: str = "fp32", batch_size: int = 64, threads: int | None = None,
                 cache_root: str | None = None):
        import onnxruntime as ort
        import torch

        super().__init__(loaded, "cpu", batch_size)
        paths = exported(loaded, precision, cache_root)
        options = ort.SessionOptions()
        # Unless told, as many threads as torch's (one per physical core by default): a
        # process that shares the machine (a Ray actor) sets torch's count for both.
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads sleep instead of spinning: a spinning pool took the cores
        # from the FAISS search right after a text query (58 ms instead of 38 on 2 cores)
        # and from the decode workers while indexing.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        self._image = ort.InferenceSession(paths["image"], options, providers=providers)
        self._text = ort.InferenceSession(paths["text"], options, providers=providers)
        self.backend = f"onnx-{precision}"
        self.precision = precision

    def _image_forward(self, pixels) -> np.ndarray:
        pixels = np.ascontiguousarray(pixels.numpy() if hasattr(pixels, "numpy") else pixels, dtype=np.float32)
        return self._image.run(None, {"pixels": pixels})[0]

    def _text_forward(self, tokens) -> np.ndarray:
        ids = np.ascontiguousarray(tokens.numpy() if hasattr(tokens, "numpy") else tokens, dtype=np.int64)
        return self._text.run(None, {"tokens": ids})[0]
