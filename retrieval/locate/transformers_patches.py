"""Patch tokens of a transformers CLIP or SigLIP vision tower brought into the joint space,
read the ways open_clip_patches.py describes (``value``, ``qq``, ``tokens``).

CLIP: the last layer's attention read that way, then the post-layernorm and the visual
projection. SigLIP has no class token: its pooling head (an attention probe and an MLP) is
applied to each patch as if it stood alone (with one key, attention returns its value).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrieval.locate.errors import DenseNotSupported
from retrieval.locate.methods import PATCH_METHODS

if TYPE_CHECKING:
    import torch  # imported where used: naming the methods must not load torch


def supports(model) -> bool:
    vision = getattr(model, "vision_model", None)
    layers = getattr(getattr(vision, "encoder", None), "layers", None)
    return bool(layers) and hasattr(layers[-1], "self_attn") and hasattr(layers[-1].self_attn, "v_proj")


def _qq(attention, hidden: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F

    batch, length, width = hidden.shape
    heads = attention.num_heads
    q = attention.q_proj(hidden).view(batch, length, heads, width // heads).transpose(1, 2)
    v = attention.v_proj(hidden).view(batch, length, heads, width // heads).transpose(1, 2)
    return F.scaled_dot_product_attention(q, q, v).transpose(1, 2).reshape(batch, length, width)


def _last_layer(layer, hidden: torch.Tensor, method: str) -> torch.Tensor:
    if method == "tokens":
        out = layer(hidden, None)
        return out[0] if isinstance(out, tuple) else out
    normed = layer.layer_norm1(hidden)
    attention = layer.self_attn
    mixed = attention.v_proj(normed) if method == "value" else _qq(attention, normed)
    return attention.out_proj(mixed)


def _siglip_head(head, tokens: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F

    attn = head.attention  # nn.MultiheadAttention: with a single key, the output is its value, projected
    width = tokens.shape[-1]
    value = F.linear(tokens, attn.in_proj_weight[2 * width:], attn.in_proj_bias[2 * width:])
    out = attn.out_proj(value)
    return out + head.mlp(head.layernorm(out))


def patch_features(model, pixels: torch.Tensor, method: str) -> torch.Tensor:
    """(N, grid_h, grid_w, dim) patch features in the joint space (not normalised)."""
    if not supports(model):
        raise DenseNotSupported(f"{type(model).__name__}'s image tower has no patch tokens (a CNN such as ALIGN's): "
                                "dense localisation needs a ViT; use a VLM to locate instead")
    if method not in PATCH_METHODS:
        raise ValueError(f"unknown dense method {method!r}: one of {', '.join(PATCH_METHODS)}")
    vision = model.vision_model
    hidden = vision.embeddings(pixels)
    pre = getattr(vision, "pre_layrnorm", None)
    hidden = pre(hidden) if pre is not None else hidden
    layers = vision.encoder.layers
    for layer in layers[:-1]:
        out = layer(hidden, None)
        hidden = out[0] if isinstance(out, tuple) else out
    out = _last_layer(layers[-1], hidden, method)
    head = getattr(vision, "head", None)
    if head is not None:  # SigLIP: every token is a patch
        out = _siglip_head(head, vision.post_layernorm(out))
    else:  # CLIP: a class token first, then the patches
        out = model.visual_projection(vision.post_layernorm(out[:, 1:]))
    side = int(round(out.shape[1] ** 0.5))
    return out.reshape(out.shape[0], side, out.shape[1] // side, -1)
