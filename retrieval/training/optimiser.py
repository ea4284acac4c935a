"""AdamW as every clipdex training loop builds it: fused, on a CPU as on a GPU.

The fused step is torch's own vector code. The default single-tensor step computes the
square root of a large second-moment tensor with MKL's vector maths (VML), which rounds
differently on an AMD CPU than on an Intel one even in MKL's reproducible mode: under
qemu's user mode, one pinned training step of clipdex-small left an emulated AMD EPYC-Rome
and the native Xeon with the same gradients and different weights, and fused, the same
weights (bench/pinned_bits.py). The fused step is also one pass over each tensor.
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
