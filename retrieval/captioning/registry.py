"""Which captioner a spec names: ``transformers:`` (or a folder with a transformers
config.json), ``coca:``, or a folder clipdex's own captioner training wrote."""

from __future__ import annotations

import os

from retrieval.captioning.base import COCA_PREFIX, DEFAULT_CAPTIONER, Captioner, CaptionerError
from retrieval.captioning.own_model import CONFIG_FILE as OWN_CONFIG_FILE
from retrieval.models import TRANSFORMERS_PREFIX


def load_captioner(spec: str | None = None, device: str | None = None) -> Captioner:
    """The captioner a spec names (see the module docstring); backends are imported only
    when asked for (transformers, open_clip's CoCa)."""
    spec = spec or DEFAULT_CAPTIONER
    if spec.startswith(COCA_PREFIX):
        from retrieval.captioning.coca import CocaCaptioner

        return CocaCaptioner(spec[len(COCA_PREFIX):], device=device)
    if os.path.isdir(spec) and os.path.exists(os.path.join(spec, OWN_CONFIG_FILE)):
        from retrieval.captioning.own import OwnCaptioner

        return OwnCaptioner(spec, device=device)
    if spec.startswith(TRANSFORMERS_PREFIX) or (os.path.isdir(spec) and os.path.exists(os.path.join(spec, "config.json"))):
        from retrieval.captioning.transformers_vlm import TransformersCaptioner

        return TransformersCaptioner(spec.removeprefix(TRANSFORMERS_PREFIX), device=device)
    if os.path.isdir(spec):
        raise CaptionerError(f"{spec} holds neither a clipdex captioner ({OWN_CONFIG_FILE}) nor a transformers "
                             "model (config.json)")
    raise CaptionerError(f"unknown captioner {spec!r}: use transformers:ORG/NAME, coca:ARCH/TAG or the folder "
                         "`clipdex train-captioner` wrote")
