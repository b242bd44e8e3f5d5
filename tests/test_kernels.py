"""The compiled ufuncs: accuracy contract on every kernel path, ufunc behaviour, fallback, and the bench command.

References come from mpmath at 200 bits, computed once per session (module-scoped fixtures) and reused for
every kernel path. float64/float32 are measured in ULPs exactly (in mpmath); float16 and bfloat16 are checked
for correct rounding on all 65,536 bit patterns: the result must lie within half a gap of the true value on
the side of the true value (the true value is carried as a double-double, so no double rounding enters).
"""

from __future__ import annotations

import importlib
import json
import math
import sys
import warnings
from fractions import Fraction

import ml_dtypes
import mpmath as mp
import numpy as np
import pytest

import sigmoidlab as sl
from sigmoidlab.functions import _reference as ref
from sigmoidlab.functions import _ufuncs as U

E = U._ext  # the extension itself: sigmoid_grad_from_output is not re-exported by the loader yet

pytestmark = pytest.mark.skipif(not U.AVAILABLE, reason="compiled kernels not built")

PATHS = U.available_kernels() or ("scalar",)
BF16 = np.dtype(ml_dtypes.bfloat16)
UNARY = ("sigmoid", "sigmoid_grad", "sigmoid_second_grad", "log_sigmoid", "softplus", "logit")
LIMIT = {"sigmoid": 1, "log_sigmoid": 1, "softplus": 1, "sigmoid_grad": 2, "sigmoid_second_grad": 2, "logit": 2}
FORMAT = {np.dtype(np.float64): (53, -1022), np.dtype(np.float32): (24, -126)}
PREC = 200


@pytest.fixture(params=PATHS)
def path(request):
    previous = U.set_kernel(request.param)
    yield request.param
    U.set_kernel(previous)


# ------------------------------------------------------------------------------------------------------------
# mpmath references


def _family(x: float) -> dict[str, mp.mpf]:
    """σ, σ', σ'', log σ, softplus at x (finite), exactly to 200 bits, from E = exp(−|x|)."""
    a = abs(x)
    # beyond 1100, E < 2^-1580: every result is its limit to far below any format's resolution
    E = mp.mpf(0) if a > 1100 else mp.exp(-mp.mpf(a))
    q = 1 / (1 + E)
    sig = q if x >= 0 else E * q
    grad = E * q * q
    second = -mp.sign(x) * grad * (-mp.expm1(-mp.mpf(a))) * q  # 1 − E without cancellation for tiny |x|
    L = E - E * E / 2 if mp.mpf(2) ** -100 > E else mp.log(1 + E)
    return {
        "sigmoid": sig,
        "sigmoid_grad": grad,
        "sigmoid_second_grad": second,
        "softplus": max(mp.mpf(x), 0) + L,
        "log_sigmoid": min(mp.mpf(x), 0) - L,
    }


def _logit(p: float) -> mp.mpf:
    P = mp.mpf(p)
    return mp.log(P / (1 - P))


def _reference(name: str, x: float):
    """The exact value as an mpf, or a float for the special cases (±inf, NaN)."""
    if math.isnan(x):
        return math.nan
    if name == "logit":
        if x < 0 or x > 1:
            return math.nan
        return -math.inf if x == 0 else math.inf if x == 1 else _logit(x)
    if math.isinf(x):
        return {
            "sigmoid": 1.0 if x > 0 else 0.0,
            "sigmoid_grad": 0.0,
            "sigmoid_second_grad": 0.0,
            "softplus": x if x > 0 else 0.0,
            "log_sigmoid": 0.0 if x > 0 else x,
        }[name]
    return _family(x)[name]


