"""What this CPU is, from /proc/cpuinfo (Linux; elsewhere what the platform says): the one
reader of it, for the demo's kernel pinning, auto's precision choice and the benchmarks."""

from __future__ import annotations


def _cpuinfo_fields(*names: str) -> dict[str, str]:
    """The first value of each of ``names`` in /proc/cpuinfo ({} where it cannot be read)."""
    found: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in names and key not in found:
                    found[key] = value.strip()
                    if len(found) == len(names):
                        break
    except OSError:
        pass
    return found


def cpu_flags() -> list[str]:
    """The vector instruction sets this CPU reports (empty where /proc/cpuinfo says none)."""
    flags = _cpuinfo_fields("flags").get("flags", "").split()
    return sorted(f for f in flags if f.startswith(("avx", "amx", "fma")))


def cpu_model() -> str:
    """The CPU's name: /proc/cpuinfo's model name, else the platform's."""
    name = _cpuinfo_fields("model name").get("model name")
    if name:
        return name
    import platform

    return platform.processor() or platform.machine()
