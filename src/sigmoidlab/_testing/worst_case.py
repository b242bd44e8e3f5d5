"""The worst case of σ and σ' over millions of inputs, on every kernel path.

A fuzz of millions of inputs needs a reference much cheaper than mpmath: σ and σ' in double-double (a value is
hi + lo, two float64, ~2^-100 relative), vectorised in NumPy, with the binary exponent kept apart so that the
subnormal tail is measured as finely as the rest (:func:`dd_reference`, :func:`dd_ulp_error`). The largest
errors it finds are then confirmed with mpmath (:func:`worst_case_search`).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from . import kernel_paths, on_path
from .accuracy import DTYPES, _format, _info, hard_cases, mp, reference_values, ulp_error

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


def worst_case_search(func_name: str, dtype_name: str, n: int = 1 << 22, seed: int = 0, top: int = 16) -> dict:
    """The largest error of ``func_name`` on every kernel path over :func:`fuzz_inputs` and :func:`hard_cases`.

    Every input is screened with :func:`dd_reference`; the ``top`` largest estimates of each path, among the
    fuzzed inputs and among the hard cases, are recomputed with mpmath (200 bits), which gives the reported
    maxima and where they are. ``dd_gap``: the largest |estimate − mpmath| over them, in ULP.
    """
    import sigmoidlab as sl

    start = time.perf_counter()
    dtype = DTYPES[dtype_name]
    hard = hard_cases(func_name, dtype)
    x = np.concatenate([fuzz_inputs(dtype, n, seed), hard[np.abs(hard) < 1000]])  # beyond: 0 or 1 ± tiny
    f = getattr(sl, func_name)
    paths = kernel_paths()
    estimates = {path: np.empty(x.size) for path in paths}
    for i in range(0, x.size, 1 << 18):  # chunks that fit the caches
        chunk = x[i : i + (1 << 18)]
        k, v = dd_reference(func_name, chunk.astype(np.float64))
        for path in paths:
            estimates[path][i : i + chunk.size] = dd_ulp_error(on_path(path, f, chunk), k, v, dtype)
    results = {}
    for path, errors in estimates.items():
        found = {}
        for part, span in (("fuzz", slice(0, n)), ("hard", slice(n, None))):
            order = np.argsort(errors[span])[-top:]
            candidates = x[span][order]
            confirmed = ulp_error(on_path(path, f, candidates), reference_values(func_name, candidates))
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
