"""Why a kernel reaches the fraction of the copy roofline it does: a profile of σ, σ' from x and the pair (σ, σ').

For each kernel path this CPU runs, each op and each dtype:

- **cycles per element in cache**: one thread, the slope of the best block time between two sizes that fit in
  L1/L2 (``--small``, ``--large``; the slope drops the fixed cost of a ufunc call), times the TSC frequency that
  /proc/cpuinfo reports as "cpu MHz" (with the ``tsc_known_freq`` flag that is the TSC's, not the momentary core
  clock: these are TSC cycles).
- **instructions per element**: counted, not guessed. This host (a KVM guest) has no hardware counters, so the
  count is valgrind's (callgrind, an instruction-set simulator): the instructions executed inside the op's entry
  point of that path (sigmoid_f64, sg_f32, …; everything of the op is inlined there) over ``reps`` calls of
  ``--large`` elements, per element. Beside it, from ``objdump -d`` of the built extension, the entry point's
  innermost loops (backward branches) that hold vector (ymm) instructions, with their instruction counts: the
  hot loops the dynamic count runs through.
- **bytes moved per element**: the input read and the outputs written; plain (not streamed) stores also read
  each output line first, which the second figure adds.
- **predicted against measured**: the compute-bound time at ``--big`` elements on 2 threads (cycles per element
  in cache ÷ frequency × n ÷ 2) against the copy roofline (np.copyto, scaled to the op's traffic as in
  ``sigmoidlab bench``) measured in the same run; the predicted fraction of the roofline is roofline ÷
  max(roofline, compute), the measured one roofline ÷ the op's time, both timed in alternating blocks.

    python benchmarks/kernel_profile.py --out benchmarks/results     # writes kernels_profile.md / .json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from sigmoidlab._kernels import cpu
from sigmoidlab.cli.bench import machine_info
from sigmoidlab.functions import _loader as k

OPS = {
    "sigmoid": ("sigmoid", 1, "σ"),
    "sigmoid_grad": ("sigmoid_grad", 1, "σ' from x"),
    "sigmoid_and_grad": ("sg", 2, "(σ, σ') fused"),
}
SUFFIX = {"float32": "f32", "float64": "f64"}


def _call(op: str, x: np.ndarray, y: np.ndarray, g: np.ndarray):
    if op == "sigmoid_and_grad":
        return lambda: k.sigmoid_and_grad(x, out=(y, g))
    return lambda: getattr(k, op)(x, out=y)


def _best(fn, calls: int, blocks: int) -> float:
    """Seconds per call: the best of ``blocks`` blocks of ``calls`` calls (after one untimed call)."""
    fn()
    best = math.inf
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


def tsc_hz() -> tuple[float | None, str]:
    """The TSC frequency as /proc/cpuinfo's "cpu MHz" gives it (None where there is no such line)."""
    mhz = cpu.cpu_mhz()
    if mhz is None:
        return None, "no cpu MHz in /proc/cpuinfo"
    return mhz * 1e6, "/proc/cpuinfo cpu MHz" + (" (tsc_known_freq)" if "tsc_known_freq" in cpu.cpu_flags() else "")


