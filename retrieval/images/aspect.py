"""Pictures of an extreme aspect ratio, cut down before the model's resize.

open_clip's (and CLIP's) eval transform resizes the *short* side to the input size, then
crops the centre square. A 30000 x 1 strip becomes 6,720,000 x 224 pixels on the way:
8 GB for a 173-byte PNG. Cropping the centre first to at most ``MAX_ASPECT`` : 1 leaves the
square the model sees as it was (the crop edge is far from it), and bounds the resize to
``MAX_ASPECT`` times the model's input.
"""

from __future__ import annotations

from typing import Callable

MAX_ASPECT = 4.0


def centre_box(width: int, height: int, max_aspect: float = MAX_ASPECT) -> tuple[int, int, int, int] | None:
    """The centred (left, top, right, bottom) box of at most ``max_aspect`` : 1 that holds
    the central square; None when the picture is within it already."""
    short, long = min(width, height), max(width, height)
    keep = max(1, int(short * max_aspect))
    if long <= keep:
        return None
    start = (long - keep) // 2
    return (start, 0, start + keep, height) if width >= height else (0, start, width, start + keep)


class BoundedAspect:
    """A PIL preprocess (resize short side, centre crop) that never resizes more than
    ``max_aspect`` times its input; pickles, for decode workers and Ray."""

    def __init__(self, preprocess: Callable, max_aspect: float = MAX_ASPECT):
        self.preprocess = preprocess
        self.max_aspect = max_aspect

    def __call__(self, image):
        box = centre_box(*image.size, self.max_aspect)
        return self.preprocess(image.crop(box) if box else image)
