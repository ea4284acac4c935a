"""Showing where: the part of a picture a phrase names, and zero-shot detection of labels.

Modules (test file in brackets):

- dense.py               DenseLocator: heat maps and boxes from the dual encoder's own patch tokens (tests/integration/test_locate.py)
- methods.py             the ways patch tokens are read: value (MaskCLIP), qq (ClearCLIP), tokens; and windows
- windows.py             heat maps from windows of the picture shown to the encoder (tests/unit/retrieval/test_locate_geometry.py, tests/integration/test_locate.py)
- segments.py            the picture's regions of like colour: boxes that follow its edges (tests/unit/retrieval/test_locate_segments.py)
- prepared.py            what windows locating needs of a picture, worked out once and kept as a record (tests/integration/test_locate_prepared.py)
- int8.py                how prepared records keep float32 in a quarter of the bytes (tests/integration/test_locate_prepared.py)
- open_clip_patches.py   an open_clip ViT's patch tokens in the joint space, read those ways (tests/integration/test_locate.py)
- transformers_patches.py the same for transformers CLIP and SigLIP towers (tests/integration/test_locate.py)
- letterbox.py           the whole picture fitted into the model's square input, and back (tests/unit/retrieval/test_locate_geometry.py)
- heatmap.py             similarity grid -> heat map over the picture -> box (snapped to segments) (tests/unit/retrieval/test_locate_geometry.py)
- vlm.py                 grounding and detection by Florence-2, PaliGemma and Qwen-VL (tests/integration/test_vlm_regions.py)
- errors.py              LocateError, DenseNotSupported
"""

from retrieval.locate.dense import DenseLocator, Located
from retrieval.locate.errors import DenseNotSupported, LocateError
from retrieval.locate.methods import DEFAULT_METHOD, METHODS

__all__ = ["DEFAULT_METHOD", "METHODS", "DenseLocator", "DenseNotSupported", "LocateError", "Located"]
