"""Low-rank adapters (LoRA) on the MLP layers of open_clip's transformer blocks.

Fine-tuning with LoRA trains two small matrices per layer (down: rank x in, up: out x
rank, up starting at zero, so training starts from the base model exactly) while the
base weights stay frozen. When saved, the adapters are merged into the weights, so the
result is a plain open_clip model that loads like any other.

Only the MLPs are adapted: nn.MultiheadAttention reads its projection weights directly
instead of calling its Linear modules, so wrapping them would have no effect.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, rank: int = 8, alpha: float = 16.0):
        super().__init__()
        self.base = base
        base.weight.requires_grad_(False)
        if base.bias is not None:
            base.bias.requires_grad_(False)
        self.down = nn.Parameter(torch.empty(rank, base.in_features))
        nn.init.kaiming_uniform_(self.down, a=math.sqrt(5))
        self.up = nn.Parameter(torch.zeros(base.out_features, rank))
        self.scale = alpha / rank

    @property
    def weight(self) -> torch.Tensor:  # open_clip reads .weight.dtype of its MLP layers
        return self.base.weight

    @property
    def bias(self):
        return self.base.bias

    def forward(self, x):
        return self.base(x) + (x @ self.down.T @ self.up.T) * self.scale

    def merged_weight(self) -> torch.Tensor:
        return self.base.weight + self.scale * (self.up @ self.down)


def add_lora(model: nn.Module, rank: int = 8, alpha: float = 16.0) -> list[nn.Parameter]:
    """Wrap every MLP Linear of every residual block; return the adapter parameters."""
    params = []
    for module in list(model.modules()):
        mlp = getattr(module, "mlp", None)
        if mlp is None:
            continue
        for name in ("c_fc", "c_proj"):
            layer = getattr(mlp, name, None)
            if isinstance(layer, nn.Linear):
                adapter = LoRALinear(layer, rank, alpha)
                setattr(mlp, name, adapter)
                params += [adapter.down, adapter.up]
    return params


def plain_state_dict(model: nn.Module) -> dict:
    """The model's state dict with adapters merged, under the original parameter names."""
    state = {}
    adapters = {name: module for name, module in model.named_modules() if isinstance(module, LoRALinear)}
    for key, value in model.state_dict().items():
        owner = next((name for name in adapters if key.startswith(name + ".")), None)
        if owner is None:
            state[key] = value
            continue
        rest = key[len(owner) + 1:]
        if rest == "base.weight":
            state[f"{owner}.weight"] = adapters[owner].merged_weight().detach()
        elif rest == "base.bias":
            state[f"{owner}.bias"] = value
    return state
