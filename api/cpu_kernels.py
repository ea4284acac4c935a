"""One set of CPU kernels and threads for training that should give the same numbers on
another machine, whatever its speed or load: the demo's (across Intel CPUs), and fixed-steps
runs of `clipdex train` and bench.quality (across every x86-64 CPU; the end says why the two
differ).

torch picks its vector kernels by CPU (AVX2 or AVX-512, and MKL and oneDNN theirs) and splits
work by its thread count; both change how float sums round. A few hundred training steps grow
those last-bit differences into other answers: the demo's model on one AVX-512 machine got
zero-shot 4/4 with its own kernels and 2/4 with AVX2 kernels, and a run with 1 thread differs
from one with 2. So torch is held to AVX2 kernels (every x86-64 CPU of the last decade has
them; on 2-core AVX-512 EPYC and Xeon machines they train as fast) and a fixed number of threads.

That was not enough: on an AMD EPYC and an Intel Xeon, both pinned so, the demo's first epoch
ended at other losses and the answers differed (zero-shot 4/4 and 3/4). Of what a training step
runs, oneDNN (GELU and the patch convolution; ONEDNN_VERBOSE lists them) promises only
run-to-run reproducibility on one machine: it sizes its blocks, and with them the order of its
sums, by the CPU's caches; NNPACK, where torch sends the convolution without oneDNN, picks its
own kernels by CPU. So both are bypassed: torch's own GELU, and the convolution as MKL matrix
products (a demo training step, interleaved with the other way in one process: 428 ms against
426). torch's own kernels depend only on the ISA and threads.

What stays: MKL, which does every matrix product, and picks its code by the CPU's vendor. Its
reproducible mode for AVX2 (MKL_CBWR=AVX2,STRICT) gives the same results on every Intel CPU
with AVX2 (checked: a 2-core Xeon, CPU model 167, and an Emerald Rapids Xeon, model 207, held
to 2 of its 16 cores, trained the demo's model and captioner to the same bits; torch 2.11 and
2.14.1 on the first did too). An AMD CPU runs AMD's kernels in that mode: under qemu's user-mode
emulation (exact: an emulated Intel Haswell trained a native Xeon's bits), a native AMD EPYC
(Zen 4) and an emulated EPYC-Rome agreed on every tensor of a training step, and an emulated
Haswell differed from the first matrix product that sums 256 terms (the MLP's output
projection). MKL's COMPATIBLE mode, its SSE2 code, is the same on every x86-64 CPU: with it
(and AdamW fused, retrieval/training/optimiser.py), the three trained the same weights to the
bit. A step then takes 1.9x as long as with AVX2,STRICT (bench.pinning_cost), so the demo,
which has 4 minutes, keeps AVX2,STRICT and agrees across Intel CPUs; fixed-steps runs
(`clipdex train --steps`, `bench.quality --steps`) pin with ``every_vendor`` and agree across
vendors.
"""

from __future__ import annotations

import os
import platform
import sys

from retrieval.cpu_info import cpu_flags

THREADS = 2
AVX2_KERNELS = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
}
# MKL's conditional numerical reproducibility: the same results across Intel CPUs with AVX2,
# or (SSE2 code, 1.9x the time a training step) across every x86-64 CPU
MKL_REPRODUCIBLE = {"intel": "AVX2,STRICT", "every vendor": "COMPATIBLE"}
PINNED_VARIABLES = (*AVX2_KERNELS, "MKL_CBWR", "OMP_WAIT_POLICY")


def cpu_has_avx2() -> bool:
    return "avx2" in cpu_flags()


def pin_kernels(every_vendor: bool = False) -> str | None:
    """Hold torch to AVX2 kernels, MKL to a reproducible mode (the same results across Intel
    CPUs, or with ``every_vendor`` across all x86-64 CPUs, at 1.9x the time), and idle
    threads to sleeping; call before torch is imported. Returns why the kernels could not be
    pinned (the run may then differ on another kind of CPU), or None. A variable the user
    set stands."""
    if "torch" in sys.modules:
        return "torch was imported before its kernels could be chosen"
    # Threads that wait for work sleep instead of spinning: THREADS spinning threads on a
    # 2-core machine with one other busy process fight it. 16 demo training steps there took
    # 28.4 s spinning and 18.0 s sleeping (alone: 13.2 and 12.7 s), with the same results.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return f"a {platform.machine()} CPU runs kernels of its own"
    if not cpu_has_avx2():
        return "this CPU has no AVX2"
    for name, value in AVX2_KERNELS.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("MKL_CBWR", MKL_REPRODUCIBLE["every vendor" if every_vendor else "intel"])
    return None


def pin_torch() -> None:
    """The same number of torch threads on every machine (a 16-core one trains as a 2-core
    one), and neither oneDNN nor NNPACK (see above); call once torch may be imported."""
    import torch

    torch.set_num_threads(THREADS)
    torch.backends.mkldnn.enabled = False
    torch.backends.nnpack.set_flags(False)


def in_use() -> str:
    """Which kernels and how many threads torch runs, and MKL's mode, as a run's record says it."""
    import torch

    libraries = [name for name, on in (("oneDNN", torch.backends.mkldnn.enabled),
                                       ("NNPACK", torch._C._get_nnpack_enabled())) if on]
    return (f"{torch.backends.cpu.get_cpu_capability()} kernels, {torch.get_num_threads()} threads, "
            f"{' and '.join(libraries) or 'no oneDNN or NNPACK'}, MKL {os.environ.get('MKL_CBWR', 'AUTO')}")
