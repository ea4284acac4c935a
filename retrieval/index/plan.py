"""Which index type a collection of a given size should have, and its search defaults.

- flat: exact search, best up to 100k vectors (a few ms on 2 cores).
- ivf (IVF-Flat): inverted lists of full vectors; exact scores, no re-ranking. Up to
  250k vectors (and while they fit the memory budget): beyond, the lists it must scan
  for recall@10 >= 0.98 cost more than 5 ms a query on 2 cores.
- ivfpq (IVF + 4-bit PQ fast-scan codes, one code per 4 dimensions: 64 bytes for a
  512-d vector): its shortlist is re-ranked exactly from the float16 vector store on
  disk. At 1M clustered 512-d vectors: recall@10 0.98 at about 3 ms (bench/ann.py).
  No OPQ rotation by default: with re-ranking the plain codes already reach the
  recall goal, and training OPQ took 155 s on a 131k sample on 2 cores (vs ~100 s for
  everything else); VectorIndex takes any FAISS factory string, OPQ included.

The number of lists grows with the collection (up to 4·√n), so an IVF index trained for
100k vectors is "outgrown" at a few million and rebuilt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

AUTO, FLAT, IVF, IVFPQ = "auto", "flat", "ivf", "ivfpq"
KINDS = (AUTO, FLAT, IVF, IVFPQ)
FLAT_MAX = 100_000
IVF_FLAT_MAX = 250_000
DEFAULT_MEMORY_MB = 2048
MIN_TRAIN_PER_LIST = 39  # FAISS's own floor for k-means
TRAIN_PER_LIST = 32  # points per list sampled to train (more costs time, gains little)
MIN_IVFPQ = 1024  # 4-bit codes learn 16 centroids per sub-space: fewer vectors teach them noise
MAX_TRAIN = 262_144
LARGE_NLIST = 8192  # from here on fewer lists are probed and more candidates re-ranked  # k-means cost grows with sample x lists: this keeps 8192 lists to minutes


@dataclass(frozen=True)
class IndexPlan:
    kind: str  # flat | ivf | ivfpq
    nlist: int = 0
    pq_m: int = 0

    def factory(self, dim: int) -> str:
        if self.kind == "flat":
            return "Flat"
        if self.kind == "ivf":
            return f"IVF{self.nlist},Flat"
        return f"IVF{self.nlist},PQ{self.pq_m}x4fs"

    def train_size(self, count: int) -> int:
        return min(count, TRAIN_PER_LIST * self.nlist, MAX_TRAIN) if self.nlist else 0

    def describe(self) -> str:
        return self.kind if self.kind == "flat" else f"{self.kind} ({self.nlist} lists)"


def plan_for(count: int, dim: int, kind: str = "auto", memory_mb: int = DEFAULT_MEMORY_MB) -> IndexPlan:
    """The index for ``count`` vectors of ``dim``: ``kind`` forces a type, "auto" chooses."""
    if kind not in KINDS:
        raise ValueError(f"index type must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "auto":
        if count <= FLAT_MAX:
            kind = "flat"
        else:
            fits = count * dim * 4 <= memory_mb * 2**20
            kind = "ivf" if count <= IVF_FLAT_MAX and fits else "ivfpq"
    if kind == "flat" or (kind == "ivfpq" and count < MIN_IVFPQ):
        return IndexPlan("flat")  # (a forced ivfpq starts once there is enough to train it)
    nlist = lists_for(count)
    return IndexPlan(kind, nlist, pq_m=pq_subquantizers(dim) if kind == "ivfpq" else 0)


def lists_for(count: int) -> int:
    """Up to 4·√n inverted lists (a power of two), with enough points to train each."""
    target = 4 * math.sqrt(max(count, 1))
    nlist = 2 ** math.floor(math.log2(max(target, 1)))
    while nlist > 1 and nlist * MIN_TRAIN_PER_LIST > count:
        nlist //= 2
    return max(1, min(nlist, 65536))


def pq_subquantizers(dim: int) -> int:
    """One 4-bit code per 4 dimensions (dim/8 bytes a vector) where the dimension allows."""
    for per_code in (4, 2, 8, 1):
        if dim % per_code == 0:
            return dim // per_code
    return dim


def default_nprobe(kind: str, nlist: int) -> int:
    if kind == "flat" or not nlist:
        return 0
    # 1/32 of the lists: at 1M (2048 lists) 64 lists gave recall@10 0.98, 32 gave 0.96
    # (bench/ann.py). From 8192 lists (about 4M vectors) on, 3/4 of that with a longer
    # re-rank shortlist (shortlist_depth): at 10M, 192 lists + 1000 re-ranked gave 0.955 in
    # 16 ms, where 256 + 500 gave 0.963 in 20 ms, over the 20 ms goal.
    nprobe = max(32, nlist // 32)
    if kind == "ivfpq" and nlist >= LARGE_NLIST:
        nprobe = nprobe * 3 // 4
    return min(nlist, nprobe)


def shortlist_depth(k: int, vectors: int = 0) -> int:
    """Shortlist to take from a compressed index before exact re-ranking: deeper for
    collections big enough to have LARGE_NLIST lists (see default_nprobe)."""
    return max(10 * k, 1000 if lists_for(vectors) >= LARGE_NLIST else 500)


def outgrown(kind: str, nlist: int, plan: IndexPlan) -> bool:
    """Whether an index of (kind, nlist) should be rebuilt as ``plan``: another type, or
    lists that hold (or will hold) four times too many or too few vectors each."""
    if kind != plan.kind:
        return True
    return bool(nlist) and not (plan.nlist / 4 <= nlist <= plan.nlist * 4)


@dataclass(frozen=True)
class IndexConfig:
    """A collection's index choices; None means "what the collection has, else the default"."""

    kind: str | None = None  # auto | flat | ivf | ivfpq
    memory_mb: int | None = None
    shards: int | None = None
    nprobe: int | None = None  # search time only
    # Where searches run: "auto" (a CUDA GPU when there is one and the vectors fit in its
    # memory: exact search there, device_search.py), "cpu" (FAISS), or a torch device.
    search_device: str = "cpu"

    def __post_init__(self):
        if self.kind is not None and self.kind not in KINDS:
            raise ValueError(f"index type must be one of {', '.join(KINDS)}, not {self.kind!r}")
        for name in ("memory_mb", "shards", "nprobe"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
