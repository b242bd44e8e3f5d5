"""``sigmoidlab bench``: the compiled kernels against the memory-bandwidth roofline and the usual anchors.

For each op (forward σ, σ' from x, the fused pair (σ, σ')), dtype and size, every implementation writes into
preallocated outputs and is timed interleaved (A B C … A B C …) after a warm-up; the median of the repetitions
is reported. ``np.copyto`` is the roofline: the time to read the input once and write one output. σ' and
the fused pair are compared with the roofline scaled to their traffic (one read + one or two writes). The
anchors compute σ' the way backprop does, y·(1 − y) after σ. The code is shared with
``benchmarks/kernels.py``.

Memory: at the largest size, the peak of what one call that returns a new float64 array allocates (σ, and the
pair), traced by ``tracemalloc``, which sees NumPy's data buffers; without temporaries that is the output alone.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from .._atomic import write_text
from ._app import app, console, fail

OPS = ("sigmoid", "sigmoid_grad", "sigmoid_and_grad")
WRITES = {"sigmoid": 1, "sigmoid_grad": 1, "sigmoid_and_grad": 2}
DEFAULT_SIZES = (1_000, 100_000, 10_000_000, 20_000_000)
QUICK_SIZES = (1_000, 100_000)


def machine_info() -> dict[str, Any]:
    from sigmoidlab.functions import _ufuncs as k

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": model,
        "flags": k.cpu_features(),
        "cores": os.cpu_count() or 1,
        "kernel": k.get_kernel(),
        "threads": k._ext.get_num_threads() if k._ext is not None else 1,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
    }
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        pass
    return info


def _implementations(op: str, x: np.ndarray, outs: list[np.ndarray], tmp: np.ndarray) -> dict[str, Callable]:
    """name -> zero-argument callable computing ``op`` of x into the preallocated outputs."""
    from sigmoidlab.functions import _ufuncs as k

    o1, o2 = outs
    cores = os.cpu_count() or 1

    def copy():
        np.copyto(o1, x)

    def np_sigmoid(dst):
        np.negative(x, out=dst)
        np.exp(dst, out=dst)
        np.add(dst, 1, out=dst)
        np.reciprocal(dst, out=dst)

    def y_times_one_minus_y(y, dst):
        np.subtract(1, y, out=tmp)
        np.multiply(y, tmp, out=dst)

    impls: dict[str, Callable] = {"np.copyto": copy}
    if op == "sigmoid":
        impls["numpy 1/(1+exp(-x))"] = lambda: np_sigmoid(o1)
    elif op == "sigmoid_grad":
        impls["numpy y·(1−y)"] = lambda: (np_sigmoid(tmp), np.multiply(tmp, np.subtract(1, tmp, out=o2), out=o1))
    else:
        impls["numpy y·(1−y)"] = lambda: (np_sigmoid(o1), y_times_one_minus_y(o1, o2))

    try:
        from scipy.special import expit

        if op == "sigmoid":
            impls["scipy.special.expit"] = lambda: expit(x, out=o1)
        elif op == "sigmoid_grad":
            impls["scipy expit, y·(1−y)"] = lambda: (expit(x, out=o2), y_times_one_minus_y(o2, o1))
        else:
            impls["scipy expit, y·(1−y)"] = lambda: (expit(x, out=o1), y_times_one_minus_y(o1, o2))
    except ImportError:
        pass

    try:
        import numexpr as ne

        ne.set_num_threads(cores)
        sig = "1/(1+exp(-x))"
        if op == "sigmoid":
            impls[f"numexpr ({cores} threads)"] = lambda: ne.evaluate(sig, local_dict={"x": x}, out=o1)
        elif op == "sigmoid_grad":
            impls[f"numexpr ({cores} threads)"] = lambda: ne.evaluate(f"{sig}*(1-{sig})", local_dict={"x": x}, out=o1)
        else:
            impls[f"numexpr ({cores} threads)"] = lambda: (
                ne.evaluate(sig, local_dict={"x": x}, out=o1),
                ne.evaluate("y*(1-y)", local_dict={"y": o1}, out=o2),
            )
    except ImportError:
        pass

    try:
        import torch

        torch.set_num_threads(cores)
        tx, t1, t2 = torch.from_numpy(x), torch.from_numpy(o1), torch.from_numpy(o2)
        name = f"torch.sigmoid ({cores} threads)"
        if op == "sigmoid":
            impls[name] = lambda: torch.sigmoid(tx, out=t1)
        elif op == "sigmoid_grad":
            impls[name] = lambda: (torch.sigmoid(tx, out=t2), torch.mul(t2, torch.rsub(t2, 1), out=t1))
        else:
            impls[name] = lambda: (torch.sigmoid(tx, out=t1), torch.mul(t1, torch.rsub(t1, 1), out=t2))
    except ImportError:
        pass

    if k.sigmoid is not None:
        if op == "sigmoid":
            impls["sigmoidlab"] = lambda: k.sigmoid(x, out=o1)
        elif op == "sigmoid_grad":
            impls["sigmoidlab"] = lambda: k.sigmoid_grad(x, out=o1)
        else:
            impls["sigmoidlab"] = lambda: k.sigmoid_and_grad(x, out=(o1, o2))
    return impls


def measure(op: str, dtype: str, n: int, repeats: int) -> list[dict[str, Any]]:
    """Median time of every implementation of ``op`` at (dtype, n), measured interleaved."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 8.0, n).astype(dtype)
    outs = [np.empty_like(x), np.empty_like(x)]
    tmp = np.empty_like(x)
    impls = _implementations(op, x, outs, tmp)
    inner = max(1, 200_000 // n)  # small sizes: time a batch of calls, report per call
    samples: dict[str, list[float]] = {name: [] for name in impls}
    with np.errstate(all="ignore"):
        for rep in range(repeats + 2):  # two warm-up rounds
            for name, fn in impls.items():
                t0 = time.perf_counter()
                for _ in range(inner):
                    fn()
                dt = (time.perf_counter() - t0) / inner
                if rep >= 2:
                    samples[name].append(dt)
    medians = {name: statistics.median(v) for name, v in samples.items()}
    itemsize = x.itemsize
    roofline = medians["np.copyto"] * (1 + WRITES[op]) / 2
    ours = medians.get("sigmoidlab")
    rows = []
    for name, t in medians.items():
        moved = itemsize * n * (1 + (1 if name == "np.copyto" else WRITES[op]))
        rows.append(
            {
                "op": op,
                "dtype": dtype,
                "n": n,
                "impl": name,
                "seconds": t,
                "gbps": moved / t / 1e9,
                "roofline_fraction": roofline / t,
                "sigmoidlab_speedup": (t / ours) if ours else None,
            }
        )
    return rows


def peak_memory(n: int) -> list[dict[str, Any]]:
    """Peak bytes allocated by one call returning new arrays, for σ and the pair of n float64 elements.

    tracemalloc sees every NumPy data buffer, so this is exact for sigmoidlab, NumPy and SciPy: the output
    alone means no temporaries. (torch and numexpr allocate outside it and are left out.)"""
    import tracemalloc

    import sigmoidlab as sl

    x = np.random.default_rng(0).normal(0.0, 8.0, n)
    calls: dict[str, dict[str, Callable]] = {
        "sigmoid": {
            "sigmoidlab": lambda: sl.sigmoid(x),
            "numpy 1/(1+exp(-x))": lambda: 1 / (1 + np.exp(-x)),
        },
        "sigmoid_and_grad": {
            "sigmoidlab": lambda: sl.sigmoid_and_grad(x),
            "numpy y, y·(1−y)": lambda: (y := 1 / (1 + np.exp(-x)), y * (1 - y)),
        },
    }
    try:
        from scipy.special import expit

        calls["sigmoid"]["scipy.special.expit"] = lambda: expit(x)
        calls["sigmoid_and_grad"]["scipy expit, y·(1−y)"] = lambda: (y := expit(x), y * (1 - y))
    except ImportError:
        pass
    rows = []
    for op, impls in calls.items():
        for name, fn in impls.items():
            tracemalloc.start()
            result = fn()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            del result
            rows.append({"op": op, "impl": name, "n": n, "peak_bytes": peak, "output_bytes": x.nbytes * WRITES[op]})
    return rows


def _load_average() -> list[float] | None:
    """1/5/15-minute load averages: other work on the machine makes absolute times unreliable (ratios less so)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def run(sizes: list[int], dtypes: list[str], repeats: int, progress: Callable[[str], None] | None = None) -> dict:
    load_before = _load_average()
    results = []
    for op in OPS:
        for dtype in dtypes:
            for n in sizes:
                if progress:
                    progress(f"{op} {dtype} n={n:,}")
                results += measure(op, dtype, n, repeats)
    if progress:
        progress(f"peak memory n={max(sizes):,}")
    memory = peak_memory(max(sizes))
    machine = machine_info()
    machine["load_average"] = {"before": load_before, "after": _load_average()}
    return {
        "machine": machine,
        "config": {"sizes": sizes, "dtypes": dtypes, "repeats": repeats, "ops": list(OPS)},
        "results": results,
        "memory": memory,
    }


def _fmt_time(t: float) -> str:
    return f"{t * 1e6:.1f} µs" if t < 1e-3 else f"{t * 1e3:.2f} ms"


def summary(data: dict) -> list[str]:
    """The issue's target figures, read off the largest size measured."""
    rows = data["results"]
    n_max = max(r["n"] for r in rows)
    n_min = min(r["n"] for r in rows)
    lines = []

    def get(op, dtype, n, impl_prefix):
        return next(
            (r for r in rows if (r["op"], r["dtype"], r["n"]) == (op, dtype, n) and r["impl"].startswith(impl_prefix)),
            None,
        )

    for dtype in data["config"]["dtypes"]:
        ours = get("sigmoid", dtype, n_max, "sigmoidlab")
        torch_row = get("sigmoid", dtype, n_max, "torch")
        if ours:
            text = f"- {dtype}, n={n_max:,}: forward σ at {ours['roofline_fraction']:.2f} of np.copyto"
            if torch_row:
                text += f", {ours['sigmoidlab_speedup'] and torch_row['seconds'] / ours['seconds']:.2f}× torch.sigmoid"
            for op in ("sigmoid_grad", "sigmoid_and_grad"):
                r = get(op, dtype, n_max, "sigmoidlab")
                if r:
                    text += f"; {op} at {r['roofline_fraction']:.2f} of its roofline"
            small, scipy_row = get("sigmoid", dtype, n_min, "sigmoidlab"), get("sigmoid", dtype, n_min, "scipy")
            if small and scipy_row:
                text += f"; n={n_min:,}: {scipy_row['seconds'] / small['seconds']:.2f}× scipy.special.expit"
            lines.append(text)
    for op in ("sigmoid", "sigmoid_and_grad"):
        mem = [m for m in data.get("memory", []) if m["op"] == op]
        if mem:
            parts = ", ".join(f"{m['impl']} {m['peak_bytes'] / 2**20:,.1f} MiB" for m in mem)
            lines.append(
                f"- peak memory of {op} returning new float64 arrays, n={mem[0]['n']:,} "
                f"(output {mem[0]['output_bytes'] / 2**20:,.1f} MiB): {parts}"
            )
    return lines


def to_markdown(data: dict) -> str:
    m = data["machine"]
    flags = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in m["flags"].items())
    load = m.get("load_average") or {}
    out = [
        "# sigmoidlab kernel benchmark",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores ({flags}); sigmoidlab kernel `{m['kernel']}`, "
        f"{m['threads']} threads; NumPy {m['numpy']}" + (f", torch {m['torch']}" if "torch" in m else "") + "; "
        f"OMP_WAIT_POLICY={m.get('omp_wait_policy', 'default')} (idle OpenMP workers of torch sleep instead of "
        "spinning on the cores the next implementation needs).",
        "",
        f"Load average (1/5/15 min) before the run {load.get('before')}, after {load.get('after')}: "
        "other work on the machine slows absolute times; the ratios, measured interleaved, are what counts.",
        "",
        f"Median of {data['config']['repeats']} interleaved repetitions after 2 warm-up rounds, outputs "
        "preallocated. Roofline = `np.copyto` time scaled to the op's traffic (1 read + 1 write for σ and σ', "
        "1 read + 2 writes for the pair). Speed-up = that implementation's time / sigmoidlab's.",
        "",
        *summary(data),
        "",
        "| op | dtype | n | implementation | time | GB/s | of roofline | sigmoidlab speed-up |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        speed = "" if r["sigmoidlab_speedup"] is None else f"{r['sigmoidlab_speedup']:.2f}×"
        out.append(
            f"| {r['op']} | {r['dtype']} | {r['n']:,} | {r['impl']} | {_fmt_time(r['seconds'])} | "
            f"{r['gbps']:.1f} | {r['roofline_fraction']:.2f} | {speed} |"
        )
    return "\n".join(out) + "\n"


def print_table(data: dict) -> None:
    from rich.table import Table

    table = Table(title="sigmoidlab kernels vs roofline and anchors (median times)")
    for col in ("op", "dtype", "n", "implementation", "time", "GB/s", "of roofline", "sigmoidlab speed-up"):
        table.add_column(col, justify="left" if col in ("op", "dtype", "implementation") else "right")
    for r in data["results"]:
        speed = "" if r["sigmoidlab_speedup"] is None else f"{r['sigmoidlab_speedup']:.2f}×"
        style = "bold green" if r["impl"] == "sigmoidlab" else None
        table.add_row(
            r["op"],
            r["dtype"],
            f"{r['n']:,}",
            r["impl"],
            _fmt_time(r["seconds"]),
            f"{r['gbps']:.1f}",
            f"{r['roofline_fraction']:.2f}",
            speed,
            style=style,
        )
    console.print(table)
    for line in summary(data):
        console.print(line)


def _parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(float(s)) for s in text.split(",") if s.strip()]
    except ValueError:
        fail(f"--sizes={text!r}: expected comma-separated numbers such as 1e3,1e5,1e7")
    if not sizes or min(sizes) < 1:
        fail(f"--sizes={text!r}: sizes must be positive")
    return sizes


