"""Worker counts follow the CPUs this process may use (taskset, a container's cpuset), not
the machine's: on a 16-core machine held to 2 cores, the demo started 4 decode workers."""

import os

import pytest

from indexer.ingest.options import default_workers
from indexer.ocr.run import default_ocr_workers
from retrieval.cpu_info import usable_cpus

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")


def test_a_process_held_to_one_cpu_starts_one_worker():
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        assert usable_cpus() == 1
        assert default_workers() == 1
        assert default_ocr_workers() == 1
    finally:
        os.sched_setaffinity(0, allowed)
    assert usable_cpus() == len(allowed)
