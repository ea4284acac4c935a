"""Locating a phrase in pictures with the dual encoder itself, no other model: each patch
token of the image tower is brought into the joint space (open_clip_patches.py,
transformers_patches.py) and compared with the phrase's vector, less its similarity to a
neutral phrase ("a photo": what every patch shares with any caption; measured on the shapes
scenes, it lifts the pointing game from 0.35 to 0.69); the grid of these is the heat map, and
its hottest regions of the picture the box (segments.py). One forward pass per picture, batched. Zero-shot
detection compares every patch with every label instead. The ``windows`` method
(windows.py) puts embeddings of windows of the picture where the patch tokens were: more
passes, but it points right where the patch tokens of a small model do not, and needs no
patch tokens at all."""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

from retrieval.locate import open_clip_patches, transformers_patches
from retrieval.locate.errors import DenseNotSupported, LocateError
from retrieval.locate.heatmap import region_of, regions_of
from retrieval.locate.letterbox import Letterbox
from retrieval.locate.methods import DEFAULT_METHOD, METHODS, WINDOWS
from retrieval.locate.prepared import Prepared, stacked
from retrieval.locate.segments import Segments
from retrieval.locate.windows import FINE, WindowScorer, interpolation
from retrieval.models import LoadedModel
from retrieval.regions import Region

NEUTRAL = "a photo"
MIN_LABEL_PROBABILITY = 0.5  # detection: a label is found where some patch gives it this much


_NEUTRALS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def neutral_vector(encoder) -> np.ndarray:
    """The neutral phrase's vector, embedded once per encoder: a server builds a locator for
    each request, and this text pass would cost as much as the query's own."""
    try:
        return _NEUTRALS[encoder]
    except (KeyError, TypeError):  # (TypeError: an encoder a weak reference cannot hold)
        vector = np.asarray(encoder.embed_texts([NEUTRAL])[0], np.float32)
    with contextlib.suppress(TypeError):
        _NEUTRALS[encoder] = vector
    return vector


@dataclass
class Located:
    region: Region  # the box around the hottest part, in picture pixels
    heat: np.ndarray  # the heat map over the picture (rows x columns of patches), 0..1
    grid: np.ndarray  # the raw similarities over the model's square input


