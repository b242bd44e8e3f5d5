"""The host CPU as the kernels see it: its name, its vector extensions, and the best kernel path it could run.

Read from /proc/cpuinfo (Linux), independently of the extension's own CPUID check, so that the tests can tell
"this host could run the AVX2 path" apart from "the extension runs it" (a build without it, a detection bug).
Elsewhere the extension's CPUID flags stand in.
"""

from __future__ import annotations

import platform
from functools import cache
from pathlib import Path

#: The extensions the kernels care about, in the order they are reported.
VECTOR_EXTENSIONS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl")

#: The kernel paths of this project and the CPU flags each needs, best last. (An AVX-512 path would be added
#: here with ("avx512f", "avx512dq", "avx512bw", "avx512vl") when it lands; none exists yet.)
PATH_NEEDS: dict[str, tuple[str, ...]] = {"scalar": (), "avx2": ("avx2", "fma")}


@cache
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    fields: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return fields
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_model() -> str:
    """The CPU's name, with its family and model numbers (a VM may only say "AMD EPYC": the family tells Zen 3
    (25) from Zen 5 (26))."""
    info = _cpuinfo()
    name = info.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in info and "model" in info:
        name += f" (family {info['cpu family']}, model {info['model']})"
    return name


def cpu_mhz() -> float | None:
    """/proc/cpuinfo's "cpu MHz" of the first processor (with the ``tsc_known_freq`` flag, the TSC's frequency),
    None where there is no such line."""
    value = _cpuinfo().get("cpu MHz")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags: /proc/cpuinfo's, or the extension's CPUID answers where there is no such file."""
    flags = _cpuinfo().get("flags")
    if flags is not None:
        return frozenset(flags.split())
    try:
        from sigmoidlab._kernels import _ufuncs
    except ImportError:
        return frozenset()
    return frozenset(name for name, present in _ufuncs.cpu_features().items() if present)


def vector_extensions(flags: frozenset[str] | None = None) -> list[str]:
    """The extensions of VECTOR_EXTENSIONS the CPU has, in that order."""
    flags = cpu_flags() if flags is None else flags
    return [name for name in VECTOR_EXTENSIONS if name in flags]


def best_path(flags: frozenset[str] | None = None) -> str:
    """The best of this project's kernel paths the CPU's flags allow."""
    flags = cpu_flags() if flags is None else flags
    return [path for path, needs in PATH_NEEDS.items() if set(needs) <= flags][-1]
