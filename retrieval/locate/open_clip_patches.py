"""Patch tokens of an open_clip ViT brought into the joint space.

The tower runs as usual up to its last block; the last block is then read in one of the
ways methods.py names, and each patch token goes through the final norm and projection as
the pooled token does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrieval.locate.errors import DenseNotSupported
from retrieval.locate.methods import PATCH_METHODS

if TYPE_CHECKING:
    import torch  # imported where used: naming the methods must not load torch


def supports(visual) -> bool:
    blocks = getattr(getattr(visual, "transformer", None), "resblocks", None)
    return (blocks is not None and len(blocks) > 0 and _plain_attention(blocks[-1])
            and getattr(visual, "attn_pool", None) is None and hasattr(visual, "conv1"))


def _plain_attention(block) -> bool:
    """Whether the block's attention is read as q, k, v projections and an output projection:
    torch's MultiheadAttention, or open_clip's own Attention ("custom" blocks) with none of
    its extras (scaled cosine, head scales, inner norms), which computes the same."""
    import torch

    attn = getattr(block, "attn", None)
    if isinstance(attn, torch.nn.MultiheadAttention):
        return True
    extras_off = all(isinstance(part, torch.nn.Identity) for part in (
        getattr(attn, "ln_q", None), getattr(attn, "ln_k", None), getattr(attn, "ln_inner", None),
        getattr(block, "ln_attn", None)))
    return (extras_off and hasattr(attn, "in_proj_weight") and hasattr(attn, "out_proj")
            and getattr(attn, "logit_scale", None) is None and getattr(attn, "head_scale", None) is None)


def _tokens(visual, pixels: torch.Tensor) -> torch.Tensor:
    """The tower's tokens before the transformer (class token first), as it embeds them."""
    import torch

    x = visual.conv1(pixels)
    x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
    cls = visual.class_embedding.to(x.dtype).view(1, 1, -1).expand(x.shape[0], -1, -1)
    x = torch.cat([cls, x], dim=1) + visual.positional_embedding.to(x.dtype)
    return visual.ln_pre(x)


def _attention_qq(attn, q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F

    batch, length, width = q.shape
    heads = attn.num_heads
    q = q.view(batch, length, heads, width // heads).transpose(1, 2)
    v = v.view(batch, length, heads, width // heads).transpose(1, 2)
    mixed = F.scaled_dot_product_attention(q, q, v)
    return mixed.transpose(1, 2).reshape(batch, length, width)


def patch_features(visual, pixels: torch.Tensor, method: str) -> torch.Tensor:
    """(N, grid_h, grid_w, dim) patch features in the joint space (not normalised)."""
    import torch.nn.functional as F

    if not supports(visual):
        raise DenseNotSupported("this open_clip image tower is not a plain ViT (it has attention pooling or "
                                "custom blocks): dense localisation needs one; use a VLM to locate instead")
    if method not in PATCH_METHODS:
        raise ValueError(f"unknown dense method {method!r}: one of {', '.join(PATCH_METHODS)}")
    transformer = visual.transformer
    x = _tokens(visual, pixels)
    batch_first = getattr(transformer, "batch_first", True)
    if not batch_first:
        x = x.transpose(0, 1)
    for block in transformer.resblocks[:-1]:
        x = block(x)
    if not batch_first:
        x = x.transpose(0, 1)
    last = transformer.resblocks[-1]
    if method == "tokens":
        out = last(x if batch_first else x.transpose(0, 1))
        out = out if batch_first else out.transpose(0, 1)
    else:
        attn = last.attn
        q, _, v = F.linear(last.ln_1(x), attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
        out = attn.out_proj(v if method == "value" else _attention_qq(attn, q, v))
    out = visual.ln_post(out[:, 1:])
    if visual.proj is not None:
        out = out @ visual.proj
    side = int(round((out.shape[1]) ** 0.5))
    return out.reshape(out.shape[0], side, out.shape[1] // side, -1)