def _grid64() -> np.ndarray:
    rng = np.random.default_rng(20240601)
    hard = [0.0, 1e-300, 5e-324, 2.2250738585072014e-308, 1e-8, 0.3465735902799726, 0.34657359027997264]
    hard += [0.5, 1.0, 2.0, 16.7, 36.7, 37.0, 37.5, 708.4, 709.0, 709.8, 720.0, 744.4, 745.0, 745.13, 745.2]
    hard += [750.0, 1e300, 1.7976931348623157e308, math.inf]
    x = np.concatenate(
        [
            np.linspace(-745.2, 745.2, 1201),
            rng.normal(0, 10, 400),
            np.logspace(-320, 2.87, 300) * rng.choice([-1, 1], 300),
            np.array(hard),
            -np.array(hard),
            [math.nan],
        ]
    )
    return x


def _grid32() -> np.ndarray:
    rng = np.random.default_rng(7)
    hard = [0.0, 1e-40, 1e-45, 1e-30, 0.34657359, 16.6, 16.7, 17.0, 87.3, 88.7, 103.2, 103.9, 104.0, 3e38, math.inf]
    x = np.concatenate(
        [
            np.linspace(-104, 104, 801),
            rng.normal(0, 10, 300),
            np.logspace(-45, 38, 200) * rng.choice([-1, 1], 200),
            np.array(hard),
            -np.array(hard),
            [math.nan],
        ]
    )
    return x.astype(np.float32)


def _probabilities(dtype) -> np.ndarray:
    rng = np.random.default_rng(3)
    fi = np.finfo(dtype)
    tiny = float(fi.smallest_subnormal)
    one_minus = np.nextafter(dtype(1), dtype(0))
    p = np.concatenate(
        [
            rng.uniform(0, 1, 600),
            np.logspace(math.log10(tiny), 0, 300),
            1 - np.logspace(math.log10(float(fi.eps)) - 0.3, -0.5, 200),
            0.5 + rng.normal(0, 1e-3, 100),
            [0.0, tiny, 0.25, float(np.nextafter(dtype(0.25), dtype(0))), 0.5, 0.75, float(one_minus), 1.0],
            [-0.0, -0.1, 1.1, math.nan, math.inf, -math.inf],
        ]
    )
    return p.astype(dtype)


@pytest.fixture(scope="module")
def wide_tables():
    """{dtype: {function: (inputs, [exact values])}} for float64 and float32."""
    mp.mp.prec = PREC
    tables = {}
    for dtype, grid in ((np.dtype(np.float64), _grid64()), (np.dtype(np.float32), _grid32())):
        cache = {float(x): _family(float(x)) for x in grid if math.isfinite(x)}
        table = {}
        for name in UNARY:
            inputs = _probabilities(dtype.type) if name == "logit" else grid
            if name == "logit":
                values = [_reference(name, float(p)) for p in inputs]
            else:
                values = [cache[float(x)][name] if math.isfinite(x) else _reference(name, float(x)) for x in inputs]
            table[name] = (inputs, values)
        tables[dtype] = table
    return tables


def _narrow_inputs(dtype: np.dtype) -> np.ndarray:
    return np.arange(65536, dtype=np.uint16).view(dtype)


def _narrow_exact(xs: np.ndarray) -> dict[str, list]:
    """Exact values of every function at the float64 values ``xs``, from one exp and one log per |x|."""
    mp.mp.prec = PREC
    per_abs: dict[float, tuple] = {}
    values: dict[str, list] = {name: [] for name in UNARY}
    for x in xs.tolist():
        if not math.isfinite(x):
            for name in UNARY:
                values[name].append(_reference(name, x))
            continue
        a = abs(x)
        if a not in per_abs:
            E = mp.exp(-mp.mpf(a)) if a <= 1100 else mp.mpf(0)
            q = 1 / (1 + E)
            one_minus_e = -mp.expm1(-mp.mpf(a)) if a < 2.0**-90 else 1 - E
            log1p_e = E - E * E / 2 if mp.mpf(2) ** -100 > E else mp.log(1 + E)
            per_abs[a] = (E, q, E * q * q, one_minus_e * q, log1p_e)
        E, q, grad, tanh_half, L = per_abs[a]
        values["sigmoid"].append(q if x >= 0 else E * q)
        values["sigmoid_grad"].append(grad)
        values["sigmoid_second_grad"].append(-grad * tanh_half if x > 0 else grad * tanh_half)
        values["softplus"].append(max(mp.mpf(x), 0) + L)
        values["log_sigmoid"].append(min(mp.mpf(x), 0) - L)
        values["logit"].append(_reference("logit", x))
    return values


