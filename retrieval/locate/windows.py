"""Locating a phrase by showing the encoder one part of the picture at a time: a square
window of the picture is kept, the rest painted the picture's median colour (its
background, mostly), and the window's embedding compared with the phrase. Nothing but the
encoder's image embedding is read, so it works with any tower (a ViT or a CNN, PyTorch or
ONNX) and does not depend on what its patch tokens mean: with the small shapes model the
patch-token reads point at the named object for under half the queries, windows for over
nine in ten (bench/locate.py).

Coarse to fine, on a grid of FINE x FINE cells over the model's square input: windows
centred on every other cell first (COARSE x COARSE of them), the cells between taken as the
average of their evaluated neighbours; then windows on the eight cells around the best one.
The hottest cell is always a window that was shown. COARSE**2 + 8 encoder passes a picture.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

from retrieval.locate.letterbox import Letterbox

# Measured on bench/locate.py's 600 scenes (pointing on seen pairs, passes a picture): COARSE
# 6 and RADIUS 0.15 give 0.954 at 44; COARSE 5: 0.920 at 33; 7: 0.977 at 57; 4: 0.885 at 24;
# RADIUS 0.12 or 0.2 point worse at every COARSE.
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
        median colour, normalised as the pixels are). Made once for both passes."""
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

    def refined(self, inputs: list[tuple[np.ndarray, np.ndarray]], coarse: np.ndarray, vectors: np.ndarray,
                boxes: Sequence[Letterbox]) -> np.ndarray:
        """Fine grids (N, FINE, FINE) of similarity with each picture's vector: the coarse
        similarities ``coarse`` (N, COARSE, COARSE) spread over the fine grid, and the cells
        around each best coarse window on the picture (not its padding) shown to the encoder."""
        fine = interpolated(coarse)
        shown, places = [], []
        for number, ((pixels, fill), box) in enumerate(zip(inputs, boxes)):
            rows, cols = box.picture_cells(FINE, FINE)
            on_picture = np.full((FINE, FINE), -np.inf, np.float32)
            on_picture[rows, cols] = fine[number, rows, cols]
            best = on_picture[::2, ::2]
            row, col = np.unravel_index(int(np.argmax(best)), best.shape)
            for r in range(2 * row - 1, 2 * row + 2):
                for c in range(2 * col - 1, 2 * col + 2):
                    if 0 <= r < FINE and 0 <= c < FINE and (r % 2 or c % 2):
                        shown.append(windowed(pixels, fill, r, c))
                        places.append((number, r, c))
        for (number, r, c), vector in zip(places, self._embedded(shown)):
            fine[number, r, c] = float(vector @ vectors[number])
        return fine