def ns_per_element_in_cache(op: str, dtype: str, small: int, large: int, blocks: int) -> float:
    """One thread: (best time at ``large`` − best time at ``small``) / (large − small), in nanoseconds."""
    times = []
    for n in (small, large):
        x = np.random.default_rng(0).normal(0.0, 8.0, n).astype(dtype)
        fn = _call(op, x, np.empty_like(x), np.empty_like(x))
        times.append(_best(fn, max(2, 200_000 // n), blocks))
    return (times[1] - times[0]) / (large - small) * 1e9


def in_cache(paths, ops, dtypes, small, large, blocks) -> dict:
    previous, kernel = k.set_num_threads(1), k.get_kernel()
    try:
        out = {}
        for path in paths:
            k.set_kernel(path)
            for op in ops:
                for dtype in dtypes:
                    out[path, op, dtype] = ns_per_element_in_cache(op, dtype, small, large, blocks)
        return out
    finally:
        k.set_num_threads(previous)
        k.set_kernel(kernel)


# ----------------------------------------------------------------------------------- instructions per element

_CHILD = """
import sys, numpy as np
from sigmoidlab.functions import _loader as k
k.set_num_threads(1); k.set_kernel(sys.argv[1])
n, reps = int(sys.argv[2]), int(sys.argv[3])
for op in sys.argv[4].split(","):
    for dt in sys.argv[5].split(","):
        x = np.random.default_rng(0).normal(0, 8, n).astype(dt); y = np.empty_like(x); g = np.empty_like(x)
        for _ in range(reps):
            k.sigmoid_and_grad(x, out=(y, g)) if op == "sigmoid_and_grad" else getattr(k, op)(x, out=y)
"""


def instructions(path: str, ops, dtypes, n: int, reps: int, workdir: Path) -> dict:
    """Instructions per element of each op's entry point on ``path``, counted by callgrind (inclusive)."""
    out_file = workdir / f"callgrind.{path}.out"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", sys.executable, "-c", _CHILD]
    cmd += [path, str(n), str(reps), ",".join(ops), ",".join(dtypes)]
    subprocess.run(cmd, check=True, capture_output=True)
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(out_file)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    out_file.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    for m in re.finditer(r"^\s*([\d,]+) \([^)]*\)\s+\S*?:?(\w+)(?: \[.*\])?$", text, re.M):
        counts[m.group(2)] = max(counts.get(m.group(2), 0), int(m.group(1).replace(",", "")))
    return {
        (path, op, dt): counts[name] / (n * reps)
        for op in ops
        for dt in dtypes
        if (name := f"{OPS[op][0]}_{SUFFIX[dt]}") in counts
    }


def hot_loops(entry: str) -> list[dict]:
    """The AVX2 entry point's innermost loops (a backward branch and its target) that hold ymm instructions."""
    dump = subprocess.run(["objdump", "-d", "--no-show-raw-insn", k._ext.__file__], capture_output=True, text=True)
    bodies = re.split(r"\n(?=[0-9a-f]+ <)", dump.stdout)
    body = next((b for b in bodies if re.match(rf"[0-9a-f]+ <{entry}>:", b) and "ymm" in b), "")
    insns = [(int(a, 16), rest) for a, rest in re.findall(r"^\s+([0-9a-f]+):\s+(.*)$", body, re.M)]
    spans = []
    for addr, rest in insns:
        m = re.match(r"j\w+\s+([0-9a-f]+)", rest)
        if m and int(m.group(1), 16) <= addr:
            spans.append((int(m.group(1), 16), addr))
    loops = []
    for lo, hi in spans:
        if any((a, b) != (lo, hi) and lo <= a and b <= hi for a, b in spans):
            continue  # not innermost
        text = [r for a, r in insns if lo <= a <= hi]
        if any("ymm" in r for r in text):
            loops.append({"start": hex(lo), "end": hex(hi), "instructions": len(text)})
    return loops


# ------------------------------------------------------------------------------------- roofline, 2 threads


def at_size(paths, ops, dtype: str, n: int, rounds: int) -> tuple[float, dict]:
    """Median seconds per call of np.copyto and of each (path, op) at n elements, in alternating blocks."""
    x = np.random.default_rng(0).normal(0.0, 8.0, n).astype(dtype)
    y, g = np.empty_like(x), np.empty_like(x)
    impls = {"copy": (lambda: np.copyto(y, x), None)}
    for path in paths:
        for op in ops:
            impls[path, op] = (_call(op, x, y, g), lambda path=path: k.set_kernel(path))
    samples: dict = {name: [] for name in impls}
    kernel = k.get_kernel()
    for _ in range(rounds):
        for name, (fn, setup) in impls.items():
            if setup:
                setup()
            samples[name].append(_best(fn, 2, 1))
    k.set_kernel(kernel)
    medians = {name: statistics.median(v) for name, v in samples.items()}
    return medians.pop("copy"), medians


def bytes_per_element(op: str, dtype: str, streamed: bool) -> tuple[int, int]:
    """(read + write, and with each plain-stored output line read first)."""
    size, writes = np.dtype(dtype).itemsize, OPS[op][1]
    nominal = size * (1 + writes)
    return nominal, nominal + (0 if streamed else size * writes)


def profile(paths, ops, dtypes, small: int, large: int, big: int, blocks: int, rounds: int, count: bool) -> dict:
    hz, hz_source = tsc_hz()
    ns = in_cache(paths, ops, dtypes, small, large, blocks)
    ipe: dict = {}
    if count and shutil.which("valgrind") and shutil.which("callgrind_annotate"):
        work = Path(os.environ.get("TMPDIR", "/tmp"))
        for path in paths:
            ipe |= instructions(path, ops, dtypes, large, 4, work)
    stream_min = k._ext._pool_stats()["stream_min_bytes"]
    rows = []
    for dtype in dtypes:
        copy_s, timed = at_size(paths, ops, dtype, big, rounds)
        for path in paths:
            for op in ops:
                rows.append(_row(path, op, dtype, big, ns, ipe, hz, copy_s, timed, stream_min))
    return {
        "machine": machine_info(list(paths)) | {"load_average": [round(v, 2) for v in os.getloadavg()]},
        "config": {"small": small, "large": large, "big": big, "blocks": blocks, "rounds": rounds},
        "frequency": {"hz": hz, "source": hz_source},
        "hot_loops": {
            f"{OPS[op][0]}_{SUFFIX[dt]}": hot_loops(f"{OPS[op][0]}_{SUFFIX[dt]}") for op in ops for dt in dtypes
        }
        if "avx2" in paths and shutil.which("objdump")
        else {},
        "results": rows,
    }


def _row(path, op, dtype, n, ns, ipe, hz, copy_s, timed, stream_min) -> dict:
    writes = OPS[op][1]
    streamed = op != "sigmoid_and_grad" and path != "scalar" and n * np.dtype(dtype).itemsize >= stream_min
    nominal, with_rfo = bytes_per_element(op, dtype, streamed)
    roofline_s = copy_s * (1 + writes) / 2
    compute_s = ns[path, op, dtype] * 1e-9 * n / 2
    cycles = ns[path, op, dtype] * 1e-9 * hz if hz else None
    instr = ipe.get((path, op, dtype))
    return {
        "path": path,
        "op": op,
        "dtype": dtype,
        "ns_per_element_in_cache": ns[path, op, dtype],
        "cycles_per_element_in_cache": cycles,
        "instructions_per_element": instr,
        "instructions_per_cycle": instr / cycles if instr and cycles else None,
        "bytes_per_element": nominal,
        "bytes_per_element_with_rfo": with_rfo,
        "streamed": streamed,
        "n": n,
        "roofline_s": roofline_s,
        "compute_bound_s_2_threads": compute_s,
        "measured_s": timed[path, op],
        "predicted_roofline_fraction": roofline_s / max(roofline_s, compute_s),
        "measured_roofline_fraction": roofline_s / timed[path, op],
    }


# ------------------------------------------------------------------------------------------------ output


def _f(v, fmt: str) -> str:
    return "–" if v is None else format(v, fmt)


def to_markdown(data: dict) -> str:
    m, c, f = data["machine"], data["config"], data["frequency"]
    lines = [
        "# Kernel profile: why each op reaches the roofline fraction it does",
        "",
        f"{m['cpu']}; {', '.join(m['vector_extensions'])}; {m['cores']} cores; load average {m['load_average']}.",
        f"Cycles: ns per element × {_f(f['hz'] and f['hz'] / 1e6, '.0f')} MHz ({f['source']}), one thread, slope "
        f"between {c['small']:,} and {c['large']:,} elements (in L1/L2), best of {c['blocks']} blocks. "
        "Instructions: callgrind's count inside the op's entry point, per element. Bytes: read + write "
        "(+ the read of each plain-stored output line). Roofline: np.copyto at "
        f"{c['big']:,} elements scaled to the op's traffic; compute-bound time: cycles in cache on 2 threads; "
        f"both timed in this run, {c['rounds']} rounds of alternating blocks (median).",
        "",
        "| path | op | dtype | cycles/elem (in cache) | instr/elem | instr per TSC cycle | bytes/elem | "
        "compute-bound, 2 thr | "
        "roofline | predicted fraction | measured fraction |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        bytes_ = f"{r['bytes_per_element']}" + (
            f" ({r['bytes_per_element_with_rfo']})" if r["bytes_per_element_with_rfo"] != r["bytes_per_element"] else ""
        )
        lines.append(
            f"| {r['path']} | {OPS[r['op']][2]} | {r['dtype']} | {_f(r['cycles_per_element_in_cache'], '.2f')} | "
            f"{_f(r['instructions_per_element'], '.1f')} | {_f(r['instructions_per_cycle'], '.2f')} | {bytes_} | "
            f"{r['compute_bound_s_2_threads'] * 1e3:.2f} ms | {r['roofline_s'] * 1e3:.2f} ms | "
            f"{r['predicted_roofline_fraction']:.2f} | {r['measured_roofline_fraction']:.2f} |"
        )
    if data["hot_loops"]:
        lines += ["", "Hot loops of the AVX2 entry points (objdump -d: innermost backward branches with ymm code):", ""]
        for entry, loops in data["hot_loops"].items():
            spans = ", ".join(f"{lo['start']}–{lo['end']}: {lo['instructions']} instr" for lo in loops)
            lines.append(f"- `{entry}`: {spans or 'none found'}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, help="folder for kernels_profile.md and kernels_profile.json")
    p.add_argument("--small", type=int, default=1024, help="smaller in-cache size (elements)")
    p.add_argument("--large", type=int, default=8192, help="larger in-cache size (elements)")
    p.add_argument("--big", type=float, default=2e7, help="size for the roofline comparison (elements)")
    p.add_argument("--blocks", type=int, default=200, help="blocks for the in-cache best time")
    p.add_argument("--rounds", type=int, default=7, help="rounds of alternating blocks at --big")
    p.add_argument("--paths", default="all", help="kernel paths, comma-separated, or all")
    p.add_argument("--ops", default=",".join(OPS), help="ops, comma-separated")
    p.add_argument("--dtypes", default="float32,float64", help="dtypes, comma-separated")
    p.add_argument("--no-count", action="store_true", help="skip the callgrind instruction count")
    a = p.parse_args(argv)
    available = list(k.available_kernels())
    paths = available[::-1] if a.paths == "all" else a.paths.split(",")
    ops, dtypes = a.ops.split(","), a.dtypes.split(",")
    for name, given, allowed in (("--paths", paths, available), ("--ops", ops, OPS), ("--dtypes", dtypes, SUFFIX)):
        bad = [v for v in given if v not in allowed]
        if bad:
            p.error(f"{name}: {bad[0]!r} is not one of {', '.join(allowed)}")
    if not 0 < a.small < a.large:
        p.error(f"--small={a.small}, --large={a.large}: need 0 < small < large")
    data = profile(paths, ops, dtypes, a.small, a.large, int(a.big), a.blocks, a.rounds, not a.no_count)
    print(to_markdown(data))
    if a.out:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "kernels_profile.json").write_text(json.dumps(data, indent=1) + "\n")
        (a.out / "kernels_profile.md").write_text(to_markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
