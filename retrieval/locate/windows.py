"""Locating a phrase by showing the encoder one part of the picture at a time: a square
window of the picture is kept, the rest painted the picture's median colour (its
background, mostly), and the window's embedding compared with the phrase. Nothing but the
encoder's image embedding is read, so it works with any tower (a ViT or a CNN, PyTorch or
ONNX) and does not depend on what its patch tokens mean: with the small shapes model the
patch-token reads point at the named object for under half the queries, windows for over
nine in ten (bench/locate.py).

On a grid of FINE x FINE cells over the model's square input: windows centred on every
other cell (COARSE x COARSE of them, COARSE**2 encoder passes a picture), the cells between
taken as the average of their shown neighbours. The box then follows the picture's own
regions (segments.py), not the cells. None of it depends on the phrase: the window
embeddings of a picture serve every query.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np
from PIL import Image

# Measured on bench/locate.py's 600 scenes (pointing on seen pairs; IoU >= 0.5 with the
# regions' boxes): COARSE 6 and RADIUS 0.15 give 0.960 and 0.950 at 36 passes; COARSE 5:
# 0.780 and 0.897; 7: 0.966 and 0.958 at 49; 4: 0.497. RADIUS 0.12 or 0.2 pointed worse at
# every COARSE (measured when eight more windows around the best cell were shown as well:
# those moved pointing from 0.960 to 0.954, so they went).
COARSE = 6
FINE = 2 * COARSE - 1  # the coarse windows sit on the even cells, so the grid is symmetric
RADIUS = 0.15  # half a window's side, of the square's side


def centre(cell: int, side: int) -> float:
    """A fine cell's centre, in the square's pixels."""
    return (cell + 0.5) * side / FINE


def windowed(pixels: np.ndarray, fill: np.ndarray, row: int, col: int) -> np.ndarray:
    """The square picture as the model takes it (channels x side x side) with only the window
    on fine cell (row, col) kept, the rest ``fill`` (one value a channel)."""
    side = pixels.shape[-1]
    half = RADIUS * side
    cy, cx = centre(row, side), centre(col, side)
    y0, y1 = max(0, round(cy - half)), min(side, round(cy + half))
    x0, x1 = max(0, round(cx - half)), min(side, round(cx + half))
    out = np.empty_like(pixels)
    out[:] = fill[:, None, None]
    out[:, y0:y1, x0:x1] = pixels[:, y0:y1, x0:x1]
    return out


def interpolated(coarse: np.ndarray) -> np.ndarray:
    """The fine grid of a coarse one (its values on the even cells, linear between them)."""
    fine = np.zeros(coarse.shape[:-2] + (FINE, FINE), np.float32)
    fine[..., ::2, ::2] = coarse
    fine[..., 1::2, ::2] = (coarse[..., :-1, :] + coarse[..., 1:, :]) / 2
    fine[..., :, 1::2] = (fine[..., :, :-2:2] + fine[..., :, 2::2]) / 2
    return fine


class WindowScorer:
    """``encoder``: a search encoder (any runtime): each square is preprocessed once, its
    windows cut from the model's input and embedded in batches of the encoder's size."""

    def __init__(self, encoder):
        self.encoder = encoder

    def inputs(self, squares: Sequence[Image.Image]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each square as the model takes it, and its fill: its median, a channel (the
        median colour, normalised as the pixels are)."""
        out = []
        for square in squares:
            pixels = np.asarray(self.encoder.preprocess(square.convert("RGB")), np.float32)
            out.append((pixels, np.median(pixels.reshape(pixels.shape[0], -1), axis=1)))
        return out

    def _embedded(self, shown: list[np.ndarray]) -> np.ndarray:
        return np.asarray(self.encoder.embed_preprocessed(shown), np.float32)

    def coarse_features(self, inputs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Unit embeddings of the coarse windows: (N, COARSE, COARSE, dim)."""
        shown = []
        for pixels, fill in inputs:
            shown += [windowed(pixels, fill, 2 * row, 2 * col) for row in range(COARSE) for col in range(COARSE)]
        return self._embedded(shown).reshape(len(inputs), COARSE, COARSE, -1)


@functools.cache
def interpolation() -> np.ndarray:
    """(FINE * FINE, COARSE * COARSE): the fine grid as a linear map of the coarse one (read only)."""
    basis = np.eye(COARSE * COARSE, dtype=np.float32).reshape(-1, COARSE, COARSE)
    matrix = interpolated(basis).reshape(COARSE * COARSE, -1).T
    matrix.flags.writeable = False
    return matrix