@pytest.fixture(scope="module")
def narrow_tables():
    """{dtype: {function: (inputs, hi, lo)}}: exact values as double-doubles on all 65,536 inputs.

    The low part only matters where hi is exactly a midpoint (or a value) of the narrow format, i.e. where its
    float64 mantissa has no bits beyond the narrow precision + 1; only there is it computed."""
    tables = {}
    for dtype, digits in ((np.dtype(np.float16), 11), (BF16, 8)):
        inputs = _narrow_inputs(dtype)
        with np.errstate(invalid="ignore"):
            xs = inputs.astype(np.float64)
        exact = _narrow_exact(xs)
        table = {}
        for name in UNARY:
            vs = exact[name]
            hi = np.array([v if isinstance(v, float) else float(v) for v in vs])
            lo = np.zeros_like(hi)
            with np.errstate(all="ignore"):
                mant, _ = np.frexp(hi)
                short = np.isfinite(hi) & (np.ldexp(mant, digits + 1) == np.round(np.ldexp(mant, digits + 1)))
            for i in np.flatnonzero(short):
                if not isinstance(vs[i], float):
                    lo[i] = float(vs[i] - hi[i])
            table[name] = (inputs, hi, lo)
        tables[dtype] = table
    return tables


def _ulps(y: float, v, dtype: np.dtype) -> float:
    """|y − v| in units of the last place of v in ``dtype`` (subnormal spacing below the normal range)."""
    if isinstance(v, float):  # special value: must be exact
        same = (math.isnan(v) and math.isnan(y)) or y == v
        return 0.0 if same else math.inf
    if math.isnan(y) or math.isinf(y):
        return math.inf
    digits, emin = FORMAT[dtype]
    e = emin if v == 0 else max(int(mp.floor(mp.log(abs(v), 2))), emin)
    return float(abs(mp.mpf(y) - v) / mp.ldexp(1, e - digits + 1))


# ------------------------------------------------------------------------------------------------------------
# Accuracy contract


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", UNARY)
def test_wide_accuracy(path, wide_tables, name, dtype):
    dtype = np.dtype(dtype)
    inputs, values = wide_tables[dtype][name]
    with np.errstate(all="raise"):
        out = getattr(U, name)(inputs)
    assert out.dtype == dtype
    errors = np.array([_ulps(float(y), v, dtype) for y, v in zip(out, values, strict=True)])
    worst = int(np.argmax(errors))
    assert errors[worst] <= LIMIT[name], f"{name} {path} {dtype}: {errors[worst]} ULP at x={inputs[worst]!r}"
    # never flushed to 0 where the true value is representable (at least the smallest subnormal)
    smallest = mp.mpf(float(np.finfo(dtype).smallest_subnormal))
    flushed = [x for x, y, v in zip(inputs, out, values, strict=True) if y == 0 and not isinstance(v, float)]
    flushed = [x for x, v in zip(inputs, values, strict=True) if x in flushed and abs(v) >= smallest]
    assert not flushed, f"{name} {path} {dtype}: flushed to 0 at {flushed[:5]}"


