"""Synthetic unit vectors for index benchmarks, made chunk by chunk so that 10M fit on a small machine.

``clustered``: a mixture of many clusters of uneven size and spread on the unit sphere,
inside a common cone, as CLIP image embeddings of a photo collection are (near-duplicates
close together, a topic a loose cloud, everything sharing a mean direction).
``uniform``: uniform on the sphere, the hard case where no index structure helps.
"""

from __future__ import annotations

import numpy as np


class VectorMixture:
    def __init__(self, dim: int, clusters: int, kind: str = "clustered", seed: int = 0):
        if kind not in ("clustered", "uniform"):
            raise ValueError(f"kind must be clustered or uniform, not {kind!r}")
        self.dim, self.kind, self.seed = dim, kind, seed
        rng = np.random.default_rng(seed)
        self.centres = rng.normal(size=(clusters, dim)).astype(np.float32)
        self.spread = rng.uniform(0.6, 1.1, clusters).astype(np.float32)  # per-dimension noise
        weights = 1.0 / np.arange(1, clusters + 1) ** 0.5  # some topics far larger than others
        self.weights = rng.permutation(weights / weights.sum())
        self.cone = rng.normal(size=dim).astype(np.float32) * 1.5

    def sample(self, n: int, stream: int) -> np.ndarray:
        """``n`` vectors from an independent random stream (chunk number, or queries)."""
        rng = np.random.default_rng((self.seed, stream))
        if self.kind == "uniform":
            vectors = rng.standard_normal((n, self.dim), dtype=np.float32)
        else:
            which = rng.choice(len(self.centres), n, p=self.weights)
            noise = rng.standard_normal((n, self.dim), dtype=np.float32)
            vectors = self.centres[which] + self.spread[which, None] * noise + self.cone
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def chunks(self, n: int, chunk: int = 200_000):
        """(start, vectors) covering ids 0..n-1, the same on every call."""
        for number, start in enumerate(range(0, n, chunk)):
            yield start, self.sample(min(chunk, n - start), stream=number)

    def queries(self, n: int) -> np.ndarray:
        return self.sample(n, stream=10**9)
