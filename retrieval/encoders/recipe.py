"""How to build an encoder, as plain data: a callable that pickles, so that a Ray actor (or
any other process) can build the same encoder the caller would."""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.encoders.backend import AUTO, cached_encoder, make_encoder
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

    def __call__(self) -> Encoder:
        from retrieval.models import load_model

        cached = self.cached()
        if cached is not None:  # its ONNX export says all it needs: no torch, no PyTorch model
            return cached

        loaded = load_model(self.spec, cache_dir=self.weights_cache)
        return make_encoder(loaded, self.backend, device=self.device, batch_size=self.batch_size,
                            threads=self.threads, onnx_cache=self.onnx_cache)

    def cached(self) -> Encoder | None:
        """The encoder from its ONNX export alone (no torch, no PyTorch model), or None where
        the model must be loaded (another runtime, a GPU, no export yet)."""
        return cached_encoder(self.spec, self.backend, self.device, self.batch_size, self.threads, self.onnx_cache,
                              self.weights_cache)
