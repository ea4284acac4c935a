"""Model spec strings -> a typed ModelSpec, without loading anything.

A spec names where a model comes from:

- ``ARCH/TAG``            an open_clip architecture and pretrained tag
                          (``ViT-B-32/laion2b_s34b_b79k``, the default);
- ``ARCH/PATH``           an open_clip architecture and a local checkpoint file;
- ``hf-hub:ORG/NAME``     an open_clip model published on the Hugging Face hub;
- ``PATH``                a local directory holding ``open_clip_config.json`` and weights
                          (the format ``clipdex train`` writes);
- ``random:ARCH``         random, seeded weights: plumbing tests and throughput benchmarks only;
- ``transformers:ORG/NAME`` or ``transformers:DIR``  a transformers dual encoder (CLIPModel,
                          AlignModel, SiglipModel), see transformers_loader.py.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "ViT-B-32/laion2b_s34b_b79k"
RANDOM_PREFIX = "random:"
HF_HUB_PREFIX = "hf-hub:"
TRANSFORMERS_PREFIX = "transformers:"
CONFIG_DIR = Path(__file__).parent / "model_configs"
MODEL_CONFIG_FILE = "open_clip_config.json"  # what marks a folder as an open_clip model

# The kinds of spec
TAG, CHECKPOINT, HF_HUB, LOCAL_DIR, RANDOM, TRANSFORMERS = "tag", "checkpoint", "hf-hub", "local-dir", "random", "transformers"


class ModelNotAvailable(RuntimeError):
    """The weights a spec names are not on this machine and cannot be fetched now."""


class BadModelSpec(ValueError):
    """A spec string that names no model clipdex knows how to load."""


@dataclass(frozen=True)
class ModelSpec:
    """What a spec string names. ``kind`` is one of the kinds above; the other fields are
    set where that kind has them."""

    text: str  # the spec as given (stripped)
    kind: str
    arch: str | None = None  # open_clip architecture (tag, checkpoint, random)
    tag: str | None = None  # open_clip pretrained tag
    pretrained: dict | None = None  # open_clip's pretrained config of the tag
    path: str | None = None  # checkpoint file or model directory, absolute
    repo: str | None = None  # hub repository (hf-hub)
    source: str | None = None  # what follows transformers: (hub repository or folder)


def register_clipdex_configs() -> None:
    """Make clipdex's own architectures (model_configs/*.json) known to open_clip."""
    import open_clip

    if "clipdex-tiny" not in open_clip.list_models():
        open_clip.add_model_config(CONFIG_DIR)


def parse_spec(spec: str) -> ModelSpec:
    """Read a spec string (see the module docstring); imports open_clip, loads nothing."""
    import open_clip

    register_clipdex_configs()
    spec = spec.strip()
    if not spec:
        raise BadModelSpec("empty model spec")
    if spec.startswith(TRANSFORMERS_PREFIX):
        source = spec[len(TRANSFORMERS_PREFIX):]
        if not source:
            raise BadModelSpec(f"{spec!r} names no model: transformers:ORG/NAME or transformers:DIR")
        return ModelSpec(spec, TRANSFORMERS, source=source)
    if spec.startswith(RANDOM_PREFIX):
        arch = spec[len(RANDOM_PREFIX):]
        if arch not in open_clip.list_models():
            raise BadModelSpec(f"unknown architecture {arch!r} in {spec!r}{_did_you_mean(arch, open_clip.list_models())}")
        return ModelSpec(spec, RANDOM, arch=arch)
    if spec.startswith(HF_HUB_PREFIX):
        return ModelSpec(spec, HF_HUB, repo=spec[len(HF_HUB_PREFIX):])
    if os.path.isdir(spec):
        if not os.path.isfile(os.path.join(spec, MODEL_CONFIG_FILE)):
            raise BadModelSpec(f"directory {spec!r} has no {MODEL_CONFIG_FILE}")
        return ModelSpec(spec, LOCAL_DIR, path=os.path.abspath(spec))
    arch, sep, rest = spec.partition("/")
    if not sep or not rest:
        raise BadModelSpec(
            f"cannot read model spec {spec!r}: expected ARCH/TAG, ARCH/PATH, hf-hub:ORG/NAME, "
            f"a model directory, or random:ARCH"
        )
    if arch not in open_clip.list_models():
        raise BadModelSpec(f"unknown architecture {arch!r} in {spec!r}{_did_you_mean(arch, open_clip.list_models())}")
    if os.path.isfile(rest):
        return ModelSpec(spec, CHECKPOINT, arch=arch, path=os.path.abspath(rest))
    cfg = open_clip.get_pretrained_cfg(arch, rest)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        raise BadModelSpec(f"{rest!r} is neither a pretrained tag of {arch} nor a file"
                           f"{_did_you_mean(rest, tags, 'tags of ' + arch)}")
    return ModelSpec(spec, TAG, arch=arch, tag=rest, pretrained=cfg)


def _did_you_mean(name: str, known: list[str], what: str = "architectures") -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"{hint} (`clipdex models` lists the models clipdex knows; open_clip has {len(known)} {what})"


def canonical_spec(spec: str) -> str:
    """The spec as stored with a collection: local paths made absolute.

    Cheap (imports nothing heavy), so a collection can check its model before loading it.
    """
    spec = spec.strip()
    if spec.startswith(TRANSFORMERS_PREFIX):
        source = spec[len(TRANSFORMERS_PREFIX):]
        return TRANSFORMERS_PREFIX + (os.path.abspath(source) if os.path.isdir(source) else source)
    if spec.startswith((RANDOM_PREFIX, HF_HUB_PREFIX)):
        return spec
    if os.path.isdir(spec):
        return os.path.abspath(spec)
    arch, sep, rest = spec.partition("/")
    if sep and os.path.isfile(rest):
        return f"{arch}/{os.path.abspath(rest)}"
    return spec
