"""Model spec strings -> loaded dual-encoder models.

A spec names where a model comes from:

- ``ARCH/TAG``            an open_clip architecture and pretrained tag
                          (``ViT-B-32/laion2b_s34b_b79k``, the default);
- ``ARCH/PATH``           an open_clip architecture and a local checkpoint file;
- ``hf-hub:ORG/NAME``     an open_clip model published on the Hugging Face hub;
- ``PATH``                a local directory holding ``open_clip_config.json`` and weights
                          (the format ``clipdex train`` writes);
- ``random:ARCH``         random, seeded weights: plumbing tests and throughput benchmarks only;
- ``transformers:ORG/NAME`` or ``transformers:DIR``  a transformers dual encoder (CLIPModel,
                          AlignModel, SiglipModel), see hf_models.py.

Weights are always resolved to local files first. When they are not in the local cache and
the machine is offline, loading fails at once with a message that says how to get them,
instead of letting the hub client retry for a minute.
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

DEFAULT_MODEL = "ViT-B-32/laion2b_s34b_b79k"
RANDOM_PREFIX = "random:"
HF_HUB_PREFIX = "hf-hub:"
TRANSFORMERS_PREFIX = "transformers:"
RANDOM_SEED = 0
_HUB_HOST = "huggingface.co"
_CONFIG_DIR = Path(__file__).parent / "model_configs"


class ModelNotAvailable(RuntimeError):
    """The weights a spec names are not on this machine and cannot be fetched now."""


class BadModelSpec(ValueError):
    """A spec string that names no model clipdex knows how to load."""


@dataclass
class LoadedModel:
    """An open_clip model with what it needs to turn pixels and words into vectors."""

    spec: str
    model: Any
    preprocess: Callable  # PIL image -> CHW float tensor
    tokenizer: Callable  # list[str] -> token tensor
    embed_dim: int
    image_size: int
    family: str = "open_clip"  # or "transformers"


def _register_clipdex_configs() -> None:
    import open_clip

    if "clipdex-tiny" not in open_clip.list_models():
        open_clip.add_model_config(_CONFIG_DIR)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((_HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _hub_file(repo_id: str, filenames: list[str], cache_dir: str | None, spec: str) -> str:
    """Path of the first of ``filenames`` found for ``repo_id``: cache first, then the hub."""
    from huggingface_hub import hf_hub_download

    for name in filenames:
        try:
            return hf_hub_download(repo_id, name, cache_dir=cache_dir, local_files_only=True)
        except Exception:
            continue
    how = (
        f"Download it once on a machine with network access (for example "
        f"`huggingface-cli download {repo_id}`, or run clipdex there with the same cache "
        f"directory), then copy the cache ({cache_dir or '~/.cache/huggingface/hub'}); "
        f"or use a local checkpoint path or `random:ARCH` for tests."
    )
    if _offline() or not _hub_reachable():
        raise ModelNotAvailable(
            f"Model {spec!r} is not in the local cache and {_HUB_HOST} cannot be reached "
            f"(offline). {how}"
        )
    last_error: Exception | None = None
    for name in filenames:
        try:
            return hf_hub_download(repo_id, name, cache_dir=cache_dir)
        except Exception as exc:  # try the next file name (safetensors, then .bin)
            last_error = exc
    raise ModelNotAvailable(f"Could not download {spec!r} from {repo_id}: {last_error}. {how}")


def weights_fingerprint(spec: str) -> str:
    """What changes when the weights behind a spec change (a retrained model dir, a new
    checkpoint file), so that nothing made from the old weights (an ONNX export, cached
    captions) is taken for the new ones' work."""
    try:
        parsed = parse_spec(spec)
    except ValueError:
        return spec
    files = []
    if parsed["kind"] == "local-dir":
        files = [os.path.join(parsed["path"], name) for name in sorted(os.listdir(parsed["path"]))
                 if os.path.isfile(os.path.join(parsed["path"], name))]
    elif parsed["kind"] == "checkpoint":
        files = [parsed["path"]]
    stats = [(os.path.basename(f), os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files if os.path.exists(f)]
    return hashlib.sha256(repr((spec, stats)).encode()).hexdigest()


def _weight_names(filename: str) -> list[str]:
    stem, suffix = os.path.splitext(filename)
    names = [stem + ".safetensors"] if suffix in (".bin", ".pth", ".pt") else []
    return names + [filename]


def parse_spec(spec: str) -> dict:
    """Split a spec into the arguments open_clip needs, without loading anything."""
    import open_clip

    _register_clipdex_configs()
    spec = spec.strip()
    if not spec:
        raise BadModelSpec("empty model spec")
    if spec.startswith(TRANSFORMERS_PREFIX):
        source = spec[len(TRANSFORMERS_PREFIX):]
        if not source:
            raise BadModelSpec(f"{spec!r} names no model: transformers:ORG/NAME or transformers:DIR")
        return {"kind": "transformers", "source": source}
    if spec.startswith(RANDOM_PREFIX):
        arch = spec[len(RANDOM_PREFIX):]
        if arch not in open_clip.list_models():
            raise BadModelSpec(f"unknown architecture {arch!r} in {spec!r}; see open_clip.list_models()")
        return {"kind": "random", "arch": arch}
    if spec.startswith(HF_HUB_PREFIX):
        return {"kind": "hf-hub", "repo": spec[len(HF_HUB_PREFIX):]}
    if os.path.isdir(spec):
        if not os.path.isfile(os.path.join(spec, "open_clip_config.json")):
            raise BadModelSpec(f"directory {spec!r} has no open_clip_config.json")
        return {"kind": "local-dir", "path": os.path.abspath(spec)}
    arch, sep, rest = spec.partition("/")
    if not sep or not rest:
        raise BadModelSpec(
            f"cannot read model spec {spec!r}: expected ARCH/TAG, ARCH/PATH, hf-hub:ORG/NAME, "
            f"a model directory, or random:ARCH"
        )
    if arch not in open_clip.list_models():
        raise BadModelSpec(f"unknown architecture {arch!r} in {spec!r}")
    if os.path.isfile(rest):
        return {"kind": "checkpoint", "arch": arch, "path": os.path.abspath(rest)}
    cfg = open_clip.get_pretrained_cfg(arch, rest)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        raise BadModelSpec(f"{rest!r} is neither a pretrained tag of {arch} ({tags}) nor a file")
    return {"kind": "tag", "arch": arch, "tag": rest, "cfg": cfg}


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


def _seeded_random_model(arch: str):
    import open_clip
    import torch

    # Random weights must be the same on every load, or a collection indexed with
    # random:ARCH could not be searched by the next process.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        return open_clip.create_model_and_transforms(arch, pretrained=None)


def _create(parsed: dict, cache_dir: str | None, spec: str):
    import open_clip

    kind = parsed["kind"]
    if kind == "random":
        return _seeded_random_model(parsed["arch"]) + (open_clip.get_tokenizer(parsed["arch"]),)
    if kind == "checkpoint":
        created = open_clip.create_model_and_transforms(parsed["arch"], pretrained=parsed["path"])
        return created + (open_clip.get_tokenizer(parsed["arch"]),)
    if kind == "tag":
        cfg = parsed["cfg"]
        if "file" in cfg:
            weights = cfg["file"]
        elif cfg.get("hf_hub"):
            # open_clip writes "org/name/file.bin", or "org/name/" for the default file name.
            repo, filename = os.path.split(cfg["hf_hub"])
            filename = filename or "open_clip_pytorch_model.bin"
            weights = _hub_file(repo, _weight_names(filename), cache_dir, spec)
        else:
            raise ModelNotAvailable(
                f"{spec!r} is only published at {cfg.get('url')}; download it and use "
                f"{parsed['arch']}/PATH-TO-FILE"
            )
        pp = {k: cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in cfg}
        created = open_clip.create_model_and_transforms(
            parsed["arch"],
            pretrained=weights,
            force_quick_gelu=bool(cfg.get("quick_gelu", False)),
            image_mean=pp.get("mean"),
            image_std=pp.get("std"),
            image_interpolation=pp.get("interpolation"),
            image_resize_mode=pp.get("resize_mode"),
        )
        return created + (open_clip.get_tokenizer(parsed["arch"]),)
    if kind == "hf-hub":
        config = _hub_file(parsed["repo"], ["open_clip_config.json"], cache_dir, spec)
        _hub_file(parsed["repo"], _weight_names("open_clip_pytorch_model.bin"), cache_dir, spec)
        # Both files now sit in one snapshot folder: load it as a local directory so that
        # open_clip makes no network calls of its own.
        local = "local-dir:" + os.path.dirname(config)
        return open_clip.create_model_and_transforms(local) + (open_clip.get_tokenizer(local),)
    if kind == "local-dir":
        local = "local-dir:" + parsed["path"]
        return open_clip.create_model_and_transforms(local) + (open_clip.get_tokenizer(local),)
    raise BadModelSpec(f"unhandled spec kind {kind}")


def load_model(spec: str = DEFAULT_MODEL, cache_dir: str | None = None) -> LoadedModel:
    """Load the model a spec names, in eval mode on the CPU (the encoder moves it)."""
    parsed = parse_spec(spec)
    if parsed["kind"] == "transformers":
        from retrieval.models import transformers_loader as hf_models

        return hf_models.load(spec, cache_dir)
    model, _train_transform, preprocess, tokenizer = _create(parsed, cache_dir, spec)
    model.eval()
    visual = model.visual
    image_size = visual.image_size
    if isinstance(image_size, (tuple, list)):
        image_size = image_size[0]
    embed_dim = _output_dim(model)
    return LoadedModel(
        spec=canonical_spec(spec),
        model=model,
        preprocess=preprocess,
        tokenizer=tokenizer,
        embed_dim=embed_dim,
        image_size=int(image_size),
    )


def _output_dim(model) -> int:
    import torch

    proj = getattr(model, "text_projection", None)
    if isinstance(proj, torch.Tensor) and proj.ndim == 2:
        return int(proj.shape[1])
    if isinstance(proj, torch.nn.Linear):
        return int(proj.out_features)
    with torch.no_grad():
        tokens = torch.zeros(1, getattr(model, "context_length", 77), dtype=torch.long)
        return int(model.encode_text(tokens).shape[-1])
