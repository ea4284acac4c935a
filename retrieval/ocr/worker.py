"""One OCR worker process: ``python -m retrieval.ocr.worker SPEC THREADS MAX_PIXELS``.

It loads the engine once, says ``{"ready": NAME}`` (or ``{"fatal": WHY}``), then reads
requests ``{"hash", "path"}`` a line each on stdin and answers each with ``{"lines",
"error"}`` on stdout. It imports no torch: only the engine, PIL and numpy.
``read_file`` is also what reading in the calling process does.
"""

from __future__ import annotations

import json
import sys

from retrieval.images.decode import ImageError, content_hash, decode_image
from retrieval.ocr.base import OcrEngine, OcrError
from retrieval.regions import Region


def read_file(engine: OcrEngine, expected_hash: str, path: str, max_pixels: int) -> tuple[list[Region] | None, str | None]:
    """(lines, error) of the picture at ``path``; (None, None) when the file no longer holds
    the indexed content or is gone (the next index run sees the change, and reads it then)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None, None
    if content_hash(data) != expected_hash:
        return None, None
    try:
        return engine.read(decode_image(data, max_pixels=max_pixels).image), None
    except (ImageError, OcrError) as exc:
        return [], str(exc)
    except Exception as exc:  # an engine's bug on one odd picture costs that picture only
        return [], f"OCR failed ({type(exc).__name__}): {exc}"


def _answer(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    from retrieval.ocr.registry import load_ocr_engine

    spec, threads, max_pixels = argv[0], int(argv[1]), int(argv[2])
    try:
        import cv2  # RapidOCR's image operations: one thread, as the engine has

        cv2.setNumThreads(threads or 1)
    except ImportError:
        pass
    try:
        engine = load_ocr_engine(spec, threads=threads or None)
    except Exception as exc:
        _answer({"fatal": str(exc)})
        return 1
    _answer({"ready": engine.name})
    for line in sys.stdin:
        request = json.loads(line)
        lines, error = read_file(engine, request["hash"], request["path"], max_pixels)
        _answer({"lines": None if lines is None else [region.as_dict() for region in lines], "error": error})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
