"""Which torch device to run on (cuda, then mps, then cpu, unless told), and the half
precision each device computes in."""

from __future__ import annotations

import contextlib


def pick_device(requested: str | None = None) -> str:
    import torch

    if requested and requested != "auto":
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"device {requested!r} requested but CUDA is not available")
        return requested
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def half_dtype(device: str):
    """bf16 on a GPU that has it (fp16 overflows in some models), else fp16 on a GPU or
    Apple's mps; None (full precision) on a CPU."""
    import torch

    device = str(device)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.startswith("mps"):
        return torch.float16
    return None


def half_precision(device: str, cuda_only: bool = True):
    """Autocast to ``half_dtype(device)``; a no-op where that is None (or, with
    ``cuda_only``, on anything but a CUDA GPU)."""
    import torch

    dtype = half_dtype(device)
    if dtype is None or (cuda_only and not str(device).startswith("cuda")):
        return contextlib.nullcontext()
    return torch.autocast(device_type=str(device).split(":")[0], dtype=dtype)