@pytest.mark.parametrize("dtype", [np.float16, BF16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("name", UNARY)
def test_narrow_correctly_rounded(path, narrow_tables, name, dtype):
    dtype = np.dtype(dtype)
    inputs, hi, lo = narrow_tables[dtype][name]
    with np.errstate(all="raise"):
        out = getattr(U, name)(inputs)
    assert out.dtype == dtype
    y = out.astype(np.float64)
    special = ~np.isfinite(hi)
    assert np.array_equal(y[special], hi[special], equal_nan=True), f"{name} {path}: special values differ"
    bits = out.view(np.uint16).astype(np.int32)
    negative = bits >= 0x8000
    up = np.where(negative, np.where(bits == 0x8000, 0x0001, bits - 1), bits + 1)  # next towards +inf
    down = np.where(negative, bits + 1, np.where(bits == 0, 0x8001, bits - 1))  # next towards −inf
    with np.errstate(all="ignore"):
        mid_up = (y + up.astype(np.uint16).view(dtype).astype(np.float64)) / 2
        mid_down = (y + down.astype(np.uint16).view(dtype).astype(np.float64)) / 2
        above = ((hi - mid_down) + lo >= 0) | (mid_down == -np.inf)
        below = ((hi - mid_up) + lo <= 0) | (mid_up == np.inf)
    bad = ~special & ~(above & below)
    assert not bad.any(), (
        f"{name} {path} {dtype}: {int(bad.sum())} not correctly rounded, e.g. x={inputs[bad][:4]} -> {out[bad][:4]}"
    )


def test_paths_agree_bitwise_and_threads_do_not_change_results():
    """Same operations in the same order on every path: results are identical, as they are split over threads."""
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0, 30, 300_000), rng.uniform(-800, 800, 100_000)])
    x[rng.integers(0, x.size, 300)] = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324], 300)
    p = rng.uniform(-0.1, 1.1, 400_000)
    previous = U.get_kernel()
    try:
        results = {}
        for k in PATHS:
            U.set_kernel(k)
            for threads in (1, 2):
                U.set_num_threads(threads)
                results[k, threads] = [getattr(U, n)(p if n == "logit" else x) for n in UNARY]
                results[k, threads] += list(U.sigmoid_and_grad(x)) + list(U.bce_with_logits(x, p))
                results[k, threads] += [E.sigmoid_grad_from_output(p), E.sigmoid_grad_from_output(p.astype(np.float32))]
        first = next(iter(results.values()))
        for key, value in results.items():
            for a, b in zip(first, value, strict=True):
                assert np.array_equal(a.view(np.uint8), b.view(np.uint8)), key
    finally:
        U.set_kernel(previous)
        U.set_num_threads(2)


def test_special_values_exact_and_match_the_reference_path(path):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e308, -1e308])
    p = np.array([0.0, -0.0, 1.0, 0.5, -1.0, 2.0, np.nan, np.inf, -np.inf, 5e-324])
    for name in UNARY:
        inp = p if name == "logit" else x
        with np.errstate(all="ignore"):
            expected = ref.round_to(getattr(ref, name)(ref.to_wide(inp)), np.dtype(np.float64))
        with np.errstate(all="raise"):
            got = getattr(U, name)(inp)
        assert np.array_equal(got, expected, equal_nan=True), (name, got, expected)
        assert np.array_equal(np.signbit(got), np.signbit(expected)), (name, "sign of zero", got, expected)
    assert U.sigmoid(-720.0) == pytest.approx(2.0305e-313, rel=1e-3)  # the subnormal tail is computed
    assert U.sigmoid(-745.0) == 5e-324 and U.sigmoid(-746.0) == 0.0


