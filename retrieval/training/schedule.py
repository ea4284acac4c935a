"""The learning-rate schedule of clipdex's training loops: linear warm-up, then cosine
decay to zero at the last step; with a time budget, the last step is where the time
runs out, not an epoch count the budget would never reach."""

from __future__ import annotations

import math


class WarmupCosine:
    def __init__(self, lr: float, warmup_steps: int, total_steps: int):
        self.lr, self.warmup_steps = lr, warmup_steps
        self.planned = self.total = total_steps

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(1, self.total - self.warmup_steps)
        return 0.5 * self.lr * (1 + math.cos(math.pi * min(1.0, progress)))

    def fit_to_time(self, step: int, seconds_per_step: float, seconds_left: float) -> None:
        """End the decay when ``seconds_left`` at ``seconds_per_step`` will have run out."""
        affordable = step + int(seconds_left / seconds_per_step)
        self.total = max(step + 1, min(self.planned, affordable))
