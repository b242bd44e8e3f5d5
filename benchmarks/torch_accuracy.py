"""Accuracy of sigmoidlab.torch against mpmath, beside torch's own autograd, and where torch's gradient flushes.

    python benchmarks/torch_accuracy.py [--points 8000] [--workers 2] [--out benchmarks/results]

Writes ``torch_accuracy.md`` and ``torch_accuracy.json``:

1. the flush table: the smallest x ≥ 0 from which torch's autograd gives exactly 0 for σ' and tanh' (every
   float16/bfloat16 value scanned; float32 to the exact float), with the true derivative there;
2. the largest error in ULP of f, f' and f'' (f = σ, tanh, log σ, SiLU), sigmoidlab.torch beside torch's
   autograd, on the whole range: every float16/bfloat16 value, and for float32/float64 a log grid from the
   smallest subnormal to max, an even grid past the underflow points, N(0, 10) and every float next to the flush
   and underflow points; with the count of results flushed to 0 and (float16/bfloat16) not correctly rounded;
3. the special inputs ±inf, ±0 and NaN, each implementation's value beside the limit.

Derivatives are taken through autograd exactly as a user would (``torch.autograd.grad`` with a gradient of
ones, ``create_graph=True`` for f''). The reference is mpmath at 200 bits (100 bits plus Ziv's rounding test
for the 16-bit formats, via ``accuracy.round_mpf``); ULP errors come from ``accuracy.ulp_error``. The pieces
are importable and the tests use them: :func:`reference`, :func:`correctly_rounded`, :func:`evaluate`,
:func:`flush_point`, :func:`points`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import ml_dtypes
import mpmath
import numpy as np
import torch
from mpmath import mp

import sigmoidlab.torch as st
from accuracy import all_values, counts_suffix, flushed_to_zero, format_ulps, ulp_error
from sigmoidlab._atomic import write_text
from sigmoidlab._testing.accuracy import round_proven

FUNCTIONS = ("sigmoid", "tanh", "log_sigmoid", "silu")
ORDERS = (0, 1, 2)
DTYPES = {"float64": np.float64, "float32": np.float32, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16}
NARROW = ("float16", "bfloat16")
TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16}
TORCH_DTYPES["bfloat16"] = torch.bfloat16
GUARD_BITS = 64
IMPLEMENTATIONS: dict[str, dict[str, Callable[[torch.Tensor], torch.Tensor]]] = {
    "sigmoidlab.torch": {"sigmoid": st.sigmoid, "tanh": st.tanh, "log_sigmoid": st.log_sigmoid, "silu": st.silu},
    "torch": {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "log_sigmoid": torch.nn.functional.logsigmoid,
        "silu": torch.nn.functional.silu,
    },
}

# ---------------------------------------------------------------------------------------------- reference


def _sg(x: mpmath.mpf) -> mpmath.mpf:  # σ'(x) = e^(−|x|)/(1 + e^(−|x|))²: no cancellation in 1 − σ
    e = mp.exp(-abs(x))
    return e / (1 + e) ** 2


def _sigma(x: mpmath.mpf) -> mpmath.mpf:
    return 1 / (1 + mp.exp(-x))


def _th1(x: mpmath.mpf) -> mpmath.mpf:  # tanh'(x) = sech²(x) = 4e^(−2|x|)/(1 + e^(−2|x|))²
    e = mp.exp(-2 * abs(x))
    return 4 * e / (1 + e) ** 2


def _silu_grad(x: mpmath.mpf) -> mpmath.mpf:
    return _sigma(x) * (1 + x * _sigma(-x))


_FORMULAS: dict[tuple[str, int], Callable[[mpmath.mpf], mpmath.mpf]] = {
    ("sigmoid", 0): _sigma,
    ("sigmoid", 1): _sg,
    ("sigmoid", 2): lambda x: -_sg(x) * mp.tanh(x / 2),
    ("tanh", 0): mp.tanh,
    ("tanh", 1): _th1,
    ("tanh", 2): lambda x: -2 * mp.tanh(x) * _th1(x),
    ("log_sigmoid", 0): lambda x: -mp.log1p(mp.exp(-x)),
    ("log_sigmoid", 1): lambda x: _sigma(-x),
    ("log_sigmoid", 2): lambda x: -_sg(x),
    ("silu", 0): lambda x: x * _sigma(x),
    ("silu", 1): _silu_grad,
    ("silu", 2): lambda x: _sg(x) * (2 - x * mp.tanh(x / 2)),
}
# f(−x) = ±f(x): the even and odd ones are evaluated once per |x|.
_PARITY = {("sigmoid", 1): 1, ("sigmoid", 2): -1, ("tanh", 0): -1, ("tanh", 1): 1, ("tanh", 2): -1}
# The limits at ±inf (x·σ(x) and its derivatives are indeterminate forms there).
_LIMITS = {
    ("silu", 0): (mp.mpf(0), mp.inf),
    ("silu", 1): (mp.mpf(0), mp.mpf(1)),
    ("silu", 2): (mp.mpf(0), mp.mpf(0)),
}


def _as_floats(xs: Any) -> list[float]:
    return np.asarray(xs).astype(np.float64).ravel().tolist()


def reference(name: str, order: int, xs: Any, prec: int = 200) -> list[mpmath.mpf]:
    """The exact d^order/dx^order f(x) at each input, within 2^-prec relative (mpmath, 64 guard bits).

    Near the zeros of silu' (x ≈ −1.2785) and silu'' (x ≈ ±2.3994) the formulas cancel; the guard bits cover
    the loss for every input closer than 2^-60 relative.
    """
    formula, parity = _FORMULAS[name, order], _PARITY.get((name, order))
    known: dict[float, mpmath.mpf] = {}
    values = []
    with mp.workprec(prec + GUARD_BITS):
        for v in _as_floats(xs):
            if math.isnan(v):
                values.append(mp.nan)
            elif math.isinf(v) and (name, order) in _LIMITS:
                values.append(_LIMITS[name, order][v > 0])
            elif parity is None:
                values.append(formula(mp.mpf(v)))
            else:
                if abs(v) not in known:
                    known[abs(v)] = formula(mp.mpf(abs(v)))
                values.append(known[abs(v)] if v >= 0 else parity * known[abs(v)])
    return values


def correctly_rounded(
    name: str, order: int, xs: Any, dtype: Any, prec: int = 100, exact: Sequence[mpmath.mpf] | None = None
) -> np.ndarray:
    """The exact value correctly rounded to ``dtype``, each rounding proven (recomputed with twice the
    precision while the value lies too close to a midpoint: Ziv's strategy)."""
    inputs = _as_floats(xs)
    exact = reference(name, order, inputs, prec) if exact is None else exact
    out = round_proven(
        exact,
        lambda i, bits: reference(name, order, [inputs[i]], bits)[0],
        dtype,
        prec,
        lambda i: f"{name}^({order})({inputs[i]!r})",
    )
    return out.astype(dtype)


# ------------------------------------------------------------------------------------------------- inputs


def to_torch(x: np.ndarray) -> torch.Tensor:
    """A NumPy array (bfloat16 from ml_dtypes included) as a torch tensor of the same dtype, bit for bit."""
    if x.dtype == ml_dtypes.bfloat16:
        return torch.from_numpy(np.ascontiguousarray(x).view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(np.ascontiguousarray(x))


def to_numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()


def neighbours(values: Sequence[float], dtype: Any, k: int) -> np.ndarray:
    """Each value rounded to ``dtype`` and its k neighbours on either side (adjacent bit patterns), finite only."""
    dtype = np.dtype(dtype)
    uint = np.dtype(f"uint{8 * dtype.itemsize}")
    with np.errstate(over="ignore"):
        base = np.asarray(values, dtype=np.float64).astype(dtype).view(uint).astype(np.int64)
    result = (base[:, None] + np.arange(-k, k + 1)).ravel().astype(uint).view(dtype)
    return result[np.isfinite(result)]


def boundaries(dtype: Any) -> list[float]:
    """x ≥ 0 where something happens in ``dtype``: torch's flush points (σ and tanh round to 1: log 2^p and
    its half), the underflow of σ' (−log of the smallest normal and subnormal) and of tanh' (their halves)."""
    info = ml_dtypes.finfo(np.dtype(dtype))
    bits = info.nmant + 1
    tiny, sub = float(info.smallest_normal), float(info.smallest_subnormal)
    sigmoid_points = [bits * math.log(2), (bits + 1) * math.log(2), -math.log(tiny), -math.log(sub)]
    return sigmoid_points + [p / 2 for p in sigmoid_points] + [-math.log(sub) + math.log(2), 1.2785, 2.3994]


def points(dtype: Any, n: int = 8000, k: int = 64, seed: int = 0) -> np.ndarray:
    """The finite inputs measured in ``dtype``: every value of a 16-bit format; otherwise ± a log grid from
    the smallest subnormal to max, an even grid over ±1.1·(−log smallest subnormal), N(0, 10), and k floats
    either side of each :func:`boundaries` point, of both signs."""
    dtype = np.dtype(dtype)
    if dtype.itemsize == 2:
        values = all_values(dtype)
        return values[np.isfinite(values.astype(np.float32))]
    info = ml_dtypes.finfo(dtype)
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore", under="ignore"):
        logs = np.logspace(math.log10(float(info.smallest_subnormal)), math.log10(float(info.max)), n // 4)
        limit = -1.1 * math.log(float(info.smallest_subnormal))
        grid = np.concatenate([logs, np.linspace(0.0, limit, n // 4), rng.normal(0.0, 10.0, n // 2)])
        near = neighbours(boundaries(dtype), dtype, k).astype(np.float64)
        values = np.concatenate([grid, near, [0.0]]).astype(dtype)
    values = values[np.isfinite(values)]
    return np.unique(np.concatenate([values, -values]))


# ----------------------------------------------------------------------------------------------- measuring


def evaluate(impl: str, name: str, order: int, x: np.ndarray) -> np.ndarray:
    """f, f' or f'' of ``impl`` at x, through autograd as a user gets it, in x's dtype."""
    f = IMPLEMENTATIONS[impl][name]
    t = to_torch(x).clone().requires_grad_(order > 0)
    y = f(t)
    for k in range(order):
        (y,) = torch.autograd.grad(y, t, torch.ones_like(y), create_graph=k + 1 < order)
    return to_numpy(y)


def flush_point(name: str, dtype: str) -> float:
    """The smallest x ≥ 0 of ``dtype`` from which torch's autograd gradient of ``name`` is exactly 0 onwards."""
    f = IMPLEMENTATIONS["torch"][name]

    def grads(x: np.ndarray) -> np.ndarray:
        t = to_torch(x).clone().requires_grad_(True)
        f(t).sum().backward()
        return to_numpy(t.grad).astype(np.float64)

    if dtype in NARROW:  # every value from 0 to 32
        x = points(DTYPES[dtype])
        x = x[(x.astype(np.float64) >= 0) & (x.astype(np.float64) <= 32)]
    else:  # a 10^-3 grid, then every float around its first zero
        coarse = np.arange(0, 40, 1e-3).astype(DTYPES[dtype])
        first = coarse[np.flatnonzero(grads(coarse) == 0)[0]]
        x = np.sort(neighbours([float(first)], DTYPES[dtype], 20000))
    x = np.sort(x)
    nonzero = np.flatnonzero(grads(x) != 0)
    return float(x[nonzero[-1] + 1])


def _measure(job: tuple[str, int, str, np.ndarray]) -> dict[str, Any]:
    """Worker: the reference for one (function, order, dtype), then each implementation's largest error."""
    name, order, dtype_name, x = job
    torch.set_num_threads(1)
    narrow = dtype_name in NARROW
    exact = reference(name, order, x, 100 if narrow else 200)
    rounded = correctly_rounded(name, order, x, DTYPES[dtype_name], 100, exact) if narrow else None
    entries = {}
    for impl in IMPLEMENTATIONS:
        got = evaluate(impl, name, order, x)
        errors = ulp_error(got, exact)
        worst = int(np.argmax(errors))
        entry = {
            "points": int(x.size),
            "max_ulp": float(errors[worst]),
            "worst_input": float(x[worst]),
            "flushed_to_zero": int(flushed_to_zero(got, exact).sum()),
        }
        if rounded is not None:
            entry["not_correctly_rounded"] = int(np.sum((got != rounded) & ~(np.isnan(got) & np.isnan(rounded))))
        if dtype_name == "float64" and (name, order) in ROOTS:  # the contract's ULP bound holds away from the zeros
            away = np.all([np.abs(x - r) >= ROOT_WINDOW for r in ROOTS[name, order]], axis=0)
            entry["max_ulp_away_from_zeros"] = float(errors[away].max())
        entries[impl] = entry
    return {"function": name, "order": order, "dtype": dtype_name, "results": entries}


def flush_table() -> list[dict[str, Any]]:
    """Rows: function, dtype, torch's first zero x and the true derivative there, and sigmoidlab.torch's value."""
    rows = []
    for name in ("sigmoid", "tanh"):
        for dtype_name in ("bfloat16", "float16", "float32"):
            x0 = flush_point(name, dtype_name)
            x = np.array([x0], dtype=DTYPES[dtype_name])
            true = float(reference(name, 1, x, 100)[0])
            ours = float(evaluate("sigmoidlab.torch", name, 1, x)[0])
            rows.append({"function": name, "dtype": dtype_name, "torch_zero_from": x0, "true": true, "ours": ours})
    return rows


_SPECIALS = (-math.inf, -0.0, 0.0, math.inf, math.nan)


def specials() -> list[dict[str, Any]]:
    """Rows: function, order, impl and its float64 values at −inf, −0, +0, +inf, NaN (all dtypes agree)."""
    x = np.array(_SPECIALS)
    rows = []
    for name in FUNCTIONS:
        for order in ORDERS:
            limit = [float(v) for v in reference(name, order, x)]
            rows.append({"function": name, "order": order, "impl": "limit", "values": limit})
            for impl in IMPLEMENTATIONS:
                values = evaluate(impl, name, order, x).tolist()
                rows.append({"function": name, "order": order, "impl": impl, "values": values})
    return rows


def measure(n: int = 8000, workers: int | None = None) -> dict[str, Any]:
    start = time.perf_counter()
    jobs = [(f, o, d, points(DTYPES[d], n)) for d in DTYPES for f in FUNCTIONS for o in ORDERS]
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        measured = list(pool.map(_measure, sorted(jobs, key=lambda job: -job[3].size)))
    return {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "torch": torch.__version__,
        "points": n,
        "flush": flush_table(),
        "errors": measured,
        "specials": specials(),
        "seconds": round(time.perf_counter() - start, 1),
    }


# ---------------------------------------------------------------------------------------------- the contract

#: Largest error of sigmoidlab.torch's f' and f'' in ULP (float16/bfloat16: correctly rounded, 0.5).
CONTRACT_ULP = {"float64": 4.0, "float32": 2.0, "float16": 0.5, "bfloat16": 0.5}
# silu' and silu'' have zeros (x ≈ −1.2785; ±2.3994) where float64 input cancels: there the bound is absolute.
ROOTS = {("silu", 1): (-1.2784645427610738,), ("silu", 2): (-2.3993572805154676, 2.3993572805154676)}
ROOT_WINDOW = 0.125  # within this distance of a zero, the bound is 2^-52 absolute instead


def contract_violations(report: dict[str, Any]) -> list[str]:
    """Where sigmoidlab.torch's derivatives miss the contract in a measured report (empty when it holds)."""
    problems = []
    for m in report["errors"]:
        entry = m["results"]["sigmoidlab.torch"]
        if m["order"] == 0:
            continue  # the forward is torch's
        where = f"{m['function']} order {m['order']} {m['dtype']} (worst at x = {entry['worst_input']!r})"
        ulps = entry.get("max_ulp_away_from_zeros", entry["max_ulp"])
        if ulps > CONTRACT_ULP[m["dtype"]] or entry.get("not_correctly_rounded"):
            problems.append(f"{where}: {ulps:.3f} ULP, {entry.get('not_correctly_rounded', 0)} not CR")
        if entry["flushed_to_zero"]:
            problems.append(f"{where}: {entry['flushed_to_zero']} results flushed to 0")
    return problems


# ------------------------------------------------------------------------------------------------ reporting

_ORDER_MARK = ("", "'", "''")


def _cell(entry: dict[str, Any]) -> str:
    text = format_ulps(entry["max_ulp"])
    if "max_ulp_away_from_zeros" in entry:
        text += f" ({format_ulps(entry['max_ulp_away_from_zeros'])} from 1/8 away from its zeros)"
    return text + counts_suffix(entry)


def _fmt(v: float) -> str:
    return repr(v) if v == 0 or not math.isfinite(v) else f"{v:.3g}"


def to_markdown(report: dict[str, Any]) -> str:
    lines = ["**Where torch's autograd gradient becomes exactly 0 (first x ≥ 0 from which it stays 0)**", ""]
    lines += ["| function | dtype | torch: 0 from x = | true derivative there | sigmoidlab.torch there |"]
    lines += ["|---|---|---|---|---|"]
    for r in report["flush"]:
        lines.append(
            f"| {r['function']}' | {r['dtype']} | {r['torch_zero_from']:.2f} | {r['true']:.2g} | {r['ours']:.4g} |"
        )
    lines += ["", "**Max error in ULP vs mpmath over the whole range (float16/bfloat16: every finite input)**", ""]
    lines += ["| function | implementation | " + " | ".join(DTYPES) + " |", "|---|---|" + "---|" * len(DTYPES)]
    cells = {(m["function"], m["order"], m["dtype"]): m["results"] for m in report["errors"]}
    for name in FUNCTIONS:
        for order in ORDERS:
            for impl in IMPLEMENTATIONS:
                row = [_cell(cells[name, order, d][impl]) for d in DTYPES]
                lines.append(f"| {name}{_ORDER_MARK[order]} | {impl} | " + " | ".join(row) + " |")
    lines += ["", "**Special inputs (every dtype gives the same)**", ""]
    lines += ["| function | implementation | −inf | −0 | +0 | +inf | NaN |", "|---|---|---|---|---|---|---|"]
    for r in report["specials"]:
        values = " | ".join(_fmt(v) for v in r["values"])
        lines.append(f"| {r['function']}{_ORDER_MARK[r['order']]} | {r['impl']} | {values} |")
    lines += [
        "",
        "f' and f'' are what autograd returns (`torch.autograd.grad` with a gradient of ones; `create_graph=True` "
        "for f''). The forward values of sigmoidlab.torch are torch's own, bit for bit. ULP = spacing of the "
        "dtype at the exact value, subnormal spacing included; CR = correctly rounded on every input; "
        '"flushed to 0" = 0 where the exact value is at least half the smallest subnormal. float32/float64: '
        f"~{report['points']:,} points from the smallest subnormal to max plus every float next to the flush and "
        "underflow points. silu' and silu'' vanish at x ≈ −1.2785 and ±2.3994: next to those zeros a float64 "
        "input loses relative accuracy to cancellation in any float64 formula, torch's included (sigmoidlab.torch "
        "stays within 2^-52 absolute there, checked by the tests).",
        "",
        f"torch {report['torch']}, {report['machine']}, {report['seconds']} s (`python benchmarks/torch_accuracy.py`).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=8000, help="sampled points per float32/float64 set")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="output directory")
    args = parser.parse_args(argv)
    if args.points < 8:
        parser.error(f"--points must be at least 8, got {args.points}")
    report = measure(args.points, args.workers)
    report["contract_violations"] = contract_violations(report)
    markdown = to_markdown(report)
    print(markdown)
    print(*(report["contract_violations"] or ["sigmoidlab.torch meets the gradient contract everywhere."]), sep="\n")
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / "torch_accuracy.md", markdown)
    write_text(args.out / "torch_accuracy.json", json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out / 'torch_accuracy.md'} and {args.out / 'torch_accuracy.json'} ({report['seconds']} s)")
    return 1 if report["contract_violations"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
