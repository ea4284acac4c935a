"""What the benchmarks share: their folders, the offline default, writing the results
JSON, and the header-and-rows tables they print."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from retrieval.cpu_info import cpu_flags  # noqa: F401  (the benchmarks' CPU description)

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)  # the repository: the working folder of `python -m bench.NAME`
RESULTS = os.path.join(BENCH, "results")  # what runs write (not in git)
MEASURED = os.path.join(BENCH, "measured")  # the runs the issues quote, kept in git


def temp_path(name: str) -> str:
    """``name`` in the system's temp folder: where work and model folders go by default."""
    return os.path.join(tempfile.gettempdir(), name)


QUALITY_MODEL = temp_path("clipdex-quality-model")  # bench.quality trains it; caption, hybrid use it
CAPTIONER = temp_path("clipdex-captioner")  # bench.caption trains it; hybrid uses it


def hub_offline() -> None:
    """No Hugging Face Hub downloads (random or local weights only), unless the
    environment already sets HF_HUB_OFFLINE."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")



def save_json(path: str, result: Any, indent: int = 2) -> str:
    """Write ``result`` to ``path`` as JSON, making its folder; returns ``path``."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as handle:
        json.dump(result, handle, indent=indent)
    return path


def write_result(name: str, result: Any, folder: str | None = None, indent: int = 2) -> str:
    """Write ``result`` as ``name`` in ``folder`` (default bench/results/), print where;
    returns the path."""
    path = save_json(os.path.join(folder or RESULTS, name), result, indent)
    print(f"wrote {path}")
    return path


# A table column: (title, format spec of its values, the row's key or a function of the row).
Column = tuple[str, str, "str | Callable[[dict], Any]"]

_ALIGN_AND_WIDTH = re.compile(r"(?P<align>.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)")


def _title_spec(spec: str) -> str:
    """A title's spec: its column's width and alignment (explicit, else text left and
    numbers right, as ``format`` aligns values)."""
    found = _ALIGN_AND_WIDTH.match(spec)
    align = found["align"][-1] if found["align"] else ("<" if spec.endswith("s") else ">")
    return f"{'>' if align == '=' else align}{found['width']}s"


def table_header(columns: Sequence[Column], indent: str = "") -> str:
    return indent + " ".join(format(title, _title_spec(spec)) for title, spec, _ in columns)


def table_line(columns: Sequence[Column], row: dict, indent: str = "") -> str:
    return indent + " ".join(format(get(row) if callable(get) else row[get], spec) for _, spec, get in columns)


def print_table(columns: Sequence[Column], rows: Iterable[dict], indent: str = "") -> None:
    """The header, then one line per row, columns one space apart."""
    print(table_header(columns, indent))
    for row in rows:
        print(table_line(columns, row, indent))


def ensure_quality_model(path: str | None, minutes: float) -> tuple[str, float]:
    """The shapes model bench.quality trains (clipdex-small, 20,000 scenes, ``minutes`` of
    training), trained here if ``path`` (default QUALITY_MODEL) holds none; (its folder, seconds spent)."""
    import time

    from retrieval.datasets.shapes import COLOURLESS_SHARE, make_split
    from retrieval.training import CONFIG_FILE, WEIGHTS_FILE, TrainConfig, train

    out = path or QUALITY_MODEL
    if os.path.exists(os.path.join(out, CONFIG_FILE)) and os.path.exists(os.path.join(out, WEIGHTS_FILE)):
        return out, 0.0
    started = time.perf_counter()
    images, captions, _ = make_split(20000, 0, "train", colourless=COLOURLESS_SHARE)
    train(images, captions, out, arch="clipdex-small",
          config=TrainConfig(epochs=40, batch_size=128, lr=1e-3, max_seconds=minutes * 60))
    return out, time.perf_counter() - started
