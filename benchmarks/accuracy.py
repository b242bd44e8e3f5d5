"""Accuracy of the sigmoid family against mpmath, side by side with scipy.special and PyTorch.

    python benchmarks/accuracy.py [--points 8000] [--fuzz 4194304] [--seed 0] [--out benchmarks/results]

Prints three tables of the largest error in ULP per function, implementation and dtype and writes them to
``accuracy.md`` and ``accuracy.json``:

1. the anchor set of shared/README (``--points`` per dtype: half evenly over ±log(max), half from N(0, 10);
   for logit, p = σ of those points), with the number of points where a derivative is flushed to 0 although
   its true value is representable;
2. the whole range: float64 and float32 on ± a log-spaced grid from the smallest subnormal to the largest
   finite number, a grid over ±1.05·log(max), N(0, 10) and the hard cases; float16 and bfloat16 on all
   65,536 bit patterns, with the number of results that are not correctly rounded;
3. the worst case of σ and σ' in float64 and float32 on every kernel path (``--fuzz`` inputs per dtype, 4M by
   default, and ``--seed``): each input is screened with a double-double reference (:func:`dd_reference`, ~2^-95
   relative, vectorised) and the largest errors are recomputed with mpmath (:func:`worst_case_search`).

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
# |x| where σ, σ', log σ and softplus have their largest float64 errors: 0.7503 ULP (a 16-million-point fuzz,
# issue 10), 0.7522 (worst_case_search, 2^20 points), 0.7605 (a dense scan of 34 million points over [−708.5,
# −700]). The result, ≈ e^(−|x|), is just above the smallest normal number, and the last bits of the kernel's
# exp(−|x|) fall below it (σ(−x), σ'(x), log σ(x) ≈ −e^(−x), softplus(−x) ≈ e^(−x)).
KNOWN_WORST = (707.445954356504, 707.2224777109931, 707.3618105)
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
        magnitudes += [2.0, 40.0, 700.0, 720.0, 1e30, 1e300, big, math.inf, *KNOWN_WORST]
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
        # Each dtype as itself; only bfloat16, which torch.from_numpy cannot take, goes through float32 (exact).
        wide = np.ascontiguousarray(x).astype(np.float32 if x.dtype == DTYPES["bfloat16"] else x.dtype)
        return torch.from_numpy(wide).to(torch_dtypes[x.dtype.name])

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


# ---------------------------------------------------------------------------------------- worst-case search
# A fuzz of millions of inputs needs a reference much cheaper than mpmath: σ and σ' in double-double (a value is
# hi + lo, two float64, ~2^-100 relative), vectorised in NumPy, with the binary exponent kept apart so that the
# subnormal tail is measured as finely as the rest. The largest errors it finds are then confirmed with mpmath.

SEARCHED = ("sigmoid", "sigmoid_grad")
with mp.workprec(300):
    _LN2 = (float(mp.log(2)), float(mp.log(2) - float(mp.log(2))))
    _TAYLOR = [(float(c), float(c - float(c))) for c in (1 / mp.factorial(n) for n in range(9))]  # 1/n!, n ≤ 8


def _two_sum(a, b):  # a + b = s + err exactly
    s = a + b
    v = s - a
    return s, (a - (s - v)) + (b - v)


def _split(a):  # Dekker: a = hi + lo with 26-bit halves, so that their products are exact
    c = 134217729.0 * a
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a, b):  # a·b = p + err exactly
    p = a * b
    (ah, al), (bh, bl) = _split(a), _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _dd_add(a, b):  # for terms that do not cancel (all the additions below)
    s, e = _two_sum(a[0], b[0])
    return _two_sum(s, e + a[1] + b[1])


def _dd_mul(a, b):
    p, e = _two_prod(a[0], b[0])
    return _two_sum(p, e + (a[0] * b[1] + a[1] * b[0]))


def _dd_div(a, b):
    q = a[0] / b[0]
    p, e = _two_prod(q, b[0])
    residual = ((a[0] - p) - e + a[1]) - q * b[1]  # a − q·b: a[0] − p is exact (Sterbenz)
    return _two_sum(q, residual / b[0])


def _dd_exp_neg(a: np.ndarray) -> tuple[np.ndarray, tuple]:
    """exp(−a) for a ≥ 0 as (k, m): exp(−a) = m·2^k with m = hi + lo in [0.7, 1.5), ~2^-95 relative.

    a = k·ln2 − r with |r| ≤ ln2/2 (k·ln2 formed exactly), then exp(r) = exp(r/2^10)^(2^10) with the
    Taylor series of degree 8 at |r/2^10| < 3.4e-4 (truncation 2^-107).
    """
    k = np.rint(a / _LN2[0])
    p, e = _two_prod(k, _LN2[0])
    hi, lo = _two_sum(p, -a)  # exact
    r = _two_sum(hi, lo + e + k * _LN2[1])
    s = (np.ldexp(r[0], -10), np.ldexp(r[1], -10))
    m = (np.full_like(a, _TAYLOR[-1][0]), np.full_like(a, _TAYLOR[-1][1]))
    for c in reversed(_TAYLOR[:-1]):
        m = _dd_add(_dd_mul(m, s), c)
    for _ in range(10):
        m = _dd_mul(m, m)
    return -k.astype(np.int32), m


def dd_reference(func_name: str, x: np.ndarray) -> tuple[np.ndarray, tuple]:
    """σ(x) or σ'(x) for float64 |x| < 1000 as (k, v): the value is (v[0] + v[1])·2^k, v in [0.25, 1.5)."""
    if func_name not in SEARCHED:
        raise ValueError(f"no double-double reference for {func_name}")
    with np.errstate(under="ignore"):  # in tails (of subnormal x, of e in 1 + e) far below the precision kept
        k, m = _dd_exp_neg(np.abs(x))
        d = _dd_add((np.ones_like(x), np.zeros_like(x)), (np.ldexp(m[0], k), np.ldexp(m[1], k)))  # 1 + e
        if func_name == "sigmoid_grad":  # e/(1 + e)²
            return k, _dd_div(m, _dd_mul(d, d))
        negative = x < 0  # σ = e/(1 + e) for x < 0, 1/(1 + e) for x ≥ 0
        numerator = (np.where(negative, m[0], 1.0), np.where(negative, m[1], 0.0))
        return np.where(negative, k, 0), _dd_div(numerator, d)


