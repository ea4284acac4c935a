"""int8 for what is kept of prepared pictures: a quarter of float32's bytes, each row (a
window's embedding, a region's weights) with a float32 scale of its own, applied after the
products that read them (fewer values to scale than to widen). A search reads its hits'
records back from the database, which copies every byte through its pages: at bfloat16 that
read was a quarter of what locating 10 hits cost. Measured on bench/locate.py's scenes with
the trained shapes model: a window's similarity to a phrase moves by at most 0.003, where
the similarities over one picture span 0.5."""

from __future__ import annotations

import numpy as np

LEVELS = 127


def quantized(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 values, the float32 scale of each row over the last axis), symmetric."""
    values = np.asarray(values, np.float32)
    scales = np.abs(values).max(axis=-1) / LEVELS
    steps = np.where(scales > 0, scales, 1.0)[..., None]
    return np.round(values / steps).astype(np.int8), scales.astype(np.float32)
