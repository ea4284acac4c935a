"""Progress of an index run: a tqdm bar on a terminal, a log line every 30 s otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import Callable

log = logging.getLogger(__name__)

LOG_EVERY_S = 30


class Progress:
    """A tqdm bar on a terminal; a log line every 30 s otherwise."""

    def __init__(self, total: int, enabled: bool, callback: Callable[[int, int], None] | None = None,
                 what: str = "indexing"):
        self.callback, self.what = callback, what
        self.total, self.done, self.start, self.last_log = total, 0, time.monotonic(), time.monotonic()
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            self.bar = tqdm(total=total, unit="img", desc=what)
            self._logs = logging_redirect_tqdm()  # log lines above the bar, not through it
            self._logs.__enter__()

    def update(self, n: int) -> None:
        self.done += n
        if self.callback is not None:
            self.callback(self.done, self.total)
        if self.bar is not None:
            self.bar.update(n)
        elif time.monotonic() - self.last_log > LOG_EVERY_S:
            self.last_log = time.monotonic()
            rate = self.done / max(self.last_log - self.start, 1e-9)
            log.info("%s: %d/%d files (%.1f images/s)", self.what, self.done, self.total, rate)

    def close(self) -> None:
        if self.bar is not None:
            self._logs.__exit__(None, None, None)
            self.bar.close()
