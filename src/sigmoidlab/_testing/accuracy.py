"""The ruler of the function family: exact references, ULP errors, proven correct rounding, input sets, contract.

The tests (``tests/test_accuracy.py``) and the accuracy benchmark (``benchmarks/accuracy.py``) both measure with
it: :func:`reference_values`, :func:`ulp_error`, :func:`flushed_to_zero`, :func:`round_mpf`,
:func:`correctly_rounded`, the input sets :func:`anchor_points`, :func:`range_points`, :func:`grid_points`,
:func:`output_points`, :func:`all_values`, and :data:`CONTRACT`, the limits every function is held to.

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
``sigmoid_grad_from_output``, y·(1 − y), is rational: its reference is computed exactly (2,200 bits hold
the product for every float64 y) and rounded once, midpoints included.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np
from scipy.special import expit

try:
    import mpmath
    from mpmath import mp
except ImportError as exc:  # a test extra: the package itself never imports this module
    raise ImportError("sigmoidlab._testing needs mpmath: pip install 'sigmoidlab[test]'") from exc

GUARD_BITS = 64
MAX_PREC = 6400
EXACT_PREC = 2200  # y·(1 − y) for any float64 y: 1 − y spans at most 2^1024 to 2^-1074, times 53 bits
FUNCTIONS = ("sigmoid", "sigmoid_grad", "sigmoid_second_grad", "log_sigmoid", "softplus", "logit")
DERIVATIVES = ("sigmoid_grad", "sigmoid_second_grad")
DTYPES = {
    "float64": np.dtype(np.float64),
    "float32": np.dtype(np.float32),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
}
WIDE_DTYPES = ("float64", "float32")
NARROW_DTYPES = ("float16", "bfloat16")


@dataclass(frozen=True)
class Limit:
    """What one function promises (README, "Accuracy"), over the whole range, ±0, ±inf and NaN included."""

    max_ulp: float  # in float64 and float32; float16 and bfloat16 are correctly rounded on all 65,536 inputs
    never_flushed: bool  # never 0 where the exact value is representable (rounds to a nonzero number)


#: The accuracy contract, one row per function.
CONTRACT = {
    "sigmoid": Limit(1.0, never_flushed=False),
    "log_sigmoid": Limit(1.0, never_flushed=False),
    "softplus": Limit(1.0, never_flushed=False),
    "sigmoid_grad": Limit(2.0, never_flushed=True),
    "sigmoid_second_grad": Limit(2.0, never_flushed=True),
    "logit": Limit(2.0, never_flushed=True),
}

# |x| where σ, σ', log σ and softplus have their largest float64 errors: 0.7503 ULP (a 16-million-point fuzz),
# 0.7522 (worst_case_search, 2^20 points), 0.7605 (a dense scan of 34 million points over [−708.5, −700]).
# The result, ≈ e^(−|x|), is just above the smallest normal number, and the last bits of the kernel's
# exp(−|x|) fall below it (σ(−x), σ'(x), log σ(x) ≈ −e^(−x), softplus(−x) ≈ e^(−x)).
KNOWN_WORST = (707.445954356504, 707.2224777109931, 707.3618105)


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
    "sigmoid_grad_from_output": lambda y: y * (1 - y),  # exact at EXACT_PREC
}
_EXACT = ("sigmoid_grad_from_output",)

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
    ``sigmoid_grad_from_output`` (y·(1 − y), rational) is exact whatever ``prec``.
    """
    formula = _FORMULAS[func_name]
    parity = _PARITY.get(func_name)
    known: dict[Any, mpmath.mpf] = {}
    values = []
    with mp.workprec(EXACT_PREC if func_name in _EXACT else prec + GUARD_BITS):
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


def round_proven(
    exact: Sequence[Any], recompute: Callable[[int, int], Any], dtype: Any, accuracy: int | None, label: Callable
) -> np.ndarray:
    """Each exact value rounded to ``dtype``, the rounding proven (Ziv's strategy): a value known to ``accuracy``
    bits that lies too close to a midpoint is recomputed by ``recompute(i, bits)`` with the precision doubled until
    the rounding is certain (``accuracy=None``: the values are exact). Returns float64 holding ``dtype`` values."""
    out = np.empty(len(exact))
    for i, v in enumerate(exact):
        bits = accuracy
        out[i], safe = round_mpf(v, dtype, bits)
        while not safe:
            bits *= 2
            if bits > MAX_PREC:
                raise ArithmeticError(f"{label(i)} is within 2^-{MAX_PREC} of a {dtype} midpoint")
            out[i], safe = round_mpf(recompute(i, bits), dtype, bits)
    return out


def correctly_rounded(
    func_name: str, xs: Any, dtype: Any, prec: int = 100, exact: Sequence[mpmath.mpf] | None = None
) -> np.ndarray:
    """The exact ``func_name(xs)`` correctly rounded to ``dtype``, proven point by point (Ziv's strategy).

    ``exact`` may pass values already computed by :func:`reference_values` at ``prec``; only the points too
    close to a midpoint are recomputed, with the precision doubled until the rounding is certain. A zero
    result is +0 (mpmath has no signed zero).
    """
    inputs = _as_list(xs)
    exact = reference_values(func_name, inputs, prec) if exact is None else exact
    accuracy = None if func_name in _EXACT else prec  # an exact value needs no margin to its midpoint
    out = round_proven(
        exact,
        lambda i, bits: reference_values(func_name, [inputs[i]], bits)[0],
        dtype,
        accuracy,
        lambda i: f"{func_name}({inputs[i]!r})",
    )
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


