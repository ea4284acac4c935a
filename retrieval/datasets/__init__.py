"""Labelled data that exists offline: generated shape scenes with captions, and Fashion-MNIST.

Modules (test file in brackets):

- shapes.py         captioned scenes of coloured shapes, deterministic, with held-out pairs (tests/integration/test_own_captioner.py)
- text_scenes.py    pictures with words, codes and numbers in them, turned and tagged, and their queries (tests/unit/retrieval/test_ocr.py)
- fashion_mnist.py  Fashion-MNIST from Debian's dataset-fashion-mnist, templated captions (tests/unit/retrieval/test_fashion_mnist.py)
"""

from retrieval.datasets.fashion_mnist import DatasetMissing, load_split
from retrieval.datasets.shapes import colour_shape_labels, make_split, names_every_object

__all__ = ["DatasetMissing", "colour_shape_labels", "load_split", "make_split", "names_every_object"]