class DenseLocator:
    """``encoder``: the search's encoder (any runtime): its torch model gives the patch
    tokens, its text tower the neutral phrase."""

    def __init__(self, encoder, method: str = DEFAULT_METHOD, batch_size: int = 32, device: str = "cpu"):
        if method not in METHODS:
            raise LocateError(f"unknown dense method {method!r}: one of {', '.join(METHODS)}")
        self.method, self.batch_size, self.device = method, batch_size, device
        self.side = encoder.loaded.image_size
        self.windows = WindowScorer(encoder) if method == WINDOWS else None
        if self.windows is None:  # the patch tokens are read from the torch model
            self.loaded = self._patch_model(encoder.full_model())
        self.neutral = neutral_vector(encoder)
        self.name = f"dense:{method}"

    @staticmethod
    def _patch_model(loaded: LoadedModel) -> LoadedModel:
        model = loaded.model
        if loaded.family == "open_clip":
            if not open_clip_patches.supports(getattr(model, "visual", None)):
                raise DenseNotSupported(f"{loaded.spec}: reading patch tokens needs a plain ViT image tower; "
                                        f"use --method {WINDOWS}, or locate with a VLM (Florence-2, PaliGemma, Qwen-VL)")
        elif not transformers_patches.supports(getattr(model, "inner", model)):
            raise DenseNotSupported(f"{loaded.spec}: its image tower has no patch tokens (a CNN such as ALIGN's): "
                                    f"reading patch tokens needs a ViT; use --method {WINDOWS}, or locate with a VLM")
        return loaded

    def _squares(self, images: Sequence[Image.Image]) -> tuple[list[Letterbox], list[Image.Image]]:
        boxes = [Letterbox.of(image.width, image.height, self.side) for image in images]
        return boxes, [box.apply(image) for image, box in zip(images, boxes)]

    def _features(self, squares: list[Image.Image]) -> np.ndarray:
        """Unit patch features (N, grid_h, grid_w, dim) of the letterboxed pictures: of the
        coarse windows, for that method."""
        if self.windows is not None:
            return self.windows.coarse_features(self.windows.inputs(squares))
        import torch

        out = []
        model = self.loaded.model.to(self.device)
        for start in range(0, len(squares), self.batch_size):
            chunk = squares[start:start + self.batch_size]
            pixels = torch.stack([self.loaded.preprocess(square) for square in chunk]).to(self.device)
            with torch.inference_mode():
                if self.loaded.family == "open_clip":
                    features = open_clip_patches.patch_features(model.visual, pixels, self.method)
                else:
                    features = transformers_patches.patch_features(model.inner, pixels, self.method)
            features = features.float()
            out.append((features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 1, 1, 1), np.float32)

    def _similarities(self, features: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """(N, h, w): each picture's unit features (N, h, w, dim) against its phrase's vector
        less the neutral one (``vectors``: one a picture, or one for all)."""
        phrases = np.atleast_2d(np.asarray(vectors, np.float32)) - self.neutral
        count, height, width, dim = features.shape
        return np.matmul(features.reshape(count, -1, dim), phrases[..., None]).reshape(count, height, width)

    def locate(self, images: Sequence[Image.Image], vectors: np.ndarray, labels: Sequence[str]) -> list[Located]:
        """Where in each picture its phrase is: ``vectors`` (one unit text vector per picture,
        or one for all) and ``labels`` (the phrases, for the regions)."""
        if not len(images):
            return []
        if self.windows is not None:
            return self.locate_prepared(stacked(self.prepare(images)), vectors, labels)
        boxes, squares = self._squares(images)
        grids = self._similarities(self._features(squares), vectors)
        segments = Segments.stacked([Segments.of(image, box, grid.shape) for image, box, grid in zip(images, boxes, grids)])
        return self._located(grids, boxes, segments, labels)

    def _located(self, grids: np.ndarray, boxes: Sequence[Letterbox], segments: Segments,
                 labels: Sequence[str], weighed: np.ndarray | None = None) -> list[Located]:
        named = list(labels) * len(grids) if len(labels) == 1 else list(labels)
        regions, heats = regions_of(grids, boxes, named, self.name, segments, weighed)
        return [Located(region, heat, grid) for region, heat, grid in zip(regions, heats, grids)]

    def prepare(self, images: Sequence[Image.Image]) -> list[Prepared]:
        """What locating by windows needs of each upright picture, whatever the phrase."""
        if self.windows is None:
            raise LocateError(f"only the {WINDOWS} method locates from prepared pictures, not {self.method}")
        boxes, squares = self._squares(images)
        features = self._features(squares) if images else []
        to_coarse = interpolation()  # the regions weigh the windows themselves, not the cells between
        return [Prepared(np.array([image.width, image.height]), windows,
                         Segments.of(image, box, (FINE, FINE)).folded(to_coarse), np.ones(windows.shape[:2], np.float32))
                for image, box, windows in zip(images, boxes, features)]

    def locate_prepared(self, prepared: Prepared, vectors: np.ndarray, labels: Sequence[str]) -> list[Located]:
        """``locate`` from pictures prepared before (by windows; ``prepared`` stacked): no
        file read, no encoder pass."""
        coarse = self._similarities(prepared.windows.astype(np.float32, copy=False), vectors) * prepared.window_scales
        fine = (coarse.reshape(len(coarse), -1) @ interpolation().T).reshape(len(coarse), FINE, FINE)
        boxes = [Letterbox.of(width, height, self.side) for width, height in prepared.sizes.tolist()]
        return self._located(fine, boxes, prepared.segments, labels, weighed=coarse)

    def detect(self, images: Sequence[Image.Image], label_vectors: np.ndarray, labels: Sequence[str],
               logit_scale: float) -> list[list[Region]]:
        """Zero-shot detection: each patch goes to the label it matches best (softmax over
        the labels and the neutral phrase, which takes the background, at the model's
        temperature); a label is found where some patch gives it at least
        MIN_LABEL_PROBABILITY, its box grows over the patches it wins around there."""
        if not len(labels):
            raise LocateError("give at least one label to detect")
        boxes, squares = self._squares(images)
        features = self._features(squares)
        candidates = np.vstack([np.asarray(label_vectors, np.float32), self.neutral[None]])
        out = []
        for box, patches in zip(boxes, features):
            logits = logit_scale * (patches @ candidates.T)  # (h, w, labels + background)
            logits -= logits.max(axis=-1, keepdims=True)
            probabilities = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
            winner = probabilities.argmax(axis=-1)
            rows, cols = box.picture_cells(*winner.shape)
            found = []
            for number, label in enumerate(labels):
                inside = probabilities[rows, cols, number]
                if float(inside.max()) < MIN_LABEL_PROBABILITY:
                    continue
                grid = np.full(winner.shape, -1.0, np.float32)
                grid[rows, cols] = inside
                found.append(region_of(grid, box, label, self.name, allowed=winner == number,
                                       score=float(inside.max())))
            out.append(sorted(found, key=lambda r: -(r.score or 0)))
        return out
