"""How to build an encoder, as plain data: a callable that pickles, so that a Ray actor (or
any other process) can build the same encoder the caller would."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from retrieval.encoders.backend import AUTO, MEASURED, cached_encoder, make_encoder, measure_auto_precision
from retrieval.encoders.base import Encoder


@dataclass(frozen=True)
class EncoderRecipe:
    spec: str
    backend: str = AUTO
    device: str | None = None
    batch_size: int | None = None  # None: the runtime's own default
    weights_cache: str | None = None  # the Hugging Face cache folder
    onnx_cache: str | None = None  # where exported ONNX towers are kept
    threads: int | None = None
    # For work that embeds many images (an index run): with backend auto, measure which
    # precision embeds them fastest on this machine first, where that was not measured yet.
    measure_precision: bool = False
    auto_precision: str = MEASURED  # or fixed: "fp32", "int8" (backend.py)

    def __call__(self) -> Encoder:
        from retrieval.models import load_model

        load = functools.cache(lambda: load_model(self.spec, cache_dir=self.weights_cache))  # once, if at all
        if self.measure_precision and self.backend == AUTO and self.auto_precision == MEASURED:
            measure_auto_precision(self.spec, self.device, self.batch_size, self.threads, self.onnx_cache, load)
        cached = self.cached()
        if cached is not None:  # its ONNX export says all it needs: no torch, no PyTorch model
            return cached
        return make_encoder(load(), self.backend, device=self.device, batch_size=self.batch_size,
                            threads=self.threads, onnx_cache=self.onnx_cache, auto_precision=self.auto_precision)

    def cached(self) -> Encoder | None:
        """The encoder from its ONNX export alone (no torch, no PyTorch model), or None where
        the model must be loaded (another runtime, a GPU, no export yet)."""
        return cached_encoder(self.spec, self.backend, self.device, self.batch_size, self.threads, self.onnx_cache,
                              self.weights_cache, self.auto_precision)
