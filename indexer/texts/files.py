"""Texts from files people keep them in: .txt (one per line), .csv (a ``text`` column, else
the first column) or .jsonl (a ``text`` field per line)."""

from __future__ import annotations

import csv
import os

from indexer.jsonl import records


class TextFileError(ValueError):
    pass


def read_text_file(path: str) -> list[str]:
    """Texts from .txt, .csv or .jsonl; blank entries are dropped."""
    ext = os.path.splitext(path)[1].lower()
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            if ext == ".csv":
                rows = list(csv.reader(handle))
                if not rows:
                    return []
                header = [h.strip().lower() for h in rows[0]]
                column = header.index("text") if "text" in header else 0
                body = rows[1:] if "text" in header else rows
                texts = [row[column] for row in body if len(row) > column]
            elif ext in (".jsonl", ".ndjson"):
                texts = []
                for number, record in records(handle, path, TextFileError):
                    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                        raise TextFileError(f"{path}:{number}: expected an object with a \"text\" string")
                    texts.append(record["text"])
            else:
                texts = handle.read().splitlines()
    except UnicodeDecodeError as exc:
        raise TextFileError(f"{path} is not UTF-8 text: {exc.reason}") from None
    except OSError as exc:
        raise TextFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    return [t.strip() for t in texts if t.strip()]
