"""Accuracy of the sigmoid family against mpmath, side by side with scipy.special and PyTorch.

    python benchmarks/accuracy.py [--points 8000] [--fuzz 4194304] [--seed 0] [--out benchmarks/results]

Prints three tables of the largest error in ULP per function, implementation and dtype and writes them to
``accuracy.md`` and ``accuracy.json``:

1. the anchor set (``--points`` per dtype: half evenly over ±log(max), half from N(0, 10); for logit, p = σ of
   those points), with the number of points where a derivative is flushed to 0 although its true value is
   representable;
2. the whole range: float64 and float32 on ± a log-spaced grid from the smallest subnormal to the largest
   finite number, a grid over ±1.05·log(max), N(0, 10) and the hard cases; float16 and bfloat16 on all
   65,536 bit patterns, with the number of results that are not correctly rounded;
3. the worst case of σ and σ' in float64 and float32 on every kernel path (``--fuzz`` inputs per dtype, 4M by
   default, and ``--seed``): each input is screened with a double-double reference and the largest errors are
   recomputed with mpmath.

The ruler (mpmath references, ULP errors, proven correct rounding, the input sets, the contract) is
:mod:`sigmoidlab._testing.accuracy`, the worst-case search :mod:`sigmoidlab._testing.worst_case`: the tests
measure with the same code. This script adds the comparators, runs the measurements in parallel and writes
the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from sigmoidlab._atomic import write_text
from sigmoidlab._testing.accuracy import (
    CONTRACT,
    DERIVATIVES,
    DTYPES,
    FUNCTIONS,
    KNOWN_WORST,
    NARROW_DTYPES,
    WIDE_DTYPES,
    all_values,
    anchor_points,
    correctly_rounded,
    flushed_to_zero,
    range_points,
    reference_values,
    ulp_error,
)
from sigmoidlab._testing.accuracy import MAX_PREC as MAX_PREC  # re-exported: benchmarks/torch_accuracy.py
from sigmoidlab._testing.accuracy import round_mpf as round_mpf  # re-exported: benchmarks/torch_accuracy.py
from sigmoidlab._testing.comparators import implementations
from sigmoidlab._testing.worst_case import SEARCHED, worst_case_search

# ------------------------------------------------------------------------------------------------ measuring


def _measure(job: tuple[str, str, str, np.ndarray, dict[str, np.ndarray]]) -> dict[str, Any]:
    """Worker: reference for one (set, function, dtype), then the errors of every implementation's results."""
    set_name, func_name, dtype_name, x, results = job
    narrow = dtype_name in NARROW_DTYPES
    exact = reference_values(func_name, x, prec=100 if narrow else 200)
    # Correct rounding cannot be read off a float ULP figure: 0.5 + 1e-78 ULP prints as 0.5.
    rounded = correctly_rounded(func_name, x, DTYPES[dtype_name], 100, exact) if narrow else None
    summary = {}
    for impl, got in results.items():
        errors = ulp_error(got, exact)
        worst = int(np.argmax(errors))
        entry = {
            "points": int(x.size),
            "dtype": got.dtype.name,
            "max_ulp": float(errors[worst]),
            "worst_input": float(x[worst]),
            "flushed_to_zero": int(flushed_to_zero(got, exact).sum()),
        }
        if rounded is not None and got.dtype == rounded.dtype:
            same = (got == rounded) | (np.isnan(got) & np.isnan(rounded))
            entry["not_correctly_rounded"] = int((~same).sum())
        summary[impl] = entry
    return {"set": set_name, "function": func_name, "dtype": dtype_name, "results": summary}


def _jobs(points: int) -> list[tuple]:
    impls = implementations()
    jobs = []
    for set_name in ("anchor", "range"):
        for func_name in FUNCTIONS:
            for dtype_name, dtype in DTYPES.items():
                if set_name == "anchor":
                    x = anchor_points(func_name, dtype, points)
                elif dtype_name in NARROW_DTYPES:
                    x = all_values(dtype)
                else:
                    x = range_points(func_name, dtype, points)
                results = {}
                for impl, funcs in impls.items():
                    if func_name in funcs:
                        with np.errstate(all="ignore"):  # the comparators may warn; sigmoidlab never does
                            results[impl] = np.asarray(funcs[func_name](x))
                jobs.append((set_name, func_name, dtype_name, x, results))
    # The exhaustive 65,536-point jobs first, so the two workers end together.
    return sorted(jobs, key=lambda job: -job[3].size)


