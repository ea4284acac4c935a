"""Which dual encoder, and loading it: spec strings in, a LoadedModel out.

Modules (test file in brackets):

- spec.py               spec string -> typed ModelSpec; canonical form; the model errors (tests/unit/retrieval/test_models.py)
- hub.py                Hugging Face hub: cache first, fail fast offline (tests/unit/retrieval/test_models.py)
- loaded.py             LoadedModel: model, preprocess, tokenizer, dimensions
- open_clip_loader.py   open_clip tags, checkpoints, hub repos, folders, seeded random weights (tests/unit/retrieval/test_models.py)
- transformers_loader.py CLIP, ALIGN, SigLIP from transformers (tests/integration/test_transformers_backends.py)
- compact_vocab.py      a vocabulary sized for the training captions (tests/unit/retrieval/test_compact_vocab.py)
- clip_bpe.py           CLIP's tokenizer without torch, numpy ids (tests/unit/retrieval/test_clip_bpe.py)
- loading.py            load_model: the one entry point for both families (tests/unit/retrieval/test_models.py)
- fingerprint.py        what changes when weights change (tests/unit/retrieval/test_onnx_backend.py)
- catalogue.py          known models, their size and published accuracy, cached or not (tests/e2e/test_cli.py)
- model_configs/        clipdex's own architectures as open_clip JSON configs
"""

from retrieval.models.fingerprint import weights_fingerprint
from retrieval.models.loaded import LoadedModel
from retrieval.models.loading import load_model
from retrieval.models.spec import (
    DEFAULT_MODEL,
    HF_HUB_PREFIX,
    RANDOM_PREFIX,
    TRANSFORMERS_PREFIX,
    BadModelSpec,
    ModelNotAvailable,
    ModelSpec,
    canonical_spec,
    parse_spec,
    register_clipdex_configs,
)

__all__ = [
    "DEFAULT_MODEL", "HF_HUB_PREFIX", "RANDOM_PREFIX", "TRANSFORMERS_PREFIX", "BadModelSpec", "LoadedModel",
    "ModelNotAvailable", "ModelSpec", "canonical_spec", "load_model", "parse_spec", "register_clipdex_configs",
    "weights_fingerprint",
]
