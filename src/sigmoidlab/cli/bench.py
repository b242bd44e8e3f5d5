"""``sigmoidlab bench``: the compiled kernels against the memory-bandwidth roofline and the usual anchors.

For each op (forward σ, σ' from x, the fused pair (σ, σ')), dtype and size, every implementation writes into
preallocated outputs and is timed in alternating blocks of calls (A's block, B's block, … then again): one
untimed call, then enough timed calls to fill the block, so each figure is that implementation's steady state,
not the cost of following another library. The median over the repetitions is reported. ``np.copyto`` is the
roofline: the time to read the input once and write one output; σ' and the pair are compared with it scaled to
their traffic (one read + one or two writes). The anchors compute σ' the way backprop does, y·(1 − y) after σ.
``--kernel all`` puts every kernel path the CPU runs into the rotation, so one run compares them.

Right after a torch call: each call of σ preceded by one torch.sigmoid call, against σ's steady state, in child
processes with OMP_WAIT_POLICY=PASSIVE and with the OpenMP default (torch's idle workers spin for a while after
each call and compete with ours for the cores).

Memory: at the largest size, the peak of what one call that returns a new float64 array allocates (σ, and the
pair), traced by ``tracemalloc``, which sees NumPy's data buffers; without temporaries that is the output alone.
The code is shared with ``benchmarks/kernels.py``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from .. import _jsonio
from .._atomic import write_text
from ._app import app, console, fail
from ._bench_report import _fmt_time, after_torch_lines, machine_line, readme_summary, summary, to_markdown

OPS = ("sigmoid", "sigmoid_grad", "sigmoid_and_grad")
WRITES = {"sigmoid": 1, "sigmoid_grad": 1, "sigmoid_and_grad": 2}
DEFAULT_SIZES = (1_000, 100_000, 1_000_000, 10_000_000, 20_000_000)
QUICK_SIZES = (1_000, 100_000)
AFTER_TORCH_SIZES = (100_000, 1_000_000)
BLOCK_SECONDS = 0.005  # the timed part of a block: at least 2 calls, more for short calls
WAIT_POLICIES = ("PASSIVE", "default")

Impl = tuple[Callable[[], Any], Callable[[], Any] | None]  # (one call, setup before its block)


def _ext() -> Any:
    from sigmoidlab.functions import _loader as k

    return k


def machine_info(kernels: list[str]) -> dict[str, Any]:
    from sigmoidlab._kernels import cpu

    k = _ext()
    info: dict[str, Any] = {
        "cpu": cpu.cpu_model(),
        "vector_extensions": cpu.vector_extensions(),
        "flags": k.cpu_features(),
        "cores": os.cpu_count() or 1,
        "kernels": kernels,
        "kernels_available": list(k.available_kernels()),
        "threads": k._ext.get_num_threads() if k._ext is not None else 1,
        "parallel_min_bytes": k._ext._pool_stats()["parallel_min_bytes"] if k._ext is not None else None,
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


def _sigmoidlab(op: str, x: np.ndarray, o1: np.ndarray, o2: np.ndarray, kernels: list[str]) -> dict[str, Impl]:
    k = _ext()
    if k.sigmoid is None:
        return {}
    call = {
        "sigmoid": lambda: k.sigmoid(x, out=o1),
        "sigmoid_grad": lambda: k.sigmoid_grad(x, out=o1),
        "sigmoid_and_grad": lambda: k.sigmoid_and_grad(x, out=(o1, o2)),
    }[op]
    return {f"sigmoidlab ({name})": (call, lambda name=name: k.set_kernel(name)) for name in kernels}


def _implementations(op: str, x: np.ndarray, outs: list[np.ndarray], tmp: np.ndarray, kernels: list[str]):
    """name -> (zero-argument callable computing ``op`` of x into the preallocated outputs, setup or None)."""
    o1, o2 = outs
    cores = os.cpu_count() or 1

    def np_sigmoid(dst):
        np.negative(x, out=dst)
        np.exp(dst, out=dst)
        np.add(dst, 1, out=dst)
        np.reciprocal(dst, out=dst)

    def y_times_one_minus_y(y, dst):
        np.subtract(1, y, out=tmp)
        np.multiply(y, tmp, out=dst)

    impls: dict[str, Callable] = {"np.copyto": lambda: np.copyto(o1, x)}
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
        sig, name = "1/(1+exp(-x))", f"numexpr ({cores} threads)"
        if op == "sigmoid":
            impls[name] = lambda: ne.evaluate(sig, local_dict={"x": x}, out=o1)
        elif op == "sigmoid_grad":
            impls[name] = lambda: ne.evaluate(f"{sig}*(1-{sig})", local_dict={"x": x}, out=o1)
        else:
            impls[name] = lambda: (
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

    return {name: (fn, None) for name, fn in impls.items()} | _sigmoidlab(op, x, o1, o2, kernels)


def _block(fn: Callable, calls: int) -> float:
    """Seconds per call over ``calls`` timed calls, after one untimed call (the steady state)."""
    fn()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def _calls_per_block(seconds_per_call: float) -> int:
    return max(2, min(100_000, math.ceil(BLOCK_SECONDS / max(seconds_per_call, 1e-9))))


def time_in_blocks(impls: dict[str, Impl], repeats: int) -> tuple[dict[str, float], dict[str, int]]:
    """Median seconds per call of each implementation, timed in alternating blocks; and the block sizes."""
    calls = {}
    for name, (fn, setup) in impls.items():  # warm-up round, which also sizes the blocks
        if setup:
            setup()
        calls[name] = _calls_per_block(_block(fn, 1))
    samples: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(repeats):
        for name, (fn, setup) in impls.items():
            if setup:
                setup()
            samples[name].append(_block(fn, calls[name]))
    return {name: statistics.median(v) for name, v in samples.items()}, calls


def measure(op: str, dtype: str, n: int, repeats: int, kernels: list[str]) -> list[dict[str, Any]]:
    """Every implementation of ``op`` at (dtype, n), timed in alternating blocks."""
    x = np.random.default_rng(0).normal(0.0, 8.0, n).astype(dtype)
    outs = [np.empty_like(x), np.empty_like(x)]
    k = _ext()
    previous = k.get_kernel()
    try:
        with np.errstate(all="ignore"):
            medians, calls = time_in_blocks(_implementations(op, x, outs, np.empty_like(x), kernels), repeats)
    finally:
        k.set_kernel(previous)
    roofline = medians["np.copyto"] * (1 + WRITES[op]) / 2
    ours = medians.get(f"sigmoidlab ({kernels[0]})") if kernels else None
    rows = []
    for name, t in medians.items():
        moved = x.itemsize * n * (1 + (1 if name == "np.copyto" else WRITES[op]))
        rows.append(
            {
                "op": op,
                "dtype": dtype,
                "n": n,
                "impl": name,
                "kernel": name[len("sigmoidlab (") : -1] if name.startswith("sigmoidlab (") else None,
                "seconds": t,
                "calls_per_block": calls[name],
                "gbps": moved / t / 1e9,
                "roofline_fraction": roofline / t,
                "sigmoidlab_speedup": (t / ours) if ours else None,
            }
        )
    return rows


# ---------------------------------------------------------------------------------------- right after torch


def _after_torch_one(torch: Any, dtype: str, n: int, repeats: int) -> dict[str, Any]:
    k = _ext()
    x = np.random.default_rng(0).normal(0.0, 8.0, n).astype(dtype)
    y, tx = np.empty_like(x), torch.from_numpy(x)
    ty = torch.empty_like(tx)

    def ours():
        k.sigmoid(x, out=y)

    def theirs():
        torch.sigmoid(tx, out=ty)

    calls = _calls_per_block(_block(ours, 1))
    alone, after, torch_alone = [], [], []
    for _ in range(repeats):
        alone.append(_block(ours, calls))
        torch_alone.append(_block(theirs, calls))
        spent = 0.0
        for _ in range(calls):
            theirs()
            t0 = time.perf_counter()
            ours()
            spent += time.perf_counter() - t0
        after.append(spent / calls)
    a, b = statistics.median(alone), statistics.median(after)
    return {"dtype": dtype, "n": n, "alone_s": a, "after_torch_s": b, "slowdown": b / a} | {
        "torch_s": statistics.median(torch_alone)
    }


def after_torch_timings(sizes: list[int], dtypes: list[str], repeats: int, kernel: str) -> list[dict[str, Any]]:
    """σ's steady state against σ called right after one torch.sigmoid call (this process's OpenMP settings)."""
    import torch

    _ext().set_kernel(kernel)
    torch.set_num_threads(os.cpu_count() or 1)
    return [_after_torch_one(torch, dtype, n, repeats) for dtype in dtypes for n in sizes]


def _after_torch_child() -> None:
    """Entry point of the child processes: arguments and result as JSON (argv[1], last line of stdout)."""
    args = json.loads(sys.argv[1])
    print(json.dumps(after_torch_timings(**args)))


def after_torch(sizes: list[int], dtypes: list[str], repeats: int, kernel: str) -> list[dict[str, Any]]:
    """after_torch_timings in a child process per OpenMP wait policy (it only takes effect before torch loads)."""
    rows = []
    for policy in WAIT_POLICIES:
        env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
        if policy != "default":
            env["OMP_WAIT_POLICY"] = policy
        args = json.dumps({"sizes": sizes, "dtypes": dtypes, "repeats": repeats, "kernel": kernel})
        code = "from sigmoidlab.cli.bench import _after_torch_child; _after_torch_child()"
        done = subprocess.run([sys.executable, "-c", code, args], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            fail(f"the right-after-torch measurement failed (OMP_WAIT_POLICY={policy}): {done.stderr.strip()[-300:]}")
        rows += [row | {"omp_wait_policy": policy} for row in json.loads(done.stdout.strip().splitlines()[-1])]
    return rows


# ------------------------------------------------------------------------------------------------- memory


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


def run(
    sizes: list[int],
    dtypes: list[str],
    repeats: int,
    kernels: list[str],
    after_torch_sizes: list[int],
    progress: Callable[[str], None] | None = None,
) -> dict:
    load_before = _load_average()
    results = []
    for op in OPS:
        for dtype in dtypes:
            for n in sizes:
                if progress:
                    progress(f"{op} {dtype} n={n:,}")
                results += measure(op, dtype, n, repeats, kernels)
    if progress:
        progress(f"peak memory n={max(sizes):,}")
    memory = peak_memory(max(sizes))
    torch_rows = None
    if after_torch_sizes and kernels and _has_torch():
        if progress:
            progress("σ right after a torch call")
        torch_rows = after_torch(after_torch_sizes, dtypes, repeats, kernels[0])
    machine = machine_info(kernels)
    machine["load_average"] = {"before": load_before, "after": _load_average()}
    config = {"sizes": sizes, "dtypes": dtypes, "repeats": repeats, "ops": list(OPS), "block_seconds": BLOCK_SECONDS}
    return {
        "machine": machine,
        "config": config | {"after_torch_sizes": after_torch_sizes},
        "results": results,
        "memory": memory,
        "after_torch": torch_rows,
    }


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------------------------------------ output


def print_table(data: dict) -> None:
    from rich.table import Table

    console.print(machine_line(data["machine"]), highlight=False)
    table = Table(title="sigmoidlab kernels vs roofline and anchors (median of alternating blocks)")
    for col in ("op", "dtype", "n", "implementation", "time", "GB/s", "of roofline", "sigmoidlab speed-up"):
        table.add_column(col, justify="left" if col in ("op", "dtype", "implementation") else "right")
    for r in data["results"]:
        speed = "" if r["sigmoidlab_speedup"] is None else f"{r['sigmoidlab_speedup']:.2f}×"
        style = "bold green" if r["kernel"] else None
        row = (r["op"], r["dtype"], f"{r['n']:,}", r["impl"], _fmt_time(r["seconds"]), f"{r['gbps']:.1f}")
        table.add_row(*row, f"{r['roofline_fraction']:.2f}", speed, style=style)
    console.print(table)
    for line in summary(data) + after_torch_lines(data.get("after_torch")):
        console.print(line, highlight=False)


MAX_SIZE = 200_000_000


def _parse_sizes(text: str, option: str = "--sizes") -> list[int]:
    if text.strip().lower() in ("", "0", "none"):
        return []
    try:
        sizes = [int(float(s)) for s in text.split(",") if s.strip()]
    except ValueError:
        fail(f"{option}={text!r}: expected comma-separated numbers such as 1e3,1e5,1e7")
    if not sizes or min(sizes) < 1:
        fail(f"{option}={text!r}: sizes must be positive")
    if max(sizes) > MAX_SIZE:  # inputs, outputs and the anchors' temporaries: ~6 arrays of this size at once
        fail(f"{option}={text!r}: at most {MAX_SIZE:.0e} elements per size")
    return sizes


def _check_out(out: Path) -> None:
    """Refuse an --out that cannot take the two files before anything is timed, not after."""
    from .._atomic import UnsafeOutputError, resolve_output

    if out.exists() and not out.is_dir():
        fail(f"--out={out}: exists and is not a folder")
    for name in ("kernels.md", "kernels_summary.md", "kernels.json"):
        try:
            resolve_output(out / name)
        except UnsafeOutputError as exc:
            fail(f"--out: {exc}")


def _kernels(choice: str) -> list[str]:
    k = _ext()
    available = list(k.available_kernels())
    if not available:
        return []
    if choice == "all":
        return available[::-1]  # the best first: the speed-up column is relative to it
    if choice == "auto":
        return [k.get_kernel() if k.get_kernel() in available else available[-1]]
    if choice not in available:
        fail(f"--kernel={choice!r}: this machine runs {', '.join(['auto', 'all', *available])}")
    return [choice]


@app.command("bench")
def bench_command(
    sizes: Annotated[
        str | None, typer.Option(help="Comma-separated array sizes [default: 1e3,1e5,1e6,1e7,2e7; --quick: 1e3,1e5].")
    ] = None,
    dtypes: Annotated[str, typer.Option(help="Comma-separated dtypes: float32, float64.")] = "float32,float64",
    repeats: Annotated[int, typer.Option(min=1, help="Rounds of alternating blocks per implementation (median).")] = 9,
    kernel: Annotated[
        str, typer.Option(help="Kernel path to measure: auto (the active one), all (each this CPU runs), or a name.")
    ] = "auto",
    after_torch_sizes: Annotated[
        str | None,
        typer.Option(
            "--after-torch",
            help="Sizes at which to time σ right after a torch call, with and without OMP_WAIT_POLICY=PASSIVE "
            "[default: 1e5,1e6; --quick: 1e5]; 'none' skips it.",
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Directory to write kernels.md and kernels.json into.")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Small sizes and 3 repetitions: a smoke run.")] = False,
) -> None:
    """Time sigmoidlab's kernels against np.copyto (the memory roofline), NumPy, SciPy, numexpr and PyTorch.

    Ops: forward σ, σ' from x, and the fused pair (σ, σ'); the anchors compute σ' as y·(1 − y) after σ. Names the
    CPU, its vector extensions and the kernel path(s) measured. Prints a table; with --out also writes Markdown
    and JSON.
    """
    # PyTorch's OpenMP workers spin for a while after each parallel region (libgomp's default active wait),
    # taking both cores from whatever the interleaved benchmark runs next: our threads ran up to 1.8x slower
    # right after torch. PASSIVE lets idle workers sleep; it only takes effect if set before torch is imported.
    # (The right-after-torch section measures both policies in child processes.)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    size_list = _parse_sizes(sizes) if sizes else list(QUICK_SIZES if quick else DEFAULT_SIZES)
    default_after = AFTER_TORCH_SIZES[:1] if quick else AFTER_TORCH_SIZES
    after_list = _parse_sizes(after_torch_sizes, "--after-torch") if after_torch_sizes else list(default_after)
    dtype_list = [d.strip() for d in dtypes.split(",") if d.strip()]
    if not dtype_list:
        fail(f"--dtypes={dtypes!r}: give float32, float64 or both")
    for d in dtype_list:
        if d not in ("float32", "float64"):
            fail(f"--dtypes: {d!r} is not one of float32, float64")
    if out is not None:
        _check_out(out)
    kernels = _kernels(kernel.strip().lower())
    if quick and repeats == 9:
        repeats = 3
    with console.status("benchmarking") as status:
        data = run(
            size_list, dtype_list, repeats, kernels, after_list, lambda text: status.update(f"benchmarking {text}")
        )
    print_table(data)
    if out is not None:
        write_text(out / "kernels.md", to_markdown(data))
        write_text(out / "kernels_summary.md", readme_summary(data))
        _jsonio.write_json(out / "kernels.json", data, indent=2)
        console.print(f"wrote {out / 'kernels.md'}, {out / 'kernels_summary.md'} and {out / 'kernels.json'}")