def test_fused_pair_and_bce_match_the_separate_functions(path):
    rng = np.random.default_rng(9)
    for dtype in (np.float64, np.float32, np.float16, BF16):
        x = (rng.normal(0, 20, 5000)).astype(dtype)
        y, g = U.sigmoid_and_grad(x)
        assert y.dtype == g.dtype == dtype
        assert np.array_equal(y, U.sigmoid(x)) and np.array_equal(g, U.sigmoid_grad(x))
    z = np.array([-np.inf, -800.0, -3.0, 0.0, 2.0, 40.0, 800.0, np.inf, np.inf, -np.inf, 1.0])
    t = np.array([0.0, 0.0, 1.0, 0.3, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, np.nan])
    with np.errstate(all="raise"):
        loss, grad = U.bce_with_logits(z, t)
    with np.errstate(all="ignore"):
        ref_loss, ref_grad = (
            ref.round_to(r, np.dtype(np.float64)) for r in ref.bce_with_logits(*map(ref.to_wide, (z, t)))
        )
    np.testing.assert_allclose(loss, ref_loss, rtol=4e-16, atol=0)
    np.testing.assert_allclose(grad, ref_grad, rtol=4e-16, atol=0)
    assert loss[0] == 0 and loss[7] == 0 and loss[8] == np.inf and loss[9] == np.inf  # hard targets at ±inf
    assert grad[4] == pytest.approx(float(sl.sigmoid(2.0)) - 1, rel=1e-15)


# ------------------------------------------------------------------------------------------------------------
# y·(1 − y), the backprop form: held to correct rounding against exact rational arithmetic

FORMATS = {  # significand bits, exponent of the smallest normal binade, largest finite value
    np.dtype(np.float64): (53, -1022, float(np.finfo(np.float64).max)),
    np.dtype(np.float32): (24, -126, float(np.finfo(np.float32).max)),
    np.dtype(np.float16): (11, -14, 65504.0),
    BF16: (8, -126, float(ml_dtypes.finfo(BF16).max)),
}


def _round_exact(q: Fraction, dtype: np.dtype) -> float:
    """The rational q rounded to ``dtype``, ties to even, overflow to ±inf (as a float64)."""
    if q == 0:
        return 0.0
    bits, emin, largest = FORMATS[dtype]
    a = abs(q)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    e -= Fraction(2) ** e > a  # now 2^e <= a < 2^(e+1)
    quantum = max(e, emin) - bits + 1
    n = round(a / Fraction(2) ** quantum)  # round() of a Fraction: half to even
    value = math.inf if n.bit_length() + quantum > 1100 else math.ldexp(n, quantum)
    value = math.inf if value > largest else value
    return -value if q < 0 else value


def _grad_from_output_exact(ys: np.ndarray, dtype: np.dtype) -> np.ndarray:
    out = []
    for y in ys.astype(np.float64).tolist():
        if not math.isfinite(y) or y == 0:  # ±inf, NaN, ±0: as IEEE arithmetic has it (−0·(1 + 0) = −0)
            out.append(y * (1 - y))
        else:
            out.append(_round_exact(Fraction(y) * (1 - Fraction(y)), dtype))
    return np.array(out)


def _outputs_like(dtype) -> np.ndarray:
    """Saved outputs σ(x) and the hard cases of y·(1 − y): tiny and near-1 values, few-bit dyadics, y outside
    [0, 1] (the formula still applies), overflow, ±0 and the non-finite values."""
    rng = np.random.default_rng(17)
    fi = np.finfo(dtype) if dtype != BF16 else ml_dtypes.finfo(BF16)
    tiny = float(fi.smallest_subnormal)
    with np.errstate(all="ignore"):
        y = np.concatenate(
            [
                rng.uniform(0, 1, 6000),
                1 / (1 + np.exp(-rng.normal(0, 12, 6000))),
                np.logspace(math.log10(tiny), 0, 3000),
                1 - np.logspace(math.log10(float(fi.eps)) - 1, -0.3, 2000),
                rng.integers(0, 2**12, 2000) / 2.0 ** rng.integers(1, 14, 2000),
                rng.integers(-(2**40), 2**40, 1000) * 2.0 ** rng.integers(-60, 40, 1000),
                [0.0, -0.0, 0.5, 1.0, 0.25, 2.0, -1.0, tiny, float(fi.max), -float(fi.max), 1e200, -1e200],
                [math.inf, -math.inf, math.nan],
            ]
        )
        return y.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_grad_from_output_is_correctly_rounded(path, dtype):
    dtype = np.dtype(dtype)
    y = _outputs_like(dtype)
    with np.errstate(all="raise"):
        got = E.sigmoid_grad_from_output(y)
        strided = E.sigmoid_grad_from_output(y[::3])
    assert got.dtype == dtype and np.array_equal(strided, got[::3], equal_nan=True)
    exact = _grad_from_output_exact(y, dtype).astype(dtype)
    bad = ~((got == exact) | (np.isnan(got) & np.isnan(exact)))
    assert not bad.any(), f"{path} {dtype}: y={y[bad][:4]} -> {got[bad][:4]}, exact {exact[bad][:4]}"
    assert np.array_equal(np.signbit(got), np.signbit(exact)), "signs of zero"


