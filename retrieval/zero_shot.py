"""Zero-shot classification: labels turned into text vectors through prompt templates.

As in CLIP, each label is embedded with every template ("a photo of a {}."), the
vectors are averaged and re-normalised, and an image's label probabilities are the
softmax of its cosine similarities scaled by the model's learned temperature
(``Encoder.logit_scale``, the same for every runtime).
"""

from __future__ import annotations

import string

import numpy as np

DEFAULT_TEMPLATES = (
    "a photo of a {}.",
    "a picture of a {}.",
    "a close-up photo of a {}.",
    "a photo of the {}.",
    "a good photo of a {}.",
    "a bright photo of a {}.",
    "a cropped photo of a {}.",
    "an image of a {}.",
)
MAX_LABELS = 1000


class ZeroShotError(ValueError):
    pass


def check_labels(labels: list[str], templates: list[str] | None) -> tuple[list[str], list[str]]:
    labels = [label.strip() for label in labels]
    if not labels:
        raise ZeroShotError("give at least one label")
    if any(not label for label in labels):
        raise ZeroShotError("labels must not be empty")
    if len(labels) > MAX_LABELS:
        raise ZeroShotError(f"at most {MAX_LABELS} labels")
    if len(set(labels)) != len(labels):
        raise ZeroShotError("labels must be distinct")
    templates = list(templates) if templates else list(DEFAULT_TEMPLATES)
    for template in templates:
        if not _one_slot(template):
            raise ZeroShotError(f"template {template!r} must contain exactly one {{}} for the label")
    return labels, templates


def _one_slot(template: str) -> bool:
    """Exactly one bare "{}" and nothing else str.format would act on or choke on."""
    try:
        fields = [f for _, f, spec, conv in string.Formatter().parse(template) if f is not None]
    except ValueError:  # unbalanced braces
        return False
    return fields == [""] and "{}" in template


def label_vectors(encoder, labels: list[str], templates: list[str] | None = None) -> np.ndarray:
    """One unit vector per label: the normalised mean over templates."""
    labels, templates = check_labels(labels, templates)
    prompts = [template.format(label) for label in labels for template in templates]
    vectors = encoder.embed_texts(prompts).reshape(len(labels), len(templates), -1).mean(axis=1)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)


def ranked(labels: list[str], probabilities) -> list[tuple[str, float]]:
    """(label, probability) pairs of one image, most probable first."""
    return sorted(zip(labels, (float(p) for p in probabilities)), key=lambda pair: -pair[1])


def classify(image_vectors: np.ndarray, label_vecs: np.ndarray, scale: float) -> np.ndarray:
    """Label probabilities (rows sum to 1) for each image vector."""
    logits = scale * (np.atleast_2d(image_vectors) @ label_vecs.T)
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    return probabilities / probabilities.sum(axis=1, keepdims=True)
