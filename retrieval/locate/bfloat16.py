"""bfloat16 (float32's upper half) for what is kept of prepared pictures: half the bytes of
float32, enough for similarities, and read back by a shift. numpy has no bfloat16 type, so
the values travel as uint16 bits and are widened where they are used, many pictures' at
once (numpy's own float16 conversion cost more than locating itself)."""

from __future__ import annotations

import numpy as np


def to_bfloat16(values: np.ndarray) -> np.ndarray:
    """float32 values as bfloat16 bits (uint16), rounded to nearest, ties to even."""
    bits = np.ascontiguousarray(values, np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def widened(values: np.ndarray) -> np.ndarray:
    """float32 values of bfloat16 bits (uint16), or of anything else numeric."""
    if values.dtype == np.uint16:
        return np.left_shift(values, 16, dtype=np.uint32).view(np.float32)
    return np.asarray(values, np.float32)