@pytest.mark.parametrize("dtype", [np.float16, BF16], ids=["float16", "bfloat16"])
def test_grad_from_output_is_correctly_rounded_on_every_narrow_input(path, dtype):
    dtype = np.dtype(dtype)
    y = _narrow_inputs(dtype)
    with np.errstate(all="raise"):
        got = E.sigmoid_grad_from_output(y)
    assert got.dtype == dtype
    with np.errstate(all="ignore"):
        exact = _grad_from_output_exact(y, dtype).astype(dtype)
    same = (got.view(np.uint16) == exact.view(np.uint16)) | (
        np.isnan(got.astype(np.float32)) & np.isnan(y.astype(np.float32))
    )
    assert same.all(), f"{path} {dtype}: y={y[~same][:4]} -> {got[~same][:4]}, exact {exact[~same][:4]}"


# ------------------------------------------------------------------------------------------------------------
# ufunc behaviour


def test_they_are_real_ufuncs_with_the_expected_loops():
    for name in UNARY:
        f = getattr(U, name)
        assert isinstance(f, np.ufunc) and (f.nin, f.nout) == (1, 1)
        assert {"e->e", "f->f", "d->d"} <= set(f.types)
    assert E.sigmoid_grad_from_output.types == U.sigmoid.types and E.sigmoid_grad_from_output.nout == 1
    assert (U.sigmoid_and_grad.nin, U.sigmoid_and_grad.nout) == (1, 2)
    assert (U.bce_with_logits.nin, U.bce_with_logits.nout) == (2, 2)


def test_out_where_dtype_broadcasting_and_strides(path):
    x = np.linspace(-10, 10, 101)
    out = np.full_like(x, -7.0)
    mask = x > 0
    result = U.sigmoid(x, out=out, where=mask)
    assert result is out
    assert np.array_equal(out[mask], U.sigmoid(x[mask])) and np.all(out[~mask] == -7.0)
    x32 = x.astype(np.float32)
    wide = U.sigmoid(x32, dtype=np.float64)
    assert wide.dtype == np.float64 and np.array_equal(wide, U.sigmoid(x32.astype(np.float64)))
    assert U.sigmoid(x32).dtype == np.float32
    loss, grad = U.bce_with_logits(x[:, None], np.array([0.0, 0.5, 1.0]))
    assert loss.shape == grad.shape == (101, 3)
    # σ(z) − 1 = −σ(−z), without the cancellation (BCE takes the careful path, σ the fast one: ≤ 1 ULP apart)
    np.testing.assert_array_max_ulp(grad[:, 2], -U.sigmoid(-x), maxulp=1)
    big = np.random.default_rng(1).normal(0, 10, (600, 700))
    for view in (big[::3, ::2], big.T, big[:, 5]):
        assert np.array_equal(U.softplus(view), U.softplus(np.ascontiguousarray(view)))
    y1, y2 = np.empty_like(x), np.empty_like(x)
    r1, r2 = U.sigmoid_and_grad(x, out=(y1, y2))
    assert r1 is y1 and r2 is y2 and np.array_equal(y2, U.sigmoid_grad(x))
    assert isinstance(U.sigmoid(2.0), np.float64) and isinstance(U.sigmoid(np.float16(2)), np.float16)