def contract_failures(func_name: str, x: np.ndarray, got: np.ndarray, exact: Sequence[mpmath.mpf]) -> list[str]:
    """Where ``got`` (float64 or float32) breaks :data:`CONTRACT` for ``func_name``: one line per kind of miss."""
    limit = CONTRACT[func_name]
    errors = ulp_error(got, exact)
    worst = int(np.argmax(errors))
    problems = []
    if errors[worst] > limit.max_ulp:
        problems.append(
            f"{errors[worst]:.4f} ULP > {limit.max_ulp:g} at x = {x.flat[worst]!r}: got {got.flat[worst]!r}, "
            f"exact {mp.nstr(exact[worst], 20)}"
        )
    flushed = flushed_to_zero(got, exact)
    if limit.never_flushed and flushed.any():
        problems.append(f"0 where representable at x = {', '.join(repr(v) for v in x.ravel()[flushed][:5])}")
    return problems


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
    """The anchor set: n/2 points evenly over ±log(max) and n/2 from N(0, 10), in ``dtype``.

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


# A second sample of float64 and float32, with its own seeds: (edge of the even grid, its points, N(0, 10)
# points, log10 range and points of the random-sign log grid, seed), and fixed points (±) where σ rounds to 1
# or 0, loses normal range or overflows, and ln2/2.
_GRIDS = {
    "float64": (745.2, 1201, 400, (-320, 2.87), 300, 20240601),
    "float32": (104.0, 801, 300, (-45, 38), 200, 7),
}
# fmt: off
_GRID_POINTS = {
    "float64": [0.0, 1e-300, 5e-324, 2.2250738585072014e-308, 1e-8, 0.3465735902799726, 0.34657359027997264,
                0.5, 1.0, 2.0, 16.7, 36.7, 37.0, 37.5, 708.4, 709.0, 709.8, 720.0, 744.4, 745.0, 745.13, 745.2, 750.0,
                1e300, 1.7976931348623157e308, math.inf],
    "float32": [0.0, 1e-40, 1e-45, 1e-30, 0.34657359, 16.6, 16.7, 17.0, 87.3, 88.7, 103.2, 103.9, 104.0, 3e38,
                math.inf],
}
# fmt: on


def grid_points(func_name: str, dtype: Any) -> np.ndarray:
    """A second float64/float32 sample beside :func:`range_points`, with other seeds and grids (see _GRIDS).

    p (logit): uniform on [0, 1], a log grid from the smallest subnormal to 1, 1 − a log grid from ε/2 to 0.3,
    ½ + N(0, 10⁻³), the neighbours of ¼, 1 and 0, and values outside [0, 1].
    """
    name = np.dtype(dtype).name
    if func_name == "logit":
        return _probabilities(np.dtype(dtype).type)
    edge, even, normal, (low, high), logs, seed = _GRIDS[name]
    rng = np.random.default_rng(seed)
    hard = np.array(_GRID_POINTS[name])
    with np.errstate(under="ignore"):  # the log grid reaches into the subnormals, below them in float32
        logs = np.logspace(low, high, logs) * rng.choice([-1, 1], logs)
        parts = [np.linspace(-edge, edge, even), rng.normal(0, 10, normal), logs, hard, -hard, [math.nan]]
        return np.concatenate(parts).astype(dtype)


def _probabilities(dtype: type) -> np.ndarray:
    rng = np.random.default_rng(3)
    fi = np.finfo(dtype)
    tiny = float(fi.smallest_subnormal)
    one_minus = float(np.nextafter(dtype(1), dtype(0)))
    below_quarter = float(np.nextafter(dtype(0.25), dtype(0)))
    with np.errstate(under="ignore"):  # the log grid starts at the smallest subnormal
        p = np.concatenate(
            [
                rng.uniform(0, 1, 600),
                np.logspace(math.log10(tiny), 0, 300),
                1 - np.logspace(math.log10(float(fi.eps)) - 0.3, -0.5, 200),
                0.5 + rng.normal(0, 1e-3, 100),
                [0.0, tiny, 0.25, below_quarter, 0.5, 0.75, one_minus, 1.0],
                [-0.0, -0.1, 1.1, math.nan, math.inf, -math.inf],
            ]
        )
        return p.astype(dtype)


def output_points(dtype: Any) -> np.ndarray:
    """Saved outputs y = σ(x) and the hard cases of y·(1 − y): tiny and near-1 values, few-bit dyadics, y outside
    [0, 1] (the formula still applies), overflow, ±0 and the non-finite values."""
    rng = np.random.default_rng(17)
    info = _info(dtype)
    tiny, big = float(info.smallest_subnormal), float(info.max)
    with np.errstate(all="ignore"):
        y = np.concatenate(
            [
                rng.uniform(0, 1, 6000),
                1 / (1 + np.exp(-rng.normal(0, 12, 6000))),
                np.logspace(math.log10(tiny), 0, 3000),
                1 - np.logspace(math.log10(float(info.eps)) - 1, -0.3, 2000),
                rng.integers(0, 2**12, 2000) / 2.0 ** rng.integers(1, 14, 2000),
                rng.integers(-(2**40), 2**40, 1000) * 2.0 ** rng.integers(-60, 40, 1000),
                [0.0, -0.0, 0.5, 1.0, 0.25, 2.0, -1.0, tiny, big, -big, 1e200, -1e200],
                [math.inf, -math.inf, math.nan],
            ]
        )
        return y.astype(dtype)


def all_values(dtype: Any) -> np.ndarray:
    """Every bit pattern of a 16-bit dtype (65,536 values, NaNs and ±inf included)."""
    return np.arange(1 << 16, dtype=np.uint16).view(np.dtype(dtype))
