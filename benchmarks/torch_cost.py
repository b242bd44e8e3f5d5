"""Cost of sigmoidlab.torch's exact backward: forward + backward at 10⁷ elements beside torch's own.

    python benchmarks/torch_cost.py [--n 10000000] [--reps 7] [--out benchmarks/results]

For σ and tanh in float32 and bfloat16, one step is ``y = f(x); y.backward(g)`` on a fresh leaf (the forward,
the saved tensor and the gradient's allocation included). Implementations, timed in interleaved rounds (one
call of each per round, the order rotating) so that a busy neighbour slows them alike:

- ``torch``: torch.sigmoid / torch.tanh and their autograd (y·(1−y), 1 − y²);
- ``sigmoidlab (default)``: sigmoidlab.torch's functions; at this size the backward is one fused kernel
  (``set_fused("auto")``: for bfloat16 the formula in float32, verified against the correctly rounded table
  on every input at first use; the float64 formula for float32);
- ``sigmoidlab, eager ops``: the same with ``set_fused(False)`` (a few eager torch ops per backward);
- ``torch.compile``: the function compiled by the user (``torch.compile(f)``), torch's and ours.

Writes ``torch_cost.md`` and ``torch_cost.json`` (medians, the ratio to torch, the CPU and thread count). The
first call of each (where the compiling happens) is reported separately and is not in the step times.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # torch's spinning workers would slow the next call down

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

import sigmoidlab.torch as st
from sigmoidlab._atomic import write_text
from sigmoidlab._kernels.cpu import cpu_model

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
FUNCTIONS = {"sigmoid": (torch.sigmoid, st.sigmoid), "tanh": (torch.tanh, st.tanh)}


def step(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, g: torch.Tensor) -> None:
    leaf = x.detach().requires_grad_(True)
    f(leaf).backward(g)


def _with_mode(mode: bool | str, f: Callable[[torch.Tensor], torch.Tensor]) -> Callable[..., None]:
    def run(x: torch.Tensor, g: torch.Tensor) -> None:
        previous = st.set_fused(mode)
        try:
            step(f, x, g)
        finally:
            st.set_fused(previous)

    return run


def implementations(name: str) -> dict[str, Callable[[torch.Tensor, torch.Tensor], None]]:
    theirs, ours = FUNCTIONS[name]
    compiled_theirs = torch.compile(theirs, dynamic=False)
    compiled_ours = torch.compile(ours, dynamic=False)
    return {
        "torch": lambda x, g: step(theirs, x, g),
        "sigmoidlab (default: fused)": _with_mode("auto", ours),
        "sigmoidlab, eager ops": _with_mode(False, ours),
        "torch.compile, torch's": lambda x, g: step(compiled_theirs, x, g),
        "torch.compile, ours": lambda x, g: step(compiled_ours, x, g),
    }


def measure_case(name: str, dtype: torch.dtype, n: int, reps: int) -> dict[str, Any]:
    torch.manual_seed(0)
    x = (8 * torch.randn(n)).to(dtype)  # a quarter of the units beyond |x| = 10
    g = torch.randn(n).to(dtype)
    impls = implementations(name)
    warmup = {}
    for impl, run in impls.items():  # compiles here, outside the timing
        start = time.perf_counter()
        run(x, g)
        warmup[impl] = time.perf_counter() - start
    times: dict[str, list[float]] = {impl: [] for impl in impls}
    order = list(impls)
    for r in range(reps):
        for impl in order[r % len(order) :] + order[: r % len(order)]:
            start = time.perf_counter()
            impls[impl](x, g)
            times[impl].append(time.perf_counter() - start)
    medians = {impl: statistics.median(t) for impl, t in times.items()}
    return {
        "function": name,
        "dtype": str(dtype).removeprefix("torch."),
        "median_ms": {impl: 1e3 * t for impl, t in medians.items()},
        "ratio_to_torch": {impl: t / medians["torch"] for impl, t in medians.items()},
        "first_call_s": warmup,
    }


def to_markdown(report: dict[str, Any]) -> str:
    impls = list(report["cases"][0]["median_ms"])
    lines = [
        f"**Forward + backward at {report['n']:,} elements, median of {report['reps']} interleaved rounds "
        f"(ms; × torch's time)**",
        "",
        "| function | dtype | " + " | ".join(impls) + " |",
        "|---|---|" + "---:|" * len(impls),
    ]
    for case in report["cases"]:
        cells = [f"{case['median_ms'][i]:.0f} ({case['ratio_to_torch'][i]:.2f}×)" for i in impls]
        lines.append(f"| {case['function']} | {case['dtype']} | " + " | ".join(cells) + " |")
    first = {i: max(c["first_call_s"][i] for c in report["cases"]) for i in impls}
    lines += [
        "",
        "sigmoidlab (default): from 2^20 elements the backward is one kernel compiled by torch.compile (float32 "
        "arithmetic in bfloat16, checked against the correctly rounded table on all 65,536 inputs at first use; "
        "float64 arithmetic in float32); eager ops: `set_fused(False)`; torch.compile: the step "
        "`f(x).backward(g)` with f compiled by the user. First call (compilation included), slowest case: "
        + ", ".join(f"{i} {s:.1f} s" for i, s in first.items())
        + ".",
        "",
        f"{report['cpu']}, torch {report['torch']} with {report['threads']} threads, {report['machine']}; "
        f"{report['seconds']} s (`python benchmarks/torch_cost.py`). The machine was shared: the ratios, measured "
        "in the same rounds, carry over better than the times.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="elements")
    parser.add_argument("--reps", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="output directory")
    args = parser.parse_args(argv)
    if args.n < 1 or args.reps < 1:
        parser.error(f"--n and --reps must be at least 1, got {args.n} and {args.reps}")
    start = time.perf_counter()
    cases = [measure_case(name, dtype, args.n, args.reps) for dtype in DTYPES.values() for name in FUNCTIONS]
    report = {
        "n": args.n,
        "reps": args.reps,
        "cpu": cpu_model(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "cases": cases,
        "seconds": round(time.perf_counter() - start, 1),
    }
    markdown = to_markdown(report)
    print(markdown)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / "torch_cost.md", markdown)
    write_text(args.out / "torch_cost.json", json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out / 'torch_cost.md'} and {args.out / 'torch_cost.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