def test_no_floating_point_warnings_for_any_input(path):
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e-310, 1e308, -1e308, 745.0, -745.0, 2.0]
    for dtype in (np.float64, np.float32, np.float16, BF16):
        with np.errstate(all="ignore"):
            x = np.array(specials * 3, dtype=np.float64).astype(dtype)
        with np.errstate(all="raise"), warnings.catch_warnings():
            warnings.simplefilter("error")
            for name in UNARY:
                getattr(U, name)(x)
            U.sigmoid_and_grad(x)
            U.bce_with_logits(x, x[::-1])
            E.sigmoid_grad_from_output(x)
            U.sigmoid(np.float64(-1000.0))


def test_dask_arrays_stay_lazy():
    da = pytest.importorskip("dask.array")
    x = np.linspace(-50, 50, 1000)
    dx = da.from_array(x, chunks=100)
    y = U.sigmoid(dx)  # __array_ufunc__ dispatch
    assert isinstance(y, da.Array)
    assert np.array_equal(y.compute(), U.sigmoid(x))
    assert isinstance(sl.sigmoid(dx), da.Array)


def test_public_functions_use_the_kernels_and_keep_their_behaviour(path):
    x = np.array([-720.0, -3.0, 0.0, 2.0, 40.0])
    assert np.array_equal(sl.sigmoid(x), U.sigmoid(x)) and np.array_equal(sl.log_sigmoid(x), U.log_sigmoid(x))
    assert sl.sigmoid(np.arange(3)).dtype == np.float64  # integers compute in float64
    assert isinstance(sl.sigmoid(2.0), np.float64)
    out = np.empty(5)
    assert sl.sigmoid_grad(x, out=out) is out and np.array_equal(out, U.sigmoid_grad(x))
    y, g = sl.sigmoid_and_grad(x.astype(BF16))
    assert y.dtype == g.dtype == BF16
    with pytest.raises(TypeError, match="sigmoid"):
        sl.sigmoid(np.array([1j]))
    _loss, grad = sl.binary_cross_entropy_with_logits(
        x, np.array([0, 1, 0, 1, 1.0]), reduction="none", return_grad=True
    )
    assert np.array_equal(grad, U.bce_with_logits(x, np.array([0, 1, 0, 1, 1.0]))[1])


def test_reference_switch_and_fallback_when_the_extension_is_missing(monkeypatch):
    x = np.array([-720.0, -1.0, 0.5, 30.0])
    with np.errstate(all="ignore"):
        expected = ref.round_to(ref.sigmoid(ref.to_wide(x)), np.dtype(np.float64))
    previous = U.set_kernel("reference")
    try:
        assert U.get_kernel() == "reference" and np.array_equal(sl.sigmoid(x), expected)
    finally:
        U.set_kernel(previous)
    import sigmoidlab._kernels

    monkeypatch.setitem(sys.modules, "sigmoidlab._kernels._ufuncs", None)  # makes the import fail
    monkeypatch.delattr(sigmoidlab._kernels, "_ufuncs")
    try:
        with pytest.warns(RuntimeWarning, match="compiled kernels unavailable"):
            importlib.reload(U)
        assert not U.AVAILABLE and U.sigmoid is None and U.get_kernel() == "reference"
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # one warning only, and none from the reference path
            assert np.array_equal(sl.sigmoid(x), expected)
            assert sl.sigmoid_and_grad(0.0) == (0.5, 0.25)
    finally:
        monkeypatch.undo()
        importlib.reload(U)
    assert U.AVAILABLE and U.get_kernel() in PATHS


# ------------------------------------------------------------------------------------------------------------
# The benchmark command