def dd_ulp_error(got: np.ndarray, k: np.ndarray, v: tuple, dtype: Any) -> np.ndarray:
    """|got − v·2^k| / ulp_dtype(v·2^k), as :func:`ulp_error` measures it, for the double-double v > 0."""
    bits, emin, _ = _format(dtype)
    fraction, exponent = np.frexp(v[0])
    floor_log2 = exponent - 1 - ((fraction == 0.5) & (v[1] < 0))  # v just below a power of 2
    quantum = np.maximum(floor_log2 + k, emin) - bits + 1  # log2 of the ulp at the exact value
    with np.errstate(over="ignore", invalid="ignore"):  # a wildly wrong result scales to inf: error inf
        difference = (np.ldexp(got.astype(np.float64), -k) - v[0]) - v[1]  # exact scaling, Sterbenz
        errors = np.abs(np.ldexp(difference, k - quantum))
    return np.where(np.isnan(errors), np.inf, errors)


def fuzz_inputs(dtype: Any, n: int, seed: int = 0) -> np.ndarray:
    """n reproducible inputs: ½ uniform from where σ rounds to 0 to where it rounds to 1 (−745.2 to 37.4 in
    float64), ¼ uniform over [log(tiny) − 1, log(tiny) + 9] where σ(x) is just above the smallest normal
    number (−709.4 to −699.4: the last bits of e = exp(x) are subnormal there), ¼ N(0, 10)."""
    info = _info(dtype)
    bottom, top = math.log(float(info.smallest_subnormal)) - math.log(2), (info.nmant + 2) * math.log(2)
    tiny = math.log(float(info.smallest_normal))
    rng = np.random.default_rng(seed)
    parts = [rng.uniform(bottom, top, n - 2 * (n // 4)), rng.uniform(tiny - 1, tiny + 9, n // 4)]
    return np.concatenate([*parts, rng.normal(0.0, 10.0, n // 4)]).astype(dtype)


def _on_path(path: str, f: Callable, x: np.ndarray) -> np.ndarray:
    from sigmoidlab.functions import _ufuncs

    previous = _ufuncs.set_kernel(path)
    try:
        return f(x)
    finally:
        _ufuncs.set_kernel(previous)


def worst_case_search(func_name: str, dtype_name: str, n: int = 1 << 22, seed: int = 0, top: int = 16) -> dict:
    """The largest error of ``func_name`` on every kernel path over :func:`fuzz_inputs` and :func:`hard_cases`.

    Every input is screened with :func:`dd_reference`; the ``top`` largest estimates of each path, among the
    fuzzed inputs and among the hard cases, are recomputed with mpmath (200 bits), which gives the reported
    maxima and where they are. ``dd_gap``: the largest |estimate − mpmath| over them, in ULP.
    """
    import sigmoidlab as sl
    from sigmoidlab.functions import _ufuncs

    start = time.perf_counter()
    dtype = DTYPES[dtype_name]
    hard = hard_cases(func_name, dtype)
    x = np.concatenate([fuzz_inputs(dtype, n, seed), hard[np.abs(hard) < 1000]])  # beyond: 0 or 1 ± tiny
    f = getattr(sl, func_name)
    paths = ("reference", *_ufuncs.available_kernels())
    estimates = {path: np.empty(x.size) for path in paths}
    for i in range(0, x.size, 1 << 18):  # chunks that fit the caches
        chunk = x[i : i + (1 << 18)]
        k, v = dd_reference(func_name, chunk.astype(np.float64))
        for path in paths:
            estimates[path][i : i + chunk.size] = dd_ulp_error(_on_path(path, f, chunk), k, v, dtype)
    results = {}
    for path, errors in estimates.items():
        found = {}
        for part, span in (("fuzz", slice(0, n)), ("hard", slice(n, None))):
            order = np.argsort(errors[span])[-top:]
            candidates = x[span][order]
            confirmed = ulp_error(_on_path(path, f, candidates), reference_values(func_name, candidates))
            gap = float(np.abs(confirmed - errors[span][order]).max())
            found[part] = (float(confirmed.max()), float(candidates[np.argmax(confirmed)]), gap)
        worst = max(found.values())
        results[path] = {
            "max_ulp": worst[0],
            "worst_input": worst[1],
            "fuzz_max_ulp": found["fuzz"][0],
            "fuzz_worst_input": found["fuzz"][1],
            "above_half_ulp": int((errors > 0.5).sum()),
            "dd_gap": max(found["fuzz"][2], found["hard"][2]),
        }
    seconds = round(time.perf_counter() - start, 1)
    search = {"function": func_name, "dtype": dtype_name, "inputs": int(x.size), "fuzzed": n, "seed": seed}
    return search | {"seconds": seconds, "paths": results}


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
    from sigmoidlab.functions import _ufuncs

    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "kernel": _ufuncs.get_kernel(),
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
                bound = CONTRACT_ULP[func_name] if dtype_name in WIDE_DTYPES else 0.5
                if entry["max_ulp"] > bound or entry.get("not_correctly_rounded"):
                    problems.append(f"{where}: {entry['max_ulp']:.3f} ULP > {bound:g} or not correctly rounded")
                if func_name in NEVER_FLUSHED and entry["flushed_to_zero"]:
                    problems.append(f"{where}: {entry['flushed_to_zero']} results flushed to 0")
    for search in report["worst_case"]["results"]:
        for path, entry in search["paths"].items():
            if entry["max_ulp"] > CONTRACT_ULP[search["function"]]:
                problems.append(
                    f"{search['function']} {search['dtype']} [{path}]: {entry['max_ulp']:.4f} ULP at "
                    f"x = {entry['worst_input']!r} (worst-case search)"
                )
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
        from sigmoidlab.functions import _ufuncs

        try:
            _ufuncs.set_kernel(args.kernel)
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
