"""How well a dual encoder retrieves: recall@1/5/10 both ways on distinct captions, and
zero-shot accuracy when labels are given."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class EvalData:
    images: list  # PIL images
    captions: list[str]  # one per image, distinct
    labels: list[str] | None = None  # zero-shot class names, if any
    targets: list[int] | None = None  # index into labels per image
    templates: list[str] | None = None


def recall_at(similarity: np.ndarray, ks=(1, 5, 10)) -> dict:
    """Recall@k where row i's correct column is i."""
    ranks = (similarity > similarity[np.arange(len(similarity)), np.arange(len(similarity))][:, None]).sum(axis=1)
    return {f"R@{k}": float((ranks < k).mean()) for k in ks}


def evaluate(encoder, data: EvalData) -> dict:
    """Retrieval both ways on distinct captions; zero-shot accuracy when labels are given."""
    from retrieval.zero_shot import label_vectors

    images = encoder.embed_images(data.images)
    texts = encoder.embed_texts(data.captions)
    similarity = images @ texts.T
    out = {f"image->text {k}": v for k, v in recall_at(similarity).items()}
    out.update({f"text->image {k}": v for k, v in recall_at(similarity.T).items()})
    if data.labels:
        labels = label_vectors(encoder, data.labels, data.templates or ["a {}"])
        predicted = (images @ labels.T).argmax(axis=1)
        out["zero-shot accuracy"] = float((predicted == np.asarray(data.targets)).mean())
    return out
