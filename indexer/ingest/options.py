"""What an index run is told (IndexOptions) and what it reports (IndexReport)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from retrieval.cpu_info import usable_cpus
from retrieval.images.decode import DEFAULT_MAX_PIXELS

# Where JPEGs are decoded: on the model's GPU when it has one, in the CPU workers, or
# (torch decode + resize) on the model's device even when that is a CPU.
DECODE_AUTO, DECODE_CPU, DECODE_DEVICE = "auto", "cpu", "device"
DECODE_MODES = (DECODE_AUTO, DECODE_CPU, DECODE_DEVICE)


@dataclass
class IndexReport:
    scanned: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    embedded: int = 0
    moved: int = 0
    failed: int = 0
    removed: int = 0
    repaired: int = 0
    links_out: int = 0  # links followed out of the indexed folders (--follow-links)
    scan_errors: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def up_to_date(self) -> bool:
        return not (self.new or self.changed or self.embedded or self.moved or self.failed or self.removed)


@dataclass
class IndexOptions:
    batch_size: int | None = None  # None: the encoder's (32 on ONNX Runtime, 64 on PyTorch)
    num_workers: int | None = None  # None: chosen from the core count
    max_pixels: int = DEFAULT_MAX_PIXELS
    checkpoint_seconds: float = 30.0
    progress: bool = True
    decode: str = DECODE_AUTO  # one of DECODE_MODES
    # Which GPU JPEG decoder: "auto" or "torchvision" (nvJPEG through torchvision, the
    # faster one measured in this pipeline), or "nvimgcodec" (the GPU's hardware JPEG
    # engines, `pip install clipdex[gpu]`; torchvision's with a warning where unavailable).
    jpeg_decoder: str = "auto"
    decode_threads: int = 4  # GPU path: threads preparing batches while the model runs
    # Who decodes on the CPU: "auto" (threads for an encoder without torch, ONNX Runtime;
    # worker processes for PyTorch's), "threads" or "processes".
    decode_workers: str = "auto"
    on_progress: Callable[[int, int], None] | None = None  # (done, total) after each batch
    # Follow links out of the indexed folders: None keeps what the collection was told last
    # (default no); the choice is remembered.
    follow_links: bool | None = None

    def batch_size_for(self, encoder) -> int:
        """The images a batch: the size asked for, else the encoder's own."""
        return self.batch_size or encoder.batch_size


def default_workers(gpu_decode: bool = False) -> int:
    """Worker processes: a few when they decode (the model waits on them anyway, and the
    machine stays usable). When they only read, hash and probe files for the GPU's
    decoder, up to 8 (on an H100 machine 8 did 18,800 files/s, twice what the decoders
    take), leaving at least two cores to the process that feeds the GPU."""
    cores = usable_cpus()
    return max(1, min(8, cores - 2)) if gpu_decode else max(1, min(4, cores))
