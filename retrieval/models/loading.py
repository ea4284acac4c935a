"""Model spec strings -> loaded dual-encoder models: the one entry point for both families.

Weights are always resolved to local files first. When they are not in the local cache and
the machine is offline, loading fails at once with a message that says how to get them.
"""

from __future__ import annotations

from retrieval.models.loaded import LoadedModel
from retrieval.models.open_clip_loader import load_open_clip
from retrieval.models.spec import DEFAULT_MODEL, TRANSFORMERS, parse_spec


def load_model(spec: str = DEFAULT_MODEL, cache_dir: str | None = None) -> LoadedModel:
    """Load the model a spec names, in eval mode on the CPU (the encoder moves it)."""
    parsed = parse_spec(spec)
    if parsed.kind == TRANSFORMERS:
        from retrieval.models.transformers_loader import load_transformers  # needs transformers installed

        return load_transformers(parsed, cache_dir)
    return load_open_clip(parsed, cache_dir)
