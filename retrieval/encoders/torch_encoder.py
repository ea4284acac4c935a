"""The Encoder on PyTorch: the model's own forward passes, on any torch device; under
autocast on a GPU (bf16 where supported, else fp16)."""

from __future__ import annotations

import contextlib

import numpy as np

from retrieval.encoders.base import Encoder
from retrieval.encoders.devices import half_dtype, pick_device
from retrieval.models import LoadedModel


class TorchEncoder(Encoder):
    backend = "torch"

    def __init__(self, loaded: LoadedModel, device: str | None = None, batch_size: int | None = None):
        import torch

        super().__init__(loaded, pick_device(device), batch_size)
        self.model = loaded.model.to(self.device).eval()
        self._torch = torch
        self._amp_dtype = half_dtype(self.device)

    @property
    def amp_dtype(self):
        return self._amp_dtype

    def _autocast(self):
        if self._amp_dtype is None:
            return contextlib.nullcontext()
        return self._torch.autocast(device_type=self.device.split(":")[0], dtype=self._amp_dtype)

    def _image_forward(self, pixels) -> np.ndarray:
        with self._torch.inference_mode(), self._autocast():
            features = self.model.encode_image(pixels.to(self.device, non_blocking=True))
        return features.float().cpu().numpy()

    def _text_forward(self, tokens) -> np.ndarray:
        with self._torch.inference_mode(), self._autocast():
            features = self.model.encode_text(tokens.to(self.device))
        return features.float().cpu().numpy()
