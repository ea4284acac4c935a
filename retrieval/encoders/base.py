"""Batched, device-aware embedding of images and texts into one L2-normalised space."""

from __future__ import annotations

import contextlib
from typing import Iterable, Sequence

import numpy as np

from retrieval.encoders.devices import pick_device
from retrieval.models.loading import LoadedModel


class Encoder:
    """Turns preprocessed image tensors, PIL images or strings into float32 unit vectors.

    Other backends (ONNX Runtime) subclass it and replace ``embed_pixels`` and
    ``embed_tokens``; batching and preprocessing are shared.

    On a GPU the forward pass runs under autocast (bf16 where supported, else fp16);
    the result is always float32 and L2-normalised, so dot product is cosine similarity.
    """

    def __init__(self, loaded: LoadedModel, device: str | None = None, batch_size: int = 64):
        import torch

        self.backend = "torch"
        self.loaded = loaded
        self.spec = loaded.spec
        self.dim = loaded.embed_dim
        self.device = pick_device(device)
        self.batch_size = batch_size
        self.model = loaded.model.to(self.device).eval()
        self._torch = torch
        if self.device == "cuda":
            self._amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        elif self.device == "mps":
            self._amp_dtype = torch.float16
        else:
            self._amp_dtype = None

    @property
    def amp_dtype(self):
        """The half-precision dtype used on this device, or None (full precision)."""
        return self._amp_dtype

    @property
    def preprocess(self):
        return self.loaded.preprocess

    def _autocast(self):
        if self._amp_dtype is None:
            return contextlib.nullcontext()
        return self._torch.autocast(device_type=self.device, dtype=self._amp_dtype)

    def _finish(self, features) -> np.ndarray:
        features = features.float()
        features = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return features.cpu().numpy().astype(np.float32, copy=False)

    def embed_pixels(self, batch) -> np.ndarray:
        """Embed one batch of already preprocessed images (N, C, H, W)."""
        torch = self._torch
        with torch.inference_mode(), self._autocast():
            batch = batch.to(self.device, non_blocking=True)
            return self._finish(self.model.encode_image(batch))

    def embed_images(self, images: Sequence) -> np.ndarray:
        """Embed PIL images (RGB) in batches of ``batch_size``."""
        torch = self._torch
        out = [np.zeros((0, self.dim), np.float32)]
        for start in range(0, len(images), self.batch_size):
            chunk = images[start:start + self.batch_size]
            pixels = torch.stack([self.preprocess(image) for image in chunk])
            out.append(self.embed_pixels(pixels))
        return np.concatenate(out)

    def embed_texts(self, texts: Iterable[str]) -> np.ndarray:
        """Embed strings in batches; over-long texts are truncated by the tokenizer."""
        texts = list(texts)
        out = [np.zeros((0, self.dim), np.float32)]
        for start in range(0, len(texts), self.batch_size):
            out.append(self.embed_tokens(self.loaded.tokenizer(texts[start:start + self.batch_size])))
        return np.concatenate(out)

    def embed_tokens(self, tokens) -> np.ndarray:
        """Embed one batch of tokenized texts."""
        with self._torch.inference_mode(), self._autocast():
            return self._finish(self.model.encode_text(tokens.to(self.device)))