def measure(points: int = 8000, workers: int | None = None, fuzz: int = 1 << 22, seed: int = 0) -> dict[str, Any]:
    """Every (set, function, dtype, implementation) measured, and the worst-case search over ``fuzz`` inputs
    per function and dtype (none if 0); the result is what accuracy.json holds."""
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        # The searches first: they are the longest jobs.
        jobs = [(f, d, fuzz, seed) for f in SEARCHED for d in WIDE_DTYPES] if fuzz else []
        searches = [pool.submit(worst_case_search, *job) for job in jobs]
        measured = list(pool.map(_measure, _jobs(points)))
        worst = [search.result() for search in searches]
    table: dict[str, Any] = {"anchor": {}, "range": {}}
    for m in measured:
        for impl, entry in m["results"].items():
            table[m["set"]].setdefault(m["function"], {}).setdefault(impl, {})[m["dtype"]] = entry
    from sigmoidlab.functions import _loader

    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "kernel": _loader.get_kernel(),
        "points": points,
        "reference": "mpmath, 200 bits (100 bits with proven rounding for the exhaustive float16/bfloat16 sets)",
        "seconds": round(time.perf_counter() - start, 1),
        "results": table,
        "worst_case": {"fuzz": fuzz, "seed": seed, "known_worst": [-x for x in KNOWN_WORST], "results": worst},
    }


def contract_violations(report: dict[str, Any]) -> list[str]:
    """Where sigmoidlab misses the contract in the measured report (empty when it holds everywhere)."""
    problems = []
    for set_name, functions in report["results"].items():
        for func_name, impls in functions.items():
            for dtype_name, entry in impls["sigmoidlab"].items():
                where = f"{func_name} {dtype_name} ({set_name} set, worst at x = {entry['worst_input']!r})"
                bound = CONTRACT[func_name].max_ulp if dtype_name in WIDE_DTYPES else 0.5
                if entry["max_ulp"] > bound or entry.get("not_correctly_rounded"):
                    problems.append(f"{where}: {entry['max_ulp']:.3f} ULP > {bound:g} or not correctly rounded")
                if CONTRACT[func_name].never_flushed and entry["flushed_to_zero"]:
                    problems.append(f"{where}: {entry['flushed_to_zero']} results flushed to 0")
    for search in report["worst_case"]["results"]:
        for path, entry in search["paths"].items():
            if entry["max_ulp"] > CONTRACT[search["function"]].max_ulp:
                problems.append(
                    f"{search['function']} {search['dtype']} [{path}]: {entry['max_ulp']:.4f} ULP at "
                    f"x = {entry['worst_input']!r} (worst-case search)"
                )
    return problems


# ------------------------------------------------------------------------------------------------ reporting


def format_ulps(ulps: float) -> str:
    """A maximum ULP error for a table cell (also benchmarks/torch_accuracy.py's)."""
    return "inf" if math.isinf(ulps) else f"{ulps:.2f}" if ulps < 100 else f"{ulps:.1e}"


def counts_suffix(entry: dict[str, Any], flushes: bool = True) -> str:
    """ ", N flushed to 0" (when ``flushes``) and ", N not CR" / " CR" of a result entry, for a table cell."""
    text = f", {entry['flushed_to_zero']:,} flushed to 0" if flushes and entry["flushed_to_zero"] else ""
    if entry.get("not_correctly_rounded"):
        return text + f", {entry['not_correctly_rounded']:,} not CR"
    return text + (" CR" if "not_correctly_rounded" in entry else "")


def _cell(entry: dict[str, Any] | None, func_name: str, input_dtype: str) -> str:
    if entry is None:
        return "—"
    text = format_ulps(entry["max_ulp"])
    if entry["dtype"] != input_dtype:
        text += f" (in {entry['dtype']})"
    return text + counts_suffix(entry, flushes=func_name in DERIVATIVES)


def _rows(functions: dict[str, Any]) -> list[list[str]]:
    rows = []
    for func_name in FUNCTIONS:
        for impl, per_dtype in functions[func_name].items():
            rows.append([func_name, impl] + [_cell(per_dtype.get(d), func_name, d) for d in DTYPES])
    return rows


_TITLES = {
    "anchor": "Max error in ULP vs mpmath, {points:,} points per dtype (½ over ±log(max), ½ N(0, 10))",
    "range": "Max error in ULP vs mpmath over the whole range (float64/float32: ~{points:,} points from the "
    "smallest subnormal to max plus hard cases; float16/bfloat16: all 65,536 inputs)",
}
_NOTES = (
    "ULP = spacing of the result's dtype at the exact value (subnormal spacing included), measured against the "
    'unrounded mpmath value. CR: correctly rounded on every input. "flushed to 0": the result is 0 although the '
    "true value is more than half the smallest subnormal. scipy.special returns float64 for float16 and bfloat16 "
    "input, so it is measured in float64 there. The derivatives of scipy.special are the backprop forms computed "
    "from its output y = expit(x): y·(1−y) and y·(1−y)·(1−2y); torch's are its autograd (y·(1−y) internally)."
)


