"""What this CPU is, from /proc/cpuinfo (Linux; elsewhere what the platform says): the one
reader of it, for the demo's kernel pinning, auto's precision choice, the benchmarks and tests."""

from __future__ import annotations

import functools
import os


@functools.cache
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo ({} where it cannot be read), read once:
    the CPU does not change while a process runs, and a cold search asks for it."""
    found: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if not line.strip():  # the first processor's block ends: the others repeat it
                    break
                key, _, value = line.partition(":")
                found.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return found


def cpu_flags() -> list[str]:
    """The vector instruction sets this CPU reports (empty where /proc/cpuinfo says none)."""
    flags = _cpuinfo().get("flags", "").split()
    return sorted(f for f in flags if f.startswith(("avx", "amx", "fma")))


def cpu_vendor() -> str | None:
    """GenuineIntel, AuthenticAMD, ...: /proc/cpuinfo's vendor_id (None where it has none)."""
    return _cpuinfo().get("vendor_id")


def cpu_model() -> str:
    """The CPU's name: /proc/cpuinfo's model name, else the platform's."""
    name = _cpuinfo().get("model name")
    if name:
        return name
    import platform

    return platform.processor() or platform.machine()


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity (taskset, a container's cpuset), which
    can be far fewer than the machine's os.cpu_count(); on a 16-core machine held to 2 cores
    that count started 4 decode workers for 2 cores."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # no affinity on this platform (macOS, Windows)
        return os.cpu_count() or 1
