"""JPEG bytes -> model-ready batches on the device: nvJPEG decoding on CUDA, then resize,
centre crop and normalise as torch ops, so that the CPU only reads files.

It reproduces open_clip's eval transform for the "shortest" resize mode (resize the short
side with antialiasing, centre crop, normalise); the result agrees with the PIL path
within resampling differences. On a CPU device the same code runs with libjpeg, which
is how CI checks it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# EXIF orientation -> how to turn the stored (C, H, W) pixels upright.
_ORIENT = {
    1: lambda x: x,
    2: lambda x: x.flip(-1),
    3: lambda x: x.flip(-1).flip(-2),
    4: lambda x: x.flip(-2),
    5: lambda x: x.transpose(-1, -2),
    6: lambda x: torch.rot90(x, k=-1, dims=(-2, -1)),
    7: lambda x: x.transpose(-1, -2).flip(-1).flip(-2),
    8: lambda x: torch.rot90(x, k=1, dims=(-2, -1)),
}


def orient(pixels: torch.Tensor, orientation: int) -> torch.Tensor:
    return _ORIENT.get(int(orientation or 1), _ORIENT[1])(pixels)


@dataclass
class TensorPreprocessor:
    size: int
    mean: tuple
    std: tuple
    interpolation: str
    device: str

    @classmethod
    def from_model(cls, model, device: str) -> "TensorPreprocessor | None":
        """None when the model's transform is one this class does not reproduce."""
        cfg = getattr(model.visual, "preprocess_cfg", None) or {}
        size = cfg.get("size", getattr(model.visual, "image_size", None))
        if isinstance(size, (tuple, list)):
            if size[0] != size[1]:
                return None
            size = size[0]
        if cfg.get("resize_mode", "shortest") != "shortest" or cfg.get("interpolation", "bicubic") not in (
            "bicubic",
            "bilinear",
        ):
            return None
        return cls(
            size=int(size),
            mean=tuple(cfg.get("mean", (0.48145466, 0.4578275, 0.40821073))),
            std=tuple(cfg.get("std", (0.26862954, 0.26130258, 0.27577711))),
            interpolation=cfg.get("interpolation", "bicubic"),
            device=device,
        )

    def decode(self, blobs: list[torch.Tensor]) -> list[torch.Tensor | None]:
        """Decode JPEG byte tensors (CPU, uint8) to RGB uint8 (3, H, W) on the device.

        One batched call; when the batch fails, each image is retried alone so that one
        bad file does not cost the others. None marks an image that could not be decoded.
        """
        from torchvision.io import ImageReadMode, decode_jpeg

        if not blobs:
            return []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision's deprecation notice for its decoders
            try:
                return list(decode_jpeg(blobs, mode=ImageReadMode.RGB, device=self.device))
            except Exception:
                pass
            out: list[torch.Tensor | None] = []
            for blob in blobs:
                try:
                    out.append(decode_jpeg([blob], mode=ImageReadMode.RGB, device=self.device)[0])
                except Exception:
                    out.append(None)
            return out

    def _resized_size(self, height: int, width: int) -> tuple[int, int]:
        # torchvision's rule for Resize(int): the short side becomes `size`.
        short, long = (height, width) if height <= width else (width, height)
        new_long = int(self.size * long / short)
        return (self.size, new_long) if height <= width else (new_long, self.size)

    def batch(self, images: list[torch.Tensor], dtype=torch.float32) -> torch.Tensor:
        """uint8 (3, H, W) images of any sizes -> normalised (N, 3, size, size) batch.

        Images of the same size are resized together, one interpolate call per size.
        """
        groups: dict[tuple[int, int], list[int]] = {}
        for position, image in enumerate(images):
            groups.setdefault(tuple(image.shape[-2:]), []).append(position)
        out = torch.empty((len(images), 3, self.size, self.size), dtype=dtype, device=self.device)
        mean = torch.tensor(self.mean, device=self.device, dtype=torch.float32).view(1, 3, 1, 1) * 255
        std = torch.tensor(self.std, device=self.device, dtype=torch.float32).view(1, 3, 1, 1) * 255
        # float16 holds every 0..255 value exactly and halves the memory traffic of the
        # resize on a GPU; CPUs resample in float32.
        work = torch.float16 if str(self.device).startswith("cuda") else torch.float32
        for (height, width), positions in groups.items():
            stacked = torch.stack([images[p] for p in positions]).to(self.device).to(work)
            new_h, new_w = self._resized_size(height, width)
            if (new_h, new_w) != (height, width):
                stacked = F.interpolate(
                    stacked, size=(new_h, new_w), mode=self.interpolation, antialias=True, align_corners=False
                )
                # PIL resamples into uint8: clamp the bicubic overshoot and round the same way.
                stacked = stacked.clamp_(0, 255).round_()
            # The short side is exactly `size`, so the crop always fits.
            top = int(round((new_h - self.size) / 2.0))
            left = int(round((new_w - self.size) / 2.0))
            crop = stacked[:, :, top:top + self.size, left:left + self.size]
            out[positions] = ((crop.float() - mean) / std).to(dtype)
        return out
