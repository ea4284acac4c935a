"""The ways of reading a ViT's patch tokens into the joint space (open_clip_patches.py and
transformers_patches.py implement them), without importing torch to name them:

- ``value`` (MaskCLIP): the last attention's value path alone, out-projected (the default:
  measured best on the shapes scenes, bench/locate.py);
- ``qq`` (ClearCLIP): the last attention with queries attending to queries, no residual, no MLP;
- ``tokens``: the last block as it is;
- ``windows``: not the patch tokens: embeddings of windows of the picture, the rest painted
  over (windows.py); any tower, COARSE**2 passes a picture instead of one.
"""

PATCH_METHODS = ("value", "qq", "tokens")
WINDOWS = "windows"
METHODS = PATCH_METHODS + (WINDOWS,)
DEFAULT_METHOD = "value"
