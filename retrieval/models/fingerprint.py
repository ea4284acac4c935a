"""What changes when the weights behind a spec change (a retrained model dir, a new
checkpoint file), so that nothing made from the old weights (an ONNX export, cached
captions) is taken for the new ones' work."""

from __future__ import annotations

import hashlib
import os

from retrieval.models.spec import CHECKPOINT, LOCAL_DIR, parse_spec


def file_stats(files: list[str]) -> list[tuple[str, int, int]]:
    """Names, sizes and modification times of ``files`` (links followed: hub snapshots are
    links into the cache)."""
    return [(os.path.basename(f), os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files if os.path.exists(f)]


def _digest(value) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()


def weights_fingerprint(spec: str) -> str:
    """The fingerprint of a dual encoder's weights (its local files; the spec alone for
    hub and random models, whose weights a spec fixes)."""
    try:
        parsed = parse_spec(spec)
    except ValueError:
        return spec
    files = []
    if parsed.kind == LOCAL_DIR:
        files = [os.path.join(parsed.path, name) for name in sorted(os.listdir(parsed.path))
                 if os.path.isfile(os.path.join(parsed.path, name))]
    elif parsed.kind == CHECKPOINT:
        files = [parsed.path]
    return _digest((spec, file_stats(files)))


def folder_weights_fingerprint(folder: str) -> str:
    """Short fingerprint of the weight files (.safetensors, .bin) in a model folder."""
    names = sorted(name for name in os.listdir(folder) if name.endswith((".safetensors", ".bin")))
    return _digest(file_stats([os.path.join(folder, name) for name in names]))[:12]
