"""Captioners: images in, sentences out (and answers to questions, where a model can).

Modules (test file in brackets):

- base.py              Captioner base (batching, prompt checks), the captioning errors (tests/integration/test_vlm_captioners.py)
- registry.py          load_captioner: which backend a spec names (tests/integration/test_vlm_captioners.py)
- transformers_vlm.py  BLIP, GIT, Florence-2, PaliGemma 2, Qwen2-VL, SmolVLM... from transformers (tests/integration/test_vlm_captioners.py)
- coca.py              open_clip's CoCa (tests/integration/test_vlm_captioners.py)
- own_model.py         clipdex's own word decoder and its vocabulary (tests/unit/retrieval/test_captioning.py)
- own.py               clipdex's own captioner at inference (tests/integration/test_own_captioner.py)
- metrics.py           BLEU-4 and CIDEr-D against reference captions (tests/unit/retrieval/test_captioning.py)
"""

from retrieval.captioning.base import (
    COCA_PREFIX,
    DEFAULT_CAPTIONER,
    MAX_PROMPT_CHARS,
    AnswerNotSupported,
    Captioner,
    CaptionerError,
    PromptTooLong,
)
from retrieval.captioning.registry import load_captioner

__all__ = ["COCA_PREFIX", "DEFAULT_CAPTIONER", "MAX_PROMPT_CHARS", "AnswerNotSupported", "Captioner",
           "CaptionerError", "PromptTooLong", "load_captioner"]
