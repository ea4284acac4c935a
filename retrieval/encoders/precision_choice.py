"""Which precision the `auto` backend embeds images with on ONNX Runtime: int8 where it
measured clearly faster than fp32 on this machine, else fp32.

int8 is the image tower's static quantization (onnx_export.py), which keeps 98-99 % of a
trained model's fp32 top-10 (bench/measured/int8_agreement.cpu2.json); how much faster it
is depends on the CPU: 2.0x on an AVX-512 VNNI Xeon, 1.4x on an AVX2 EPYC (issue 19). So
it is measured, once per model and machine: both towers embed the same few pictures in
turns, and int8 is chosen where it took at most 1/MARGIN of fp32's time and its vectors
stayed within MIN_COSINE of fp32's. The result is kept beside the export, one entry per
machine (the CPU, its core count, ONNX Runtime's version), for the weights and int8 recipe
it was measured with: an export shared by several machines keeps each one's choice, and a
new export is measured again.

Nothing here decides by itself: an index run measures where nothing is recorded (its
encoder recipe asks for it), `clipdex export-onnx --int8` measures, and every other use of
`auto` (a search, the server) reads what was recorded, fp32 where nothing was.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time

import numpy as np

from retrieval.atomic_io import atomic_write_bytes
from retrieval.cpu_info import cpu_flags, cpu_model, usable_cpus

log = logging.getLogger(__name__)

CHOICE_FILE = "auto_precision.json"
MARGIN = 1.15  # int8 must be this much faster: its vectors differ from fp32's a little
MIN_COSINE = 0.99  # the least cosine between an image's fp32 and int8 vectors that int8 may have
PICTURES, ROUNDS = 8, 3  # 5 s for ViT-B-32-256 on 2 cores, its ratio as at 16 pictures (2.0x)


def machine() -> dict:
    """What the speed of a tower depends on here: the CPU, its cores, ONNX Runtime."""
    try:  # imported anyway by what asks: its encoder runs on it
        import onnxruntime

        runtime = onnxruntime.__version__
    except ImportError:
        runtime = None
    return {"cpu": cpu_model(), "cores": usable_cpus(), "simd": " ".join(cpu_flags()), "onnxruntime": runtime}


def machine_key(described: dict | None = None) -> str:
    return hashlib.sha256(json.dumps(described or machine(), sort_keys=True).encode()).hexdigest()[:16]


def _export_identity(folder: str) -> dict | None:
    """The weights and recipes the export in ``folder`` was made with (None: no export)."""
    from retrieval.encoders.onnx_export import read_meta

    meta = read_meta(folder)
    if not meta.get("weights"):
        return None
    return {key: meta.get(key) for key in ("weights", "format", "int8_recipe")}


def _read(folder: str) -> dict:
    try:
        with open(os.path.join(folder, CHOICE_FILE)) as handle:
            choices = json.load(handle)
    except (OSError, ValueError):
        return {}
    return choices if isinstance(choices, dict) else {}


def recorded(folder: str) -> dict | None:
    """This machine's measurement for the export in ``folder``, if one was made of this export."""
    entry = _read(folder).get(machine_key())
    identity = _export_identity(folder)
    if isinstance(entry, dict) and identity is not None and entry.get("export") == identity:
        return entry
    return None


def recorded_precision(folder: str) -> str:
    """The precision `auto` embeds images with here: the one measured best, else fp32."""
    entry = recorded(folder)
    return entry["precision"] if entry and entry.get("precision") in ("fp32", "int8") else "fp32"


def choose(fp32_seconds: float, int8_seconds: float, min_cosine: float) -> str:
    """int8 where it was at least MARGIN times as fast and kept the vectors close, else fp32."""
    if min_cosine >= MIN_COSINE and fp32_seconds >= MARGIN * int8_seconds:
        return "int8"
    return "fp32"


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def measure(encoders: dict, folder: str) -> dict:
    """Time the image towers of ``encoders`` ({"fp32": …, "int8": …}, OnnxEncoders of one
    model) on the same pictures, in turns after a first pass each (which opens the sessions),
    and record the choice for this machine in ``folder``. Returns the recorded entry."""
    import statistics
    from datetime import datetime, timezone

    from retrieval.encoders.calibration import calibration_pixels

    fp32 = encoders["fp32"]
    pixels = calibration_pixels(fp32.loaded.preprocess, fp32.loaded.image_size, count=PICTURES, seed=1)
    vectors = {precision: _unit(encoder._image_forward(pixels)) for precision, encoder in encoders.items()}
    seconds: dict[str, list[float]] = {precision: [] for precision in encoders}
    for _ in range(ROUNDS):
        for precision, encoder in encoders.items():
            started = time.perf_counter()
            encoder._image_forward(pixels)
            seconds[precision].append(time.perf_counter() - started)
    median = {precision: statistics.median(times) for precision, times in seconds.items()}
    min_cosine = float(np.min(np.sum(vectors["fp32"] * vectors["int8"], axis=1)))
    described = machine()
    entry = {
        "precision": choose(median["fp32"], median["int8"], min_cosine),
        "images_per_s": {precision: round(PICTURES / value, 2) for precision, value in median.items()},
        "min_cosine": round(min_cosine, 6),
        "machine": described,
        "export": _export_identity(folder),
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    choices = _read(folder)
    choices[machine_key(described)] = entry
    atomic_write_bytes(os.path.join(folder, CHOICE_FILE), json.dumps(choices, indent=1).encode())
    log.info("auto embeds images in %s on this machine: int8 %.1f images/s, fp32 %.1f (kept in %s)",
             entry["precision"], entry["images_per_s"]["int8"], entry["images_per_s"]["fp32"], folder)
    return entry
