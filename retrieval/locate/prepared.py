"""What showing where by windows needs of a picture, none of which depends on the phrase:
the embeddings of its COARSE x COARSE windows and its regions' summaries (segments.py).
Worked out once when the picture is indexed (`clipdex index --locate`) and kept with it, a
query meets them in a few small array operations, without reading the file or running the
encoder again.

Kept as one numpy record each, of a fixed type for a model (its window grid and embedding
size; the regions are padded to MAX_REGIONS and weigh the COARSE x COARSE windows): a
search's hits are read back with a single ``frombuffer`` over their records joined, already
stacked. Windows and weights are kept as int8 (int8.py): 9.0 KB a record with clipdex-small,
against 16.6 KB as bfloat16.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from retrieval.locate.int8 import quantized
from retrieval.locate.segments import MAX_PAIRS, MAX_REGIONS, Segments

FORMAT = 2  # 2: int8 windows and weights. Bump when what is kept changes: older records are then worked out again
MAGIC = b"CDXL"
_HEAD = struct.Struct("<4s4I")  # the record type's first fields: magic, format, coarse, dim, cells


@functools.cache
def record_type(coarse: int, dim: int, cells: int) -> np.dtype:
    return np.dtype([("magic", "S4"), ("format", "<u4"), ("coarse", "<u4"), ("dim", "<u4"), ("cells", "<u4"),
                     ("size", "<u4", (2,)), ("boxes", "<f4", (MAX_REGIONS, 4)), ("shares", "<f4", (MAX_REGIONS,)),
                     ("touching", "u1", (MAX_PAIRS, 2)),  # (region numbers: MAX_REGIONS fits a byte)
                     ("windows", "i1", (coarse, coarse, dim)),
                     ("window_scales", "<f4", (coarse, coarse)), ("weights", "i1", (MAX_REGIONS, cells)),
                     ("weight_scales", "<f4", (MAX_REGIONS,))])


@dataclass(frozen=True)
class Prepared:
    """One picture's, or (stacked: a leading axis on every array) several pictures'."""

    sizes: np.ndarray  # (2,): the upright picture's width and height, in pixels
    windows: np.ndarray  # (COARSE, COARSE, dim): unit embeddings of the windows, each over its scale
    segments: Segments
    window_scales: np.ndarray  # (COARSE, COARSE): what each window's embedding is multiplied by (1; int8 records')

    def to_bytes(self) -> bytes:
        coarse, _, dim = self.windows.shape
        record = np.zeros(1, record_type(coarse, dim, self.segments.weights.shape[1]))[0]
        record["magic"], record["format"], record["coarse"], record["dim"] = MAGIC, FORMAT, coarse, dim
        record["cells"] = self.segments.weights.shape[1]
        record["size"] = self.sizes
        record["windows"], record["window_scales"] = quantized(self.windows * self.window_scales[..., None])
        record["weights"], record["weight_scales"] = quantized(self.segments.weights * self.segments.scales[:, None])
        record["boxes"], record["shares"], record["touching"] = self.segments.boxes, self.segments.shares, \
            self.segments.touching
        return record.tobytes()


def stacked(pictures: Sequence[Prepared]) -> Prepared:
    """Several pictures' as one (a leading axis on every array)."""
    return Prepared(np.stack([one.sizes for one in pictures]), np.stack([one.windows for one in pictures]),
                    Segments.stacked([one.segments for one in pictures]),
                    np.stack([one.window_scales for one in pictures]))


def read_records(records: Sequence[bytes]) -> tuple[list[int], Prepared | None]:
    """(the positions of the records this clipdex can read, those records stacked). The
    first readable record's type is the type: a record of another (another model, an older
    format) is left out, and its picture is located from its file."""
    kind, usable = None, []
    for number, data in enumerate(records):
        if len(data) < _HEAD.size:
            continue
        magic, version, coarse, dim, cells = _HEAD.unpack_from(data)
        if magic != MAGIC or version != FORMAT:
            continue
        kind = kind or record_type(coarse, dim, cells)
        if len(data) == kind.itemsize and (coarse, dim, cells) == (kind["windows"].shape[0], kind["windows"].shape[2],
                                                                    kind["weights"].shape[1]):
            usable.append(number)
    if not usable:
        return [], None
    rows = np.frombuffer(b"".join(records[number] for number in usable), kind)
    # The scales stay apart: a product with the int8 values, then a scale a row, costs less than the float32 values
    segments = Segments(rows["weights"], rows["boxes"], rows["shares"], rows["touching"], rows["weight_scales"])
    return usable, Prepared(rows["size"].astype(np.int64), rows["windows"], segments, rows["window_scales"])


def recipe_suffix() -> str:
    """How windows and regions are made, as a recipe names it after the model."""
    from retrieval.locate import segments, windows

    return (f"|windows {windows.COARSE} {windows.RADIUS}|regions {segments.WORK_SIDE} {segments.SCALE} "
            f"{segments.SIGMA} {segments.MIN_SHARE} {segments.MAX_REGIONS}|format {FORMAT}")


def recipe(model: str) -> str:
    """What a prepared record depends on besides the picture: the model, and how windows
    and regions are made. Records of another recipe are never read."""
    return model + recipe_suffix()
