"""What changes when the weights behind a spec change (a retrained model dir, a new
checkpoint file), so that nothing made from the old weights (an ONNX export, cached
captions) is taken for the new ones' work."""

from __future__ import annotations

import hashlib
import os

from retrieval.models.spec import HF_HUB_PREFIX, MODEL_CONFIG_FILE, RANDOM_PREFIX, TRANSFORMERS_PREFIX


def file_stats(files: list[str]) -> list[tuple[str, int, int]]:
    """Names, sizes and modification times of ``files`` (links followed: hub snapshots are
    links into the cache)."""
    return [(os.path.basename(f), os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files if os.path.exists(f)]


def _digest(value) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()


def weights_fingerprint(spec: str) -> str:
    """The fingerprint of a dual encoder's weights (its local files; the spec alone for
    tags, hub and random models, whose weights a spec fixes). Reads the spec as parse_spec
    does, without importing open_clip: a search checks its ONNX export with this."""
    spec = spec.strip()
    files: list[str] = []
    if spec.startswith((TRANSFORMERS_PREFIX, RANDOM_PREFIX, HF_HUB_PREFIX)):
        pass
    elif os.path.isdir(spec):
        if not os.path.isfile(os.path.join(spec, MODEL_CONFIG_FILE)):
            return spec  # not a model (parse_spec refuses it)
        files = [os.path.join(spec, name) for name in sorted(os.listdir(spec))
                 if os.path.isfile(os.path.join(spec, name))]
    else:
        _arch, sep, rest = spec.partition("/")
        if sep and os.path.isfile(rest):  # ARCH/CHECKPOINT-FILE
            files = [os.path.abspath(rest)]
    return _digest((spec, file_stats(files)))


def folder_weights_fingerprint(folder: str) -> str:
    """Short fingerprint of the weight files (.safetensors, .bin) in a model folder."""
    names = sorted(name for name in os.listdir(folder) if name.endswith((".safetensors", ".bin")))
    return _digest(file_stats([os.path.join(folder, name) for name in names]))[:12]
