"""Tesseract, the program (Debian: `apt-get install tesseract-ocr tesseract-ocr-eng`), run
once per picture; its TSV output's words are gathered into lines."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess

from PIL import Image

from retrieval.ocr.base import OcrEngine, OcrError, OcrNotInstalled
from retrieval.regions import Region, clipped

INSTALL = "apt-get install tesseract-ocr tesseract-ocr-eng (other languages: tesseract-ocr-LANG)"
TIMEOUT_S = 120.0


class TesseractEngine(OcrEngine):
    method = "tesseract"

    def __init__(self, languages: str = "eng", program: str = "tesseract"):
        self.program = shutil.which(program)
        if self.program is None:
            raise OcrNotInstalled(f"the OCR engine tesseract is not installed: {INSTALL}")
        self.languages = languages or "eng"
        installed = self._run(["--list-langs"]).split()
        missing = [lang for lang in self.languages.split("+") if lang not in installed]
        if missing:
            raise OcrNotInstalled(f"tesseract has no data for {', '.join(missing)}: apt-get install "
                                  + " ".join(f"tesseract-ocr-{lang}" for lang in missing))
        version = self._run(["--version"]).splitlines()[0].split()[-1]
        self.name = f"tesseract-{version}:{self.languages}"

    def _run(self, arguments: list[str], data: bytes | None = None) -> str:
        try:
            done = subprocess.run([self.program, *arguments], input=data, capture_output=True, timeout=TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OcrError(f"tesseract did not run: {exc}") from None
        if done.returncode != 0:
            raise OcrError(f"tesseract failed: {done.stderr.decode(errors='replace').strip()[:300]}")
        return (done.stdout or done.stderr).decode("utf-8", "replace")

    def _read(self, image: Image.Image) -> list[Region]:
        png = io.BytesIO()
        image.save(png, format="PNG")
        tsv = self._run(["stdin", "stdout", "-l", self.languages, "--psm", "3", "tsv"], png.getvalue())
        return lines_of_tsv(tsv, image.width, image.height, self.method)


def lines_of_tsv(tsv: str, width: int, height: int, method: str = "tesseract") -> list[Region]:
    """Tesseract's word rows gathered into lines: the words' text joined by spaces, their
    boxes' union, their mean confidence (0..1)."""
    lines: dict[tuple, list[dict]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text or float(row.get("conf") or -1) < 0:
            continue
        key = (row["page_num"], row["block_num"], row["par_num"], row["line_num"])
        lines.setdefault(key, []).append(row)
    regions = []
    for words in lines.values():
        x0 = min(int(w["left"]) for w in words)
        y0 = min(int(w["top"]) for w in words)
        x1 = max(int(w["left"]) + int(w["width"]) for w in words)
        y1 = max(int(w["top"]) + int(w["height"]) for w in words)
        confidence = sum(float(w["conf"]) for w in words) / len(words) / 100.0
        regions.append(Region(box=clipped((x0, y0, x1, y1), width, height), label=" ".join(w["text"].strip() for w in words),
                              score=round(confidence, 4), method=method))
    return regions