@app.command("bench")
def bench_command(
    sizes: Annotated[
        str | None, typer.Option(help="Comma-separated array sizes [default: 1e3,1e5,1e7,2e7; --quick: 1e3,1e5].")
    ] = None,
    dtypes: Annotated[str, typer.Option(help="Comma-separated dtypes: float32, float64.")] = "float32,float64",
    repeats: Annotated[int, typer.Option(min=1, help="Timed repetitions per implementation (median).")] = 9,
    out: Annotated[Path | None, typer.Option(help="Directory to write kernels.md and kernels.json into.")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Small sizes and 3 repetitions: a smoke run.")] = False,
) -> None:
    """Time sigmoidlab's kernels against np.copyto (the memory roofline), NumPy, SciPy, numexpr and PyTorch.

    Ops: forward σ, σ' from x, and the fused pair (σ, σ'); the anchors compute σ' as y·(1 − y) after σ.
    Prints a table; with --out also writes Markdown and JSON.
    """
    # PyTorch's OpenMP workers spin for a while after each parallel region (libgomp's default active wait),
    # taking both cores from whatever the interleaved benchmark runs next: our pthreads ran up to 1.8x slower
    # right after torch. PASSIVE lets idle workers sleep; it only takes effect if set before torch is imported.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    size_list = _parse_sizes(sizes) if sizes else list(QUICK_SIZES if quick else DEFAULT_SIZES)
    dtype_list = [d.strip() for d in dtypes.split(",") if d.strip()]
    for d in dtype_list:
        if d not in ("float32", "float64"):
            fail(f"--dtypes: {d!r} is not one of float32, float64")
    if quick and repeats == 9:
        repeats = 3
    with console.status("benchmarking") as status:
        data = run(size_list, dtype_list, repeats, progress=lambda text: status.update(f"benchmarking {text}"))
    print_table(data)
    if out is not None:
        for name, text in (("kernels.md", to_markdown(data)), ("kernels.json", json.dumps(data, indent=2))):
            write_text(out / name, text)
        console.print(f"wrote {out / 'kernels.md'} and {out / 'kernels.json'}")
