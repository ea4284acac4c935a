"""Reading JSON Lines files people write by hand: blank lines skipped, bad lines named."""

from __future__ import annotations

import json
from typing import Iterator, TextIO


def records(handle: TextIO, path: str, error: type[Exception]) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) of each non-blank line; ``error`` names a bad line."""
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{number}: not JSON: {exc.msg}") from None
