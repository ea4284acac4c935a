"""The Encoder: images and texts into one L2-normalised space, in batches.

Runtimes (PyTorch: torch_encoder.py, ONNX Runtime: onnx_encoder.py) implement only the two
forward passes; batching, preprocessing, normalisation and the model's temperature are
here, the same for every runtime.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from retrieval.models import LoadedModel

DEFAULT_LOGIT_SCALE = 100.0  # CLIP's trained temperature, for models that do not carry one


def learned_logit_scale(model) -> float:
    """exp(the model's learned log temperature), the factor of cosine similarities in its
    softmax; ``DEFAULT_LOGIT_SCALE`` for a model without one."""
    scale = getattr(model, "logit_scale", None)
    if scale is None:
        return DEFAULT_LOGIT_SCALE
    return float(np.exp(float(scale.detach().float().cpu())))


def unit_rows(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float32)
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)


class Encoder:
    """Turns preprocessed image tensors, PIL images or strings into float32 unit vectors,
    so that dot product is cosine similarity."""

    backend = "none"
    default_batch_size = 64  # images a batch when the caller names none

    def __init__(self, loaded: LoadedModel, device: str, batch_size: int | None = None):
        self.loaded = loaded
        self.spec = loaded.spec
        self.dim = loaded.embed_dim
        self.device = device
        self.batch_size = batch_size or self.default_batch_size
        self.logit_scale = learned_logit_scale(loaded.model)

    @property
    def amp_dtype(self):
        """The half-precision dtype the forward runs in, or None (full precision)."""
        return None

    @property
    def preprocess(self):
        return self.loaded.preprocess

    def _image_forward(self, pixels) -> np.ndarray:
        """Image features (not yet normalised) of one preprocessed batch (N, C, H, W)."""
        raise NotImplementedError

    def _text_forward(self, tokens) -> np.ndarray:
        """Text features (not yet normalised) of one batch of tokens."""
        raise NotImplementedError

    def _stack(self, pixels: list):
        """One batch of preprocessed pictures, as the runtime takes it."""
        import torch

        return torch.stack([torch.as_tensor(p) for p in pixels])

    def full_model(self) -> LoadedModel:
        """The loaded model with its PyTorch module (dense localisation reads its patch tokens)."""
        return self.loaded

    def embed_pixels(self, batch) -> np.ndarray:
        """Embed one batch of already preprocessed images (N, C, H, W)."""
        return unit_rows(self._image_forward(batch))

    def embed_tokens(self, tokens) -> np.ndarray:
        """Embed one batch of tokenized texts."""
        return unit_rows(self._text_forward(tokens))

    def embed_images(self, images: Sequence) -> np.ndarray:
        """Embed PIL images (RGB) in batches of ``batch_size``."""
        return self._in_batches(images, lambda chunk: self.embed_pixels(self._stack([self.preprocess(i) for i in chunk])))

    def embed_preprocessed(self, pixels: Sequence) -> np.ndarray:
        """Embed pictures already preprocessed (each as ``preprocess`` gives it, or an
        array of that shape) in batches of ``batch_size``."""
        return self._in_batches(pixels, lambda chunk: self.embed_pixels(self._stack(list(chunk))))

    def embed_texts(self, texts: Iterable[str]) -> np.ndarray:
        """Embed strings in batches; over-long texts are truncated by the tokenizer."""
        return self._in_batches(list(texts), lambda chunk: self.embed_tokens(self.loaded.tokenizer(chunk)))

    def _in_batches(self, items: Sequence, embed) -> np.ndarray:
        """``embed`` of ``items`` a batch of ``batch_size`` at a time (each batch made only
        when its turn comes), stacked: (len(items), dim)."""
        out = [np.zeros((0, self.dim), np.float32)]
        for start in range(0, len(items), self.batch_size):
            out.append(embed(items[start:start + self.batch_size]))
        return np.concatenate(out)
