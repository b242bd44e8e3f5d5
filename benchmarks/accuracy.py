"""Accuracy of the sigmoid family against mpmath, side by side with scipy.special and PyTorch.

    python benchmarks/accuracy.py [--points 8000] [--out benchmarks/results]

Prints two tables of the largest error in ULP per function, implementation and dtype and writes them to
``accuracy.md`` and ``accuracy.json``:

1. the anchor set of shared/README (``--points`` per dtype: half evenly over ±log(max), half from N(0, 10);
   for logit, p = σ of those points), with the number of points where a derivative is flushed to 0 although
   its true value is representable;
2. the whole range: float64 and float32 on ± a log-spaced grid from the smallest subnormal to the largest
   finite number, a grid over ±1.05·log(max), N(0, 10) and the hard cases; float16 and bfloat16 on all
   65,536 bit patterns, with the number of results that are not correctly rounded.

The pieces are importable, so the tests and the compiled kernels are measured with the same ruler:
:func:`reference_values`, :func:`ulp_error`, :func:`flushed_to_zero`, :func:`round_mpf`,
:func:`correctly_rounded` and the input sets :func:`anchor_points`, :func:`range_points`, :func:`all_values`.

The error of a result y in dtype D is |y − v| / ulp_D(v), where v is the exact value (mpmath) and
ulp_D(v) = 2^(max(⌊log₂|v|⌋, emin) − p + 1) is the spacing of D at |v|, subnormal spacing included. It is
computed in mpmath from the unrounded v: against a reference rounded to D first, a 0.503-ULP error would
read as 1 ULP.

The reference is the textbook formula evaluated by mpmath with 64 guard bits above the requested ``prec``,
which keeps it within 2^-prec relative of the exact value: the formulas only multiply, divide and add
positive terms, except logit next to ½, where an error of 2^-prec in p/(1−p) becomes 2^-prec/|logit(p)|,
at most 2^(55−prec) for float64 input. Correct rounding (float16, bfloat16) is decided with Ziv's strategy:
a value computed to within 2^-prec rounds like the exact value unless it lies within that distance of a
midpoint between two neighbours of D, and only then is it recomputed with twice the precision. So 100
bits (instead of 200) are enough for an 11- or 8-bit format, and the answer is still proven for every
input. The loop ends because no exact value is a midpoint: for a binary float x ≠ 0 these functions are
transcendental (Lindemann–Weierstrass), and at x = 0 and p = ½ they are exactly representable.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import ml_dtypes
import mpmath
import numpy as np
from mpmath import mp
from scipy.special import expit

from sigmoidlab._atomic import write_text

GUARD_BITS = 64
MAX_PREC = 6400
FUNCTIONS = ("sigmoid", "sigmoid_grad", "sigmoid_second_grad", "log_sigmoid", "softplus", "logit")
DERIVATIVES = ("sigmoid_grad", "sigmoid_second_grad")
# The functions that must never return 0 where the true value is representable (the others are within 1 ULP).
NEVER_FLUSHED = ("sigmoid_grad", "sigmoid_second_grad", "logit")
DTYPES = {
    "float64": np.dtype(np.float64),
    "float32": np.dtype(np.float32),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
}
WIDE_DTYPES = ("float64", "float32")
NARROW_DTYPES = ("float16", "bfloat16")
# The contract of shared/README: max ULP in float64/float32; float16 and bfloat16 are correctly rounded.
CONTRACT_ULP = {
    "sigmoid": 1.0,
    "log_sigmoid": 1.0,
    "softplus": 1.0,
    "sigmoid_grad": 2.0,
    "sigmoid_second_grad": 2.0,
    "logit": 2.0,
}


# ---------------------------------------------------------------------------------------------- reference


def _mp_sigmoid(x: mpmath.mpf) -> mpmath.mpf:
    return 1 / (1 + mp.exp(-x))


def _mp_logit(p: mpmath.mpf) -> mpmath.mpf:
    if p < 0 or p > 1:
        return mp.nan
    if p in (0, 1):
        return mp.inf if p else mp.ninf
    return mp.log(p / (1 - p))


def _mp_sigmoid_grad(x: mpmath.mpf) -> mpmath.mpf:
    # σ(x)·(1 − σ(x)) = e^(−x)/(1 + e^(−x))²: the same number, without the cancellation in 1 − σ(x).
    e = mp.exp(-x)
    return e / (1 + e) ** 2


_FORMULAS: dict[str, Callable[[mpmath.mpf], mpmath.mpf]] = {
    "sigmoid": _mp_sigmoid,
    "sigmoid_grad": _mp_sigmoid_grad,
    # σ'(x)·(1 − 2σ(x)) with 1 − 2σ(x) = −tanh(x/2), which mpmath evaluates to full relative accuracy near 0.
    "sigmoid_second_grad": lambda x: -_mp_sigmoid_grad(x) * mp.tanh(x / 2),
    "log_sigmoid": lambda x: -mp.log1p(mp.exp(-x)),
    "softplus": lambda x: mp.log1p(mp.exp(x)),
    "logit": _mp_logit,
}


# σ' is even and σ'' is odd: the two costliest references are computed once per |x|.
_PARITY = {"sigmoid_grad": 1, "sigmoid_second_grad": -1}


def _as_list(xs: Any) -> list:
    """Inputs as Python floats (exact for every binary dtype up to float64) or mpf, as given."""
    if isinstance(xs, list | tuple):
        return list(xs)
    with np.errstate(invalid="ignore"):  # converting a signalling NaN raises "invalid"
        return np.asarray(xs).astype(np.float64).ravel().tolist()


def reference_values(func_name: str, xs: Any, prec: int = 200) -> list[mpmath.mpf]:
    """The exact value of ``func_name`` at each input, as an mpf within 2^-prec relative of the truth.

    ``xs`` is an array of any float dtype (bfloat16 included), a list of floats, or a list of mpf. Infinite
    inputs give the limits (σ(−inf) = 0, softplus(inf) = inf, ...), NaN gives NaN, logit outside [0, 1] NaN.
    """
    formula = _FORMULAS[func_name]
    parity = _PARITY.get(func_name)
    known: dict[Any, mpmath.mpf] = {}
    values = []
    with mp.workprec(prec + GUARD_BITS):
        for x in map(mp.mpf, _as_list(xs)):
            if mp.isnan(x):
                values.append(mp.nan)
            elif parity is None:
                values.append(formula(x))
            else:  # f(−x) = ±f(x): evaluate once per |x|
                if abs(x) not in known:
                    known[abs(x)] = formula(abs(x))
                values.append(known[abs(x)] if x >= 0 else parity * known[abs(x)])
    return values


# ---------------------------------------------------------------------------------------- rounding, ULPs


def _format(dtype: Any) -> tuple[int, int, int]:
    """(p, emin, emax): significand bits with the hidden one, exponents of the smallest and largest binade."""
    info = ml_dtypes.finfo(np.dtype(dtype))
    return info.nmant + 1, info.minexp, info.maxexp - 1


def ulp(v: mpmath.mpf, dtype: Any) -> mpmath.mpf:
    """The spacing of ``dtype`` at |v|: 2^(max(⌊log₂|v|⌋, emin) − p + 1), the subnormal spacing below emin."""
    bits, emin, _ = _format(dtype)
    exponent = mp.frexp(v)[1] - 1 if v else emin
    return mp.ldexp(1, max(exponent, emin) - bits + 1)


def round_mpf(v: mpmath.mpf, dtype: Any, accuracy_bits: int | None = None) -> tuple[float, bool]:
    """``v`` rounded to the nearest ``dtype`` value (ties to even, overflow to inf), returned as a float.

    The second item says whether every number within a relative 2^-accuracy_bits of ``v`` rounds the same
    way (always true when ``accuracy_bits`` is None): that is what makes a rounded reference a proof.
    """
    if not mp.isfinite(v) or not v:
        return float(v), True
    bits, emin, emax = _format(dtype)
    sign, man, exp, bitlen = v._mpf_  # |v| = man·2^exp exactly, man has bitlen bits
    quantum = max(exp + bitlen - 1, emin) - bits + 1  # log2 of the spacing of dtype at |v|
    shift = quantum - exp
    if shift <= 0:  # v is a multiple of the spacing: exactly representable (or too large)
        n, safe = man << -shift, True
    elif shift > bitlen + 1:  # |v| < spacing/4: rounds to 0, far from the midpoint (and no 2^shift to build)
        n, safe = 0, True
    else:
        n, rem, half = man >> shift, man & ((1 << shift) - 1), 1 << (shift - 1)
        if rem > half or (rem == half and n & 1):
            n += 1
        # The distance to the midpoint, |rem − half|·2^exp, must exceed the error bound man·2^(exp−accuracy_bits)
        # (with a factor 2 to spare).
        safe = accuracy_bits is None or (abs(rem - half) << (accuracy_bits - 1)) > man
    result = math.inf if n.bit_length() + quantum > emax + 1 else math.ldexp(n, quantum)
    return (-result if sign else result), safe


def correctly_rounded(
    func_name: str, xs: Any, dtype: Any, prec: int = 100, exact: Sequence[mpmath.mpf] | None = None
) -> np.ndarray:
    """The exact ``func_name(xs)`` correctly rounded to ``dtype``, proven point by point (Ziv's strategy).

    ``exact`` may pass values already computed by :func:`reference_values` at ``prec``; only the points too
    close to a midpoint are recomputed, with the precision doubled until the rounding is certain.
    """
    inputs = _as_list(xs)
    exact = reference_values(func_name, inputs, prec) if exact is None else exact
    out = np.empty(len(inputs))
    for i, v in enumerate(exact):
        bits = prec
        out[i], safe = round_mpf(v, dtype, bits)
        while not safe:
            bits *= 2
            if bits > MAX_PREC:
                raise ArithmeticError(f"{func_name}({inputs[i]!r}) is within 2^-{MAX_PREC} of a {dtype} midpoint")
            out[i], safe = round_mpf(reference_values(func_name, [inputs[i]], bits)[0], dtype, bits)
    return out.astype(dtype).reshape(np.shape(xs) if isinstance(xs, np.ndarray) else -1)


def ulp_error(got: Any, exact: Sequence[mpmath.mpf], dtype: Any = None) -> np.ndarray:
    """|got − exact| / ulp(exact) per element, as float64, in ``dtype`` (default: got's own dtype).

    NaN against NaN and an infinity against the same infinity count 0; any other mismatch with a non-finite
    value counts inf.
    """
    got = np.asarray(got)
    dtype = got.dtype if dtype is None else np.dtype(dtype)
    values = got.astype(np.float64).ravel().tolist()
    errors = np.empty(len(values))
    with mp.workprec(113):
        for i, (y, v) in enumerate(zip(values, exact, strict=True)):
            if math.isfinite(y) and mp.isfinite(v):
                errors[i] = float(abs(mp.mpf(y) - v) / ulp(v, dtype))
            else:
                errors[i] = 0.0 if y == v or (math.isnan(y) and mp.isnan(v)) else math.inf
    return errors.reshape(got.shape)


def flushed_to_zero(got: Any, exact: Sequence[mpmath.mpf], dtype: Any = None) -> np.ndarray:
    """Where the result is 0 although the exact value is representable (rounds to a nonzero number)."""
    got = np.asarray(got)
    half_subnormal = mp.mpf(float(ml_dtypes.finfo(got.dtype if dtype is None else dtype).smallest_subnormal)) / 2
    # Above half the smallest subnormal the correct rounding is not 0 (at exactly half it is: ties to even).
    representable = np.array([mp.isfinite(v) and abs(v) > half_subnormal for v in exact], dtype=bool)
    return (got == 0).ravel() & representable


# ------------------------------------------------------------------------------------------------ inputs


def _info(dtype: Any) -> ml_dtypes.finfo:
    return ml_dtypes.finfo(np.dtype(dtype))


def _neighbours(values: Sequence[float], dtype: Any, k: int = 4) -> np.ndarray:
    """Each value rounded to ``dtype`` and its k neighbours on either side (adjacent bit patterns)."""
    dtype = np.dtype(dtype)
    uint = np.dtype(f"uint{8 * dtype.itemsize}")
    base = np.asarray(values, dtype=np.float64).astype(dtype).view(uint).astype(np.int64)
    patterns = (base[:, None] + np.arange(-k, k + 1)).ravel()
    result = patterns.astype(uint).view(dtype)
    return result[np.isfinite(result)]


def _flush_boundaries() -> list[float]:
    """Where some dtype's results start to round to 1 or 0 or lose normal range: the hard region of every dtype.

    log(2^p) and log(2^(p+1)) (σ rounds to 1, y·(1−y) flushes: 16.6 in float32, 36.7 in float64),
    log(max) (709.8, 88.7), −log(tiny) (708.4, 87.3), −log(smallest subnormal) (744.4, 103.3) and
    −log(subnormal/2) (745.1, 104.0), for all four dtypes.
    """
    out = []
    for dtype in DTYPES.values():
        info = _info(dtype)
        bits = info.nmant + 1
        sub = float(info.smallest_subnormal)
        out += [bits * math.log(2), (bits + 1) * math.log(2), math.log(float(info.max))]
        out += [-math.log(float(info.smallest_normal)), -math.log(sub), -math.log(sub) + math.log(2)]
    return out


def hard_cases(func_name: str, dtype: Any) -> np.ndarray:
    """0, −0, ±inf, NaN, subnormals, the flush boundaries of every dtype and their neighbours, in ``dtype``."""
    info = _info(dtype)
    big, tiny, sub = float(info.max), float(info.smallest_normal), float(info.smallest_subnormal)
    if func_name == "logit":
        eps = float(info.eps)
        inside = [0.0, sub, 2 * sub, tiny, 1e-300, 1e-30, 1e-8, 0.25, 0.5, 0.75, 1 - eps / 2, 1.0]
        outside = [-0.0, -sub, -0.5, -1.0, 1 + eps, 2.0, big, -big, math.inf, -math.inf, math.nan]
        specials = np.array(inside + outside)
        near_one = 1 - np.arange(1, 33) * eps / 2
        values = np.concatenate([specials, _neighbours([0.25, 0.5, 0.75], dtype, 8), near_one])
    else:
        magnitudes = [0.0, tiny, 1e-300, 1e-30, 1e-8, float(info.eps), 0.5, 1.0, math.log(2 + math.sqrt(3))]
        magnitudes += [2.0, 40.0, 700.0, 720.0, 1e30, 1e300, big, math.inf]
        boundaries = _neighbours([b for b in _flush_boundaries() if b < big], dtype)
        # Near-ties: σ(x) ≈ ½ + x/4 and σ''(x) ≈ −x/8 land next to a midpoint of the format when x is a short
        # multiple of the spacing at ½ or of the smallest subnormal; the exact value misses it by x³/48 or 5x³/96.
        odd = np.arange(1, 16, 2)
        ties = [np.arange(1, 33) * sub, odd * float(info.eps) / 2, odd * float(info.eps), odd * float(info.eps) * 2]
        positive = np.concatenate([magnitudes, boundaries.astype(np.float64), *ties])
        values = np.concatenate([positive, -positive, [math.nan]])
    with np.errstate(over="ignore", under="ignore"):  # 1e300 becomes inf in float32, 1e-300 becomes 0
        return np.unique(values.astype(dtype))


def anchor_points(func_name: str, dtype: Any, n: int = 8000, seed: int = 0) -> np.ndarray:
    """The input set of shared/README: n/2 points evenly over ±log(max) and n/2 from N(0, 10), in ``dtype``.

    For logit the inputs are p = σ(x) of those points (rounded to ``dtype``).
    """
    limit = math.log(float(_info(dtype).max))
    rng = np.random.default_rng(seed)
    x = np.concatenate([np.linspace(-limit, limit, n // 2), rng.normal(0.0, 10.0, n - n // 2)])
    if func_name == "logit":
        x = expit(x)
    return x.astype(dtype)


def range_points(func_name: str, dtype: Any, n: int = 8000, seed: int = 0) -> np.ndarray:
    """About n points over the whole representable range of ``dtype`` plus :func:`hard_cases`.

    x: ± a log-spaced grid from the smallest subnormal to the largest finite value, an even grid over
    ±1.05·log(max) (past the flush boundaries) and N(0, 10). p (logit): uniform on [0, 1], a log-spaced grid
    from the smallest subnormal to ½, the same grid reflected to just below 1, and σ of N(0, 10).
    """
    info = _info(dtype)
    big, sub, eps = float(info.max), float(info.smallest_subnormal), float(info.eps)
    rng = np.random.default_rng(seed)
    quarter = n // 4
    if func_name == "logit":
        with np.errstate(under="ignore"):
            small = np.logspace(math.log10(sub), math.log10(0.5), quarter)
        near_one = 1 - np.logspace(math.log10(eps / 4), math.log10(0.5), quarter)
        sigma = expit(rng.normal(0.0, 10.0, quarter))
        values = np.concatenate([rng.uniform(0.0, 1.0, n - 3 * quarter), small, near_one, sigma])
    else:
        with np.errstate(over="ignore", under="ignore"):  # the grid's ends may round past max and below sub
            magnitudes = np.minimum(np.logspace(math.log10(sub), math.log10(big), quarter), big)
        limit = 1.05 * math.log(big)
        values = np.concatenate(
            [magnitudes, -magnitudes, np.linspace(-limit, limit, quarter), rng.normal(0.0, 10.0, n - 3 * quarter)]
        )
    with np.errstate(under="ignore"):  # the log grid starts at the smallest subnormal
        points = values.astype(dtype)
    return np.concatenate([points, hard_cases(func_name, dtype)])


def all_values(dtype: Any) -> np.ndarray:
    """Every bit pattern of a 16-bit dtype (65,536 values, NaNs and ±inf included)."""
    return np.arange(1 << 16, dtype=np.uint16).view(np.dtype(dtype))


# ------------------------------------------------------------------------------------------ implementations


def _torch_implementations() -> dict[str, dict[str, Callable]]:
    import torch
    import torch.nn.functional as F

    torch_dtypes = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16}
    torch_dtypes["bfloat16"] = torch.bfloat16

    def to_torch(x: np.ndarray) -> torch.Tensor:
        # NumPy has no bfloat16 for torch.from_numpy: go through float32, which holds every bfloat16 exactly.
        return torch.from_numpy(np.ascontiguousarray(x).astype(np.float32)).to(torch_dtypes[x.dtype.name])

    def to_numpy(t: torch.Tensor, dtype: np.dtype) -> np.ndarray:
        return t.detach().to(torch.float32 if dtype != np.float64 else torch.float64).numpy().astype(dtype)

    def wrap(f: Callable) -> Callable:
        return lambda x: to_numpy(f(to_torch(x)), x.dtype)

    def autograd(order: int) -> Callable:
        def derivative(x: np.ndarray) -> np.ndarray:
            t = to_torch(x).requires_grad_(True)
            y = torch.sigmoid(t)
            for _ in range(order):
                (y,) = torch.autograd.grad(y, t, torch.ones_like(y), create_graph=True)
            return to_numpy(y, x.dtype)

        return derivative

    return {
        "torch": {
            "sigmoid": wrap(torch.sigmoid),
            "log_sigmoid": wrap(F.logsigmoid),
            "softplus": wrap(F.softplus),
            "logit": wrap(torch.logit),
            "sigmoid_grad": autograd(1),
            "sigmoid_second_grad": autograd(2),
        }
    }


def implementations() -> dict[str, dict[str, Callable]]:
    """Implementation name -> {function name -> callable on a NumPy array}; torch only when installed."""
    import scipy.special as sc

    import sigmoidlab as sl

    def from_output(order: int) -> Callable:
        def derivative(x: np.ndarray) -> np.ndarray:
            y = sc.expit(x)
            return y * (1 - y) if order == 1 else y * (1 - y) * (1 - 2 * y)

        return derivative

    impls = {
        "sigmoidlab": {name: getattr(sl, name) for name in FUNCTIONS},
        "sigmoidlab y·(1−y)": {"sigmoid_grad": lambda x: sl.sigmoid_grad_from_output(sl.sigmoid(x))},
        "scipy.special": {
            "sigmoid": sc.expit,
            "log_sigmoid": sc.log_expit,
            "softplus": sc.softplus,
            "logit": sc.logit,
            "sigmoid_grad": from_output(1),
            "sigmoid_second_grad": from_output(2),
        },
    }
    with contextlib.suppress(ImportError):  # torch is optional
        impls |= _torch_implementations()
    return impls


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


def measure(points: int = 8000, workers: int | None = None) -> dict[str, Any]:
    """Every (set, function, dtype, implementation) measured; the result is what accuracy.json holds."""
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        measured = list(pool.map(_measure, _jobs(points)))
    table: dict[str, Any] = {"anchor": {}, "range": {}}
    for m in measured:
        for impl, entry in m["results"].items():
            table[m["set"]].setdefault(m["function"], {}).setdefault(impl, {})[m["dtype"]] = entry
    from sigmoidlab.functions import _ufuncs

    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "kernel": _ufuncs.get_kernel(),
        "points": points,
        "reference": "mpmath, 200 bits (100 bits with proven rounding for the exhaustive float16/bfloat16 sets)",
        "seconds": round(time.perf_counter() - start, 1),
        "results": table,
    }


def contract_violations(report: dict[str, Any]) -> list[str]:
    """Where sigmoidlab misses the contract in the measured report (empty when it holds everywhere)."""
    problems = []
    for set_name, functions in report["results"].items():
        for func_name, impls in functions.items():
            for dtype_name, entry in impls["sigmoidlab"].items():
                where = f"{func_name} {dtype_name} ({set_name} set, worst at x = {entry['worst_input']!r})"
                bound = CONTRACT_ULP[func_name] if dtype_name in WIDE_DTYPES else 0.5
                if entry["max_ulp"] > bound or entry.get("not_correctly_rounded"):
                    problems.append(f"{where}: {entry['max_ulp']:.3f} ULP > {bound:g} or not correctly rounded")
                if func_name in NEVER_FLUSHED and entry["flushed_to_zero"]:
                    problems.append(f"{where}: {entry['flushed_to_zero']} results flushed to 0")
    return problems


# ------------------------------------------------------------------------------------------------ reporting


def _cell(entry: dict[str, Any] | None, func_name: str, input_dtype: str) -> str:
    if entry is None:
        return "—"
    ulps = entry["max_ulp"]
    text = "inf" if math.isinf(ulps) else f"{ulps:.2f}" if ulps < 100 else f"{ulps:.1e}"
    if entry["dtype"] != input_dtype:
        text += f" (in {entry['dtype']})"
    if func_name in DERIVATIVES and entry["flushed_to_zero"]:
        text += f", {entry['flushed_to_zero']:,} flushed to 0"
    if entry.get("not_correctly_rounded"):
        text += f", {entry['not_correctly_rounded']:,} not CR"
    elif "not_correctly_rounded" in entry:
        text += " CR"
    return text


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


def to_markdown(report: dict[str, Any]) -> str:
    lines = []
    for set_name, title in _TITLES.items():
        lines += [f"**{title.format(points=report['points'])}**", ""]
        lines += ["| function | implementation | " + " | ".join(DTYPES) + " |", "|---|---|" + "---|" * len(DTYPES)]
        lines += ["| " + " | ".join(row) + " |" for row in _rows(report["results"][set_name])]
        lines.append("")
    lines += [
        _NOTES,
        "",
        f"sigmoidlab's {report['kernel']} path, measured on {report['machine']} in {report['seconds']} s "
        "(`python benchmarks/accuracy.py`).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=8000, help="points per dtype in the sampled sets")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="output directory")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--kernel", help="sigmoidlab's path: auto, scalar, avx2 or reference (default: as configured)")
    args = parser.parse_args(argv)
    if args.points < 8:
        parser.error(f"--points must be at least 8, got {args.points}")
    if args.kernel:
        from sigmoidlab.functions import _ufuncs

        try:
            _ufuncs.set_kernel(args.kernel)
        except (ValueError, RuntimeError) as exc:
            parser.error(f"--kernel {args.kernel}: {exc}")

    report = measure(args.points, args.workers)
    console = Console(width=max(150, shutil.get_terminal_size().columns))  # the tables are wide
    for set_name, title in _TITLES.items():
        table = Table(title=title.format(points=args.points), title_justify="left")
        for column in ["function", "implementation", *DTYPES]:
            table.add_column(column, justify="left" if column in ("function", "implementation") else "right")
        for row in _rows(report["results"][set_name]):
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
