"""AdamW as every clipdex training loop builds it: fused, on a CPU as on a GPU.

The fused step is torch's own vector code. The default single-tensor step takes the square
root of a large second-moment tensor from MKL's vector maths (VML), which rounds differently
from one CPU to another even in MKL's COMPATIBLE mode: under qemu's user mode, one pinned
training step of clipdex-small left a native AMD EPYC (Zen 4) and an emulated EPYC-Rome with
the same gradients and different weights (of a 256 x 384 tensor's square roots, 12,623 of 98,304
differed); fused, the same weights (bench/pinned_bits.py). It is also one pass a tensor.
"""

from __future__ import annotations

FUSED_ON = ("cpu", "cuda")  # the devices torch has a fused AdamW for


def adamw(param_groups, lr: float, weight_decay: float = 0.01):
    """torch.optim.AdamW over ``param_groups`` (parameters, or dicts of them), fused
    where the parameters' device has a fused step."""
    import torch

    groups = list(param_groups)
    params = [p for group in groups for p in (group["params"] if isinstance(group, dict) else [group])]
    fused = bool(params) and all(p.device.type in FUSED_ON and p.dtype.is_floating_point for p in params)
    return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay, fused=fused or None)
