"""A fixed-steps training run (`clipdex train --steps`, bench.quality --steps) trains the same
weights on an Intel CPU as on an AMD one: this machine's CPU against one of the other vendor,
emulated by qemu's user mode (exact: an emulated Intel Haswell trains a native Xeon's bits).
MKL's AVX2 code sums a 256-term matrix product in another order on AMD, and its vector square
root (unfused AdamW's) rounds differently: either difference fails this test."""

import os
import platform
import shutil
import subprocess
import sys

import pytest

from api.cpu_kernels import PINNED_VARIABLES
from retrieval.cpu_info import cpu_vendor
from retrieval.training.model_dir import weights_digest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QEMU = shutil.which("qemu-x86_64")
# an AVX2 CPU of the other vendor than this machine's
OTHER_VENDOR = {"GenuineIntel": "EPYC-Rome-v2", "AuthenticAMD": "Haswell-v4"}


def _trained_weights(out: str, *emulator: str) -> str:
    """The digest of the weights `clipdex train --steps 1` writes (one step of 32 scenes)."""
    env = {k: v for k, v in os.environ.items() if k not in PINNED_VARIABLES}
    command = [*emulator, sys.executable, "-m", "api.cli", "train", "shapes:32", "--arch", "clipdex-small",
               "--out", out, "--steps", "1", "--batch-size", "32", "--quiet"]
    run = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "may train another model" not in run.stdout  # the kernels were pinned
    return weights_digest(out)


@pytest.mark.skipif(platform.machine() != "x86_64" or QEMU is None or cpu_vendor() not in OTHER_VENDOR,
                    reason="needs an Intel or AMD x86-64 CPU and qemu-x86_64 (Debian's qemu-user)")
def test_an_intel_and_an_amd_cpu_train_the_same_weights(tmp_path):
    here = _trained_weights(str(tmp_path / "here"))
    there = _trained_weights(str(tmp_path / "there"), QEMU, "-cpu", OTHER_VENDOR[cpu_vendor()])
    assert here == there, f"{cpu_vendor()} and an emulated {OTHER_VENDOR[cpu_vendor()]} trained other weights"


def test_steps_train_that_many_steps_whatever_the_epochs(tmp_path):
    """--steps 5 over 64 pairs of 32 (2 a pass): more passes than --epochs 1 gives, the last one cut short."""
    def train(steps: str, pairs: int = 64):
        return subprocess.run([sys.executable, "-m", "api.cli", "train", f"shapes:{pairs}", "--arch", "clipdex-tiny",
                               "--out", str(tmp_path / f"m{pairs}"), "--steps", steps, "--epochs", "1",
                               "--batch-size", "32", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600)

    run = train("5")
    assert run.returncode == 0, run.stderr[-2000:]
    assert [int(line.split()[3]) for line in run.stdout.splitlines() if line.startswith("epoch")] == [2, 4, 5]
    again = train("5")  # resumed when done: no step more
    assert [int(line.split()[3]) for line in again.stdout.splitlines() if line.startswith("epoch")] == [2, 4, 5]
    uneven = train("8", pairs=95)  # 2 steps a pass (31 pairs left over): 4 passes, not the 3 that 8 * 32 / 95 makes
    assert [int(line.split()[3]) for line in uneven.stdout.splitlines() if line.startswith("epoch")] == [2, 4, 6, 8]
    bad = train("0")
    assert bad.returncode == 2 and "--steps must be at least 1" in bad.stderr
