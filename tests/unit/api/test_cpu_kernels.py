"""The demo's pinned CPU kernels: torch runs AVX2 kernels, a fixed number of threads and neither
oneDNN nor NNPACK, whatever this CPU would pick, so a run gives the numbers it gives on another
CPU, as far as MKL allows (api/cpu_kernels.py)."""

import os
import platform
import subprocess
import sys

import pytest

from api.cpu_kernels import PINNED_VARIABLES, cpu_has_avx2

PROBE = """
from api.cpu_kernels import in_use, pin_kernels, pin_torch
print(pin_kernels())
pin_torch()
print(in_use())
"""

needs_avx2 = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64") or not cpu_has_avx2(),
                                reason="pins AVX2 kernels on x86-64 CPUs that have them")


def _probe(code: str, *args: str, **env) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PINNED_VARIABLES}
    out = subprocess.run([sys.executable, "-c", code, *args], env={**clean, **env}, capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
    return out.stdout.strip().splitlines()


@needs_avx2
def test_pinned_torch_runs_avx2_kernels_on_two_threads():
    reason, kernels = _probe(PROBE)
    assert reason == "None" and kernels == "AVX2 kernels, 2 threads, no oneDNN or NNPACK, MKL AVX2,STRICT"


@needs_avx2
def test_pinned_for_every_vendor_mkl_runs_the_code_every_x86_cpu_runs_alike():
    _, kernels = _probe(PROBE.replace("pin_kernels()", "pin_kernels(every_vendor=True)"))
    assert kernels == "AVX2 kernels, 2 threads, no oneDNN or NNPACK, MKL COMPATIBLE"


@needs_avx2
def test_a_kernel_choice_the_user_made_stands():
    _, kernels = _probe(PROBE, ATEN_CPU_CAPABILITY="default")
    assert kernels == "DEFAULT kernels, 2 threads, no oneDNN or NNPACK, MKL AVX2,STRICT"


def test_too_late_once_torch_is_imported():
    reason, _ = _probe("import torch\n" + PROBE)
    assert reason == "torch was imported before its kernels could be chosen"


STEP = """
import sys
import torch
from api.cpu_kernels import pin_torch
if sys.argv[1] == "pinned":
    pin_torch()
patches = torch.nn.Conv2d(3, 16, 8, stride=8)  # a ViT's patch embedding and MLP, one training step
mlp = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.GELU(), torch.nn.Linear(32, 16))
x = patches(torch.randn(32, 3, 48, 48)).flatten(2).transpose(1, 2)
mlp(x).sum().backward()
"""


@pytest.mark.parametrize("pinned", [True, pytest.param(False, marks=needs_avx2)])
def test_a_pinned_training_step_runs_nothing_through_onednn(pinned):
    """oneDNN orders its sums by the CPU's caches: a pinned step must not reach it (and an
    unpinned one does on x86-64, or this test could not tell)."""
    lines = _probe(STEP, "pinned" if pinned else "not", ONEDNN_VERBOSE="1")
    ran = [line for line in lines if line.startswith("onednn_verbose") and ",exec," in line]
    assert (ran == []) == pinned, ran[:3]


def test_idle_threads_sleep_so_that_a_busy_machine_does_not_slow_the_demo_threefold():
    # on 2 cores beside one busy process, spinning threads made the cold demo 3.5x slower (860 s against 249 s)
    code = "import os; from api.cpu_kernels import pin_kernels; pin_kernels(); print(os.environ['OMP_WAIT_POLICY'])"
    assert _probe(code) == ["PASSIVE"]
    assert _probe(code, OMP_WAIT_POLICY="ACTIVE") == ["ACTIVE"]  # the user's choice stands
