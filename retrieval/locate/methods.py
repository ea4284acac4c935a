"""The ways of reading a ViT's patch tokens into the joint space (open_clip_patches.py and
transformers_patches.py implement them), without importing torch to name them:

- ``value`` (MaskCLIP): the last attention's value path alone, out-projected (the default:
  measured best on the shapes scenes, bench/locate.py);
- ``qq`` (ClearCLIP): the last attention with queries attending to queries, no residual, no MLP;
- ``tokens``: the last block as it is.
"""

METHODS = ("value", "qq", "tokens")
DEFAULT_METHOD = "value"
