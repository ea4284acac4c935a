"""The demo's pinned CPU kernels: torch runs AVX2 kernels and a fixed number of threads,
whatever this CPU would pick, so a run gives the numbers it gives on another x86-64 CPU."""

import os
import platform
import subprocess
import sys

import pytest

from api.cpu_kernels import AVX2_KERNELS, cpu_has_avx2

PROBE = """
from api.cpu_kernels import in_use, pin_kernels, pin_threads
print(pin_kernels())
pin_threads()
print(in_use())
"""

needs_avx2 = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64") or not cpu_has_avx2(),
                                reason="pins AVX2 kernels on x86-64 CPUs that have them")


def _probe(code: str, **env) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k not in AVX2_KERNELS}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
    return out.stdout.strip().splitlines()


@needs_avx2
def test_pinned_torch_runs_avx2_kernels_on_two_threads():
    reason, kernels = _probe(PROBE)
    assert reason == "None" and kernels == "AVX2 kernels, 2 threads"


@needs_avx2
def test_a_kernel_choice_the_user_made_stands():
    _, kernels = _probe(PROBE, ATEN_CPU_CAPABILITY="default")
    assert kernels == "DEFAULT kernels, 2 threads"


def test_too_late_once_torch_is_imported():
    reason, _ = _probe("import torch\n" + PROBE)
    assert reason == "torch was imported before its kernels could be chosen"