_WORST_TITLE = (
    "Worst case of σ and σ' in float64 and float32: {fuzz:,} fixed-seed inputs per dtype plus the hard cases, "
    "each screened with a double-double reference, the 16 largest errors of each path recomputed with mpmath"
)
_WORST_NOTE = (
    "Inputs (`fuzz_inputs`, seed {seed}): ½ uniform from where σ rounds to 0 to where it rounds to 1, ¼ uniform "
    "over [log(tiny) − 1, log(tiny) + 9] (σ just above the smallest normal number, −709.4 to −699.4 in float64, "
    'where the largest errors are), ¼ N(0, 10); the hard cases include x = {known}. "> ½ ULP": inputs whose '
    "result is not the nearest float (by the double-double estimate)."
)


def _tables(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, columns, rows) of every table of the report."""
    columns = ["function", "implementation", *DTYPES]
    tables = [
        (title.format(points=report["points"]), columns, _rows(report["results"][set_name]))
        for set_name, title in _TITLES.items()
    ]
    worst = report["worst_case"]
    if worst["results"]:
        rows = []
        for r in worst["results"]:
            for path, e in r["paths"].items():
                cells = [f"{e['max_ulp']:.4f} at x = {e['worst_input']!r}"]
                cells += [f"{e['fuzz_max_ulp']:.4f} at x = {e['fuzz_worst_input']!r}", f"{e['above_half_ulp']:,}"]
                rows.append([r["function"], r["dtype"], path, *cells, f"{r['inputs']:,}", str(r["seconds"])])
        columns = ["function", "dtype", "path", "max ULP", "max ULP, fuzz alone", "> ½ ULP", "inputs", "seconds"]
        tables.append((_WORST_TITLE.format(fuzz=worst["fuzz"]), columns, rows))
    return tables


def to_markdown(report: dict[str, Any]) -> str:
    lines = []
    for title, columns, rows in _tables(report):
        lines += [f"**{title}**", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(row) + " |" for row in rows] + [""]
    worst = report["worst_case"]
    known = ", ".join(repr(x) for x in worst["known_worst"])
    lines += [_NOTES, "", _WORST_NOTE.format(seed=worst["seed"], known=known), ""] if worst["results"] else [_NOTES, ""]
    lines.append(
        f"sigmoidlab's {report['kernel']} path, measured on {report['machine']} in {report['seconds']} s "
        "(`python benchmarks/accuracy.py`)."
    )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=8000, help="points per dtype in the sampled sets")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="output directory")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--kernel", help="sigmoidlab's path: auto, scalar, avx2 or reference (default: as configured)")
    parser.add_argument("--fuzz", type=int, default=1 << 22, help="worst-case search inputs per dtype (0: none)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the worst-case search")
    args = parser.parse_args(argv)
    if args.points < 8:
        parser.error(f"--points must be at least 8, got {args.points}")
    if args.fuzz != 0 and not 64 <= args.fuzz <= 1 << 26:  # 2^26 inputs hold ~2 GB per search
        parser.error(f"--fuzz must be 0 or between 64 and {1 << 26:,}, got {args.fuzz}")
    if args.kernel:
        from sigmoidlab.functions import _loader

        try:
            _loader.set_kernel(args.kernel)
        except (ValueError, RuntimeError) as exc:
            parser.error(f"--kernel {args.kernel}: {exc}")

    report = measure(args.points, args.workers, args.fuzz, args.seed)
    console = Console(width=max(150, shutil.get_terminal_size().columns))  # the tables are wide
    for title, columns, rows in _tables(report):
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column, justify="left" if column in ("function", "implementation", "path") else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    console.print(_NOTES, f"sigmoidlab's path: {report['kernel']}.", style="dim")
    problems = contract_violations(report)
    report["contract_violations"] = problems
    console.print(*(problems or ["sigmoidlab meets the accuracy contract on every set and dtype."]), sep="\n")

    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / "accuracy.md", to_markdown(report))
    write_text(args.out / "accuracy.json", json.dumps(report, indent=2) + "\n")
    console.print(f"wrote {args.out / 'accuracy.md'} and {args.out / 'accuracy.json'} ({report['seconds']} s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