def test_bench_quick_writes_markdown_and_json(tmp_path):
    from sigmoidlab._kernels import cpu
    from sigmoidlab.cli import main

    args = ["bench", "--quick", "--sizes", "1000", "--repeats", "2", "--kernel", "all", "--after-torch", "3000"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    md = (tmp_path / "kernels.md").read_text()
    data = json.loads((tmp_path / "kernels.json").read_text())
    machine = data["machine"]
    assert machine["cores"] >= 1 and "avx2" in machine["flags"] and "avx512bw" in machine["flags"]
    assert machine["cpu"] == cpu.cpu_model() and machine["vector_extensions"] == cpu.vector_extensions()
    assert cpu.cpu_model() in md and "vector extensions: " in md
    assert machine["kernels"] == list(PATHS[::-1])  # --kernel all: each path, the best first
    rows = data["results"]
    assert {r["op"] for r in rows} == {"sigmoid", "sigmoid_grad", "sigmoid_and_grad"}
    assert {r["dtype"] for r in rows} == {"float32", "float64"}
    ours = [r for r in rows if r["kernel"]]
    assert {r["kernel"] for r in ours} == set(PATHS) and all(f"sigmoidlab ({k})" in md for k in PATHS)
    assert all(r["seconds"] > 0 and r["gbps"] > 0 and r["roofline_fraction"] > 0 for r in ours)
    assert all(r["calls_per_block"] >= 2 for r in rows) and "np.copyto" in md
    best = [r for r in ours if r["kernel"] == PATHS[-1]]
    assert all(r["sigmoidlab_speedup"] == 1.0 for r in best)  # the speed-up column is relative to the best path
    after = data["after_torch"]
    assert {(r["omp_wait_policy"], r["dtype"], r["n"]) for r in after} == {
        (p, d, 3000) for p in ("PASSIVE", "default") for d in ("float32", "float64")
    }
    assert all(r["alone_s"] > 0 and r["slowdown"] == r["after_torch_s"] / r["alone_s"] for r in after)
    assert "right after torch.sigmoid" in md
    memory = data["memory"]
    assert {m["op"] for m in memory} == {"sigmoid", "sigmoid_and_grad"} and "peak memory" in md
    assert all(m["peak_bytes"] >= m["output_bytes"] == 8000 * (1 + (m["op"] == "sigmoid_and_grad")) for m in memory)


def test_bench_one_path_without_torch_section_and_bad_kernel(tmp_path, capsys):
    from sigmoidlab.cli import main

    args = ["bench", "--sizes", "200", "--dtypes", "float64", "--repeats", "1", "--kernel", "scalar"]
    assert main([*args, "--after-torch", "none", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "kernels.json").read_text())
    assert data["machine"]["kernels"] == ["scalar"] and data["after_torch"] is None
    assert {r["kernel"] for r in data["results"] if r["kernel"]} == {"scalar"}
    assert U.get_kernel() in PATHS  # the bench restores the active path
    capsys.readouterr()
    assert main(["bench", "--kernel", "avx9000"]) == 2
    err = capsys.readouterr().err
    assert "--kernel='avx9000'" in err and len(err.strip().splitlines()) == 1


def test_bench_times_in_alternating_blocks_after_an_untimed_call():
    from sigmoidlab.cli.bench import time_in_blocks

    log: list[str] = []
    impls = {"a": (lambda: log.append("a"), lambda: log.append("setup a")), "b": (lambda: log.append("b"), None)}
    medians, calls = time_in_blocks(impls, repeats=3)
    assert set(medians) == {"a", "b"} and all(t > 0 for t in medians.values())
    runs = []  # the log as (item, repetitions)
    for item in log:
        if runs and runs[-1][0] == item:
            runs[-1][1] += 1
        else:
            runs.append([item, 1])
    block = [["setup a", 1], ["a", calls["a"] + 1], ["b", calls["b"] + 1]]
    assert runs == [["setup a", 1], ["a", 2], ["b", 2], *block * 3]  # warm-up round, then 3 alternating rounds
    assert calls["a"] >= 2 and calls["b"] >= 2
