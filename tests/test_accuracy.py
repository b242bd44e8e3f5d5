"""The accuracy contract of the sigmoid family, proven against mpmath on every kernel path.

Contract (README, "Accuracy"; :data:`sigmoidlab._testing.accuracy.CONTRACT`): sigmoid, log_sigmoid, softplus
≤ 1 ULP and sigmoid_grad, sigmoid_second_grad, logit ≤ 2 ULP (never 0 where the true value is representable) in
float64/float32 over the whole range; float16 and bfloat16 correctly rounded on all 65,536 inputs; the compiled
y·(1 − y) correctly rounded in every dtype. The ruler is :mod:`sigmoidlab._testing.accuracy` (the accuracy
benchmark measures with it too); its own correctness is tested first. Each reference is computed once and
every path (the NumPy reference path and each compiled kernel) is measured against it; on a compiled path the
raw ufunc must give the public function's bits.
"""

from __future__ import annotations

import functools
import math

import ml_dtypes
import mpmath
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from mpmath import mp

import sigmoidlab as sl
from sigmoidlab import ufuncs
from sigmoidlab._testing import accuracy as acc
from sigmoidlab._testing import kernel_paths, on_path
from sigmoidlab._testing import worst_case as wc
from sigmoidlab._testing.comparators import implementations

pytestmark = pytest.mark.usefixtures("strict_fp")

BF16 = np.dtype(ml_dtypes.bfloat16)
ALL_DTYPES = [np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.float16), BF16]
PATHS = kernel_paths()
COMPILED = PATHS[1:]  # the kernels this CPU runs; the raw ufuncs always take one of them


def _where(x: np.ndarray, mask: np.ndarray, limit: int = 5) -> str:
    return ", ".join(repr(v) for v in x.ravel()[mask.ravel()][:limit])


# --------------------------------------------------------------------------------------------- the ruler


def test_round_mpf_agrees_with_the_hardware_conversions():
    """Rounding an mpf to a format = NumPy's float64 → float32/float16 and ml_dtypes' float32 → bfloat16,
    which are correctly rounded: random bits, subnormals, overflow and exact ties included."""
    rng = np.random.default_rng(1)
    wide = rng.integers(0, 2**64, 3000, dtype=np.uint64).view(np.float64)
    wide = wide[np.isfinite(wide)]
    scales = np.logspace(-48, 38.6, 3000) * rng.choice([-1.0, 1.0], 3000)
    with np.errstate(invalid="ignore"):  # signalling NaNs
        halves, brains = (acc.all_values(dtype).astype(np.float64) for dtype in (np.float16, BF16))
    # exact midpoints between neighbours (round half to even)
    ties, bf_ties = (
        rng.choice((v[1:] + v[:-1]) / 2, 3000) for v in (halves[np.isfinite(halves)], brains[np.isfinite(brains)])
    )
    with np.errstate(over="ignore", under="ignore"):  # the hardware conversions saturate to inf and 0
        cases = [
            (np.concatenate([wide, scales, [3.5e38, 3.4028235e38, -4e38]]), np.float32),
            (np.concatenate([scales, ties, [65519.99, 65520.0, 1e-8, 2.9802322e-08, 3e-08]]), np.float16),
            (np.concatenate([scales, ties, bf_ties]).astype(np.float32), BF16),
        ]
        for values, dtype in cases:
            expected = values.astype(dtype).astype(np.float64)
            got = np.array([acc.round_mpf(mp.mpf(float(v)), dtype)[0] for v in values])
            assert np.array_equal(got, expected), f"{np.dtype(dtype)}: {_where(values, got != expected)}"


def test_round_mpf_flags_values_too_close_to_a_midpoint():
    with mp.workprec(300):
        above = (1 + mp.mpf(2) ** -11) * (1 + mp.mpf(2) ** -120)  # 2^-120 above a float16 midpoint
    assert acc.round_mpf(above, np.float16, 100) == (1 + 2**-10, False)  # within the error of a 100-bit value
    assert acc.round_mpf(above, np.float16, 200) == (1 + 2**-10, True)
    assert acc.round_mpf(mp.mpf(1.5), np.float16, 100) == (1.5, True)


def test_ulp_is_the_spacing_at_the_exact_value_including_subnormals():
    assert acc.ulp(mp.mpf(1), np.float64) == mp.mpf(2) ** -52
    assert acc.ulp(mp.mpf(0.75), np.float64) == mp.mpf(2) ** -53
    assert acc.ulp(mp.mpf("1e-320"), np.float64) == acc.ulp(mp.mpf(0), np.float64) == mp.mpf(2) ** -1074
    assert acc.ulp(mp.mpf(-3), np.float32) == mp.mpf(2) ** -22
    assert acc.ulp(mp.mpf("1e-45"), np.float32) == mp.mpf(2) ** -149
    assert acc.ulp(mp.mpf(1), BF16) == mp.mpf(2) ** -7
    assert acc.ulp(mp.mpf(65504), np.float16) == 32


def test_ulp_error_is_measured_against_the_unrounded_value():
    # Against the reference rounded to float64 first (1 + 2^-52), this 0.503-ULP error would read as 1 ULP.
    with mp.workprec(200):
        exact = 1 + mp.mpf("0.503") * mp.mpf(2) ** -52
    errors = acc.ulp_error(np.array([1.0, 1 + 2**-52]), [exact, exact])
    assert errors == pytest.approx([0.503, 0.497], abs=1e-12)
    assert acc.ulp_error(np.array([np.nan, np.inf, 0.0, np.inf]), [mp.nan, mp.inf, mp.inf, mp.ninf]).tolist() == [
        0.0,
        0.0,
        math.inf,
        math.inf,
    ]


_TEXTBOOK = {
    "sigmoid": lambda x: 1 / (1 + mp.exp(-x)),
    "sigmoid_grad": lambda x: (1 / (1 + mp.exp(-x))) * (1 - 1 / (1 + mp.exp(-x))),
    "sigmoid_second_grad": lambda x: (1 / (1 + mp.exp(-x))) * (1 - 1 / (1 + mp.exp(-x))) * (1 - 2 / (1 + mp.exp(-x))),
    "log_sigmoid": lambda x: mp.log(1 / (1 + mp.exp(-x))),
    "softplus": lambda x: mp.log(1 + mp.exp(x)),
    "logit": lambda p: mp.log(p) - mp.log(1 - p),
}


@pytest.mark.parametrize("name", acc.FUNCTIONS)
def test_reference_is_the_textbook_formula(name):
    """At 4,000 bits the cancelling textbook forms (1 − σ, 1 − 2σ, log of σ) are exact enough to check the
    200-bit reference to 2^-200 in the hard places: the subnormal tails, near 0, the flush boundaries."""
    if name == "logit":
        points = [5e-324, 1e-300, 0.25, 0.3, 0.5 - 2**-54, 0.5 + 2**-53, 0.75, 1 - 2**-53]
    else:
        points = [s * x for x in (5e-324, 1e-300, 1e-8, 0.5, 1.3, 16.7, 40.0, 700.0, 745.2, 1100.0) for s in (1, -1)]
    reference = acc.reference_values(name, points)
    with mp.workprec(4000):
        textbook = [_TEXTBOOK[name](mp.mpf(x)) for x in points]
        for x, v, t in zip(points, reference, textbook, strict=True):
            assert abs(v - t) <= abs(t) * mp.mpf(2) ** -200, f"{name}({x!r}): {mp.nstr(v, 30)} vs {mp.nstr(t, 30)}"


@pytest.mark.parametrize("name", acc.FUNCTIONS)
def test_reference_is_accurate_to_its_precision(name):
    """The 200-bit and 400-bit references agree to 2^-200 on every hard case, 1e300 and subnormals included."""
    x = acc.hard_cases(name, np.float64)
    for v200, v400, xi in zip(acc.reference_values(name, x, 200), acc.reference_values(name, x, 400), x, strict=True):
        if mp.isfinite(v400):
            assert abs(v200 - v400) <= abs(v400) * mp.mpf(2) ** -200, f"{name}({xi!r})"
        else:
            assert v200 == v400 or (mp.isnan(v200) and mp.isnan(v400)), f"{name}({xi!r})"


def test_correct_rounding_is_decided_even_next_to_a_midpoint():
    # σ''(12·2^-133) = −1.5·2^-133·(1 − 5x²/12 + …): 1e-78 relative short of a bfloat16 midpoint, invisible at
    # 100 bits, so correctly_rounded must recompute it (to toward zero: one subnormal step, not two).
    x = np.array([12 * 2.0**-133, 3 * 2.0**-10], dtype=np.float32)
    assert acc.round_mpf(acc.reference_values("sigmoid_second_grad", x[:1], 100)[0], BF16, 100)[1] is False
    assert acc.correctly_rounded("sigmoid_second_grad", x[:1], BF16)[0] == -(2.0**-133)
    # σ(3·2^-10) = ½ + 1.5·2^-11 − x³/48: just below a float16 midpoint.
    assert acc.correctly_rounded("sigmoid", x[1:], np.float16)[0] == 0.5 + 2**-11


@pytest.mark.parametrize("dtype", acc.WIDE_DTYPES)
@pytest.mark.parametrize("name", wc.SEARCHED)
def test_double_double_reference_agrees_with_mpmath(name, dtype):
    """The worst-case search's cheap reference: within 2^-90 relative of mpmath, subnormal results included,
    so its ULP errors match :func:`ulp_error` to 1e-9 ULP."""
    x = np.concatenate([wc.fuzz_inputs(acc.DTYPES[dtype], 600, seed=3), acc.hard_cases(name, acc.DTYPES[dtype])])
    x = x[np.abs(x) < 1000]
    k, v = wc.dd_reference(name, x.astype(np.float64))
    exact = acc.reference_values(name, x)
    with mp.workprec(300):
        for xi, ki, hi, lo, e in zip(x, k, *v, exact, strict=True):
            value = (mp.mpf(float(hi)) + mp.mpf(float(lo))) * mp.mpf(2) ** int(ki)
            assert abs(value - e) <= abs(e) * mp.mpf(2) ** -90, f"{name}({xi!r})"
    got = getattr(sl, name)(x)
    np.testing.assert_allclose(wc.dd_ulp_error(got, k, v, got.dtype), acc.ulp_error(got, exact), rtol=0, atol=1e-9)


def test_fuzz_inputs_are_reproducible_and_cover_the_tail_above_the_smallest_normal():
    x = wc.fuzz_inputs(np.float64, 4000, seed=7)
    assert np.array_equal(x, wc.fuzz_inputs(np.float64, 4000, seed=7)) and x.size == 4000
    assert not np.array_equal(x, wc.fuzz_inputs(np.float64, 4000, seed=8))
    tiny = math.log(np.finfo(np.float64).tiny)  # −708.4
    assert ((x > tiny - 1) & (x < tiny + 9)).sum() >= 1000 and x.min() > -746


@pytest.mark.parametrize("name", [*wc.SEARCHED, "log_sigmoid", "softplus"])
def test_known_worst_cases_within_contract_on_every_path(name, on_every_path):
    """σ(−707.445954356504) was 0.7503 ULP (a 16-million-point fuzz), −707.3618105 is 0.7605: where σ is just
    above the smallest normal number, the kernel's exp(−|x|) loses its last bits; σ', log σ(+x) ≈ −e^(−x) and
    softplus(−x) ≈ e^(−x) share it. Within 1 ULP on every path."""
    x = np.array([-w for w in acc.KNOWN_WORST] + list(acc.KNOWN_WORST))
    exact = acc.reference_values(name, x)
    for path, got in on_every_path(lambda: getattr(sl, name)(x)).items():
        errors = acc.ulp_error(got, exact)
        assert errors.max() <= acc.CONTRACT[name].max_ulp and errors.max() <= 1, f"[{path}] {errors} at {x}"


def test_worst_case_search_reports_a_maximum_confirmed_by_mpmath():
    result = wc.worst_case_search("sigmoid", "float64", n=2048, seed=1, top=4)
    hard = acc.hard_cases("sigmoid", np.float64)
    assert result["inputs"] == 2048 + int((np.abs(hard) < 1000).sum()) and result["fuzzed"] == 2048
    known = np.array([-w for w in acc.KNOWN_WORST])
    for path, entry in result["paths"].items():
        at_worst = on_path(path, sl.sigmoid, np.array([entry["worst_input"], entry["fuzz_worst_input"]]))
        at_known = on_path(path, sl.sigmoid, known)
        confirmed = acc.ulp_error(
            at_worst, acc.reference_values("sigmoid", [entry["worst_input"], entry["fuzz_worst_input"]])
        )
        assert confirmed.tolist() == [entry["max_ulp"], entry["fuzz_max_ulp"]], path
        # The hard cases are searched too: the maximum is at least the error at each known worst case.
        assert entry["max_ulp"] >= acc.ulp_error(at_known, acc.reference_values("sigmoid", known)).max(), path
        assert entry["max_ulp"] <= 1 and entry["dd_gap"] < 1e-9, path


def test_torch_is_measured_in_the_dtype_of_the_input():
    """The torch column once cast float64 input to float32 first (2.5e+11 ULP for log σ instead of ~1.3)."""
    x = np.linspace(-40, 40, 1001)
    for dtype, torch_dtype in ((np.float64, torch.float64), (np.float32, torch.float32)):
        got = implementations()["torch"]["sigmoid"](x.astype(dtype))
        expected = torch.sigmoid(torch.tensor(x, dtype=torch_dtype)).numpy()
        assert got.dtype == dtype and np.array_equal(got, expected)


# ------------------------------------------------------------------------------------------ the contract


# The references are computed once per (function, dtype) and shared by the paths.


@functools.cache
def _wide_case(name: str, dtype: str) -> tuple[np.ndarray, list]:
    """The inputs (the benchmark's whole-range set and a second sample) and their exact values."""
    x = np.concatenate([acc.range_points(name, dtype), acc.grid_points(name, dtype)])
    return x, acc.reference_values(name, x)


@functools.cache
def _narrow_case(name: str, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    x = acc.all_values(dtype)
    return x, acc.correctly_rounded(name, x, dtype)  # 100 bits, proven by Ziv's test (see accuracy.py)


@functools.cache
def _from_output_case(dtype: str) -> tuple[np.ndarray, np.ndarray]:
    y = acc.all_values(dtype) if dtype in acc.NARROW_DTYPES else acc.output_points(dtype)
    return y, acc.correctly_rounded("sigmoid_grad_from_output", y, dtype)  # exact, rounded once


def _results(path: str, name: str, x: np.ndarray) -> np.ndarray:
    """The public function's result on ``path``; on a compiled path the raw ufunc must give the same bits."""
    got = on_path(path, getattr(sl, name), x)
    if path != "reference":
        raw = on_path(path, getattr(ufuncs, name), x)
        assert raw.dtype == got.dtype and np.array_equal(raw.view(np.uint8), got.view(np.uint8)), path
    return got


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", acc.WIDE_DTYPES)
@pytest.mark.parametrize("name", acc.FUNCTIONS)
def test_float64_float32_within_contract_over_the_whole_range(name, dtype, path):
    x, exact = _wide_case(name, dtype)
    got = _results(path, name, x)
    assert got.dtype == dtype
    problems = acc.contract_failures(name, x, got, exact)
    assert not problems, f"{name} [{path}] {dtype}: " + "; ".join(problems)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", acc.NARROW_DTYPES)
@pytest.mark.parametrize("name", acc.FUNCTIONS)
def test_float16_bfloat16_correctly_rounded_on_all_65536_inputs(name, dtype, path):
    x, expected = _narrow_case(name, dtype)
    got = _results(path, name, x)
    assert got.dtype == dtype
    wrong = ~((got == expected) | (np.isnan(got) & np.isnan(expected)))
    assert not wrong.any(), (
        f"{name} [{path}] {dtype}: {int(wrong.sum())} inputs not correctly rounded, e.g. x = {_where(x, wrong)} "
        f"-> {_where(got, wrong)} instead of {_where(expected, wrong)}"
    )


@pytest.mark.parametrize("path", COMPILED)
@pytest.mark.parametrize("dtype", list(acc.DTYPES))
def test_grad_from_output_is_correctly_rounded(dtype, path):
    """The compiled y·(1 − y) against the exact product rounded once: saved outputs σ(x), tiny and near-1 y,
    few-bit dyadics, y outside [0, 1], overflow, ±0, ±inf, NaN (float64/float32); every input (16-bit types)."""
    y, expected = _from_output_case(dtype)
    got = _results(path, "sigmoid_grad_from_output", y)
    strided = on_path(path, ufuncs.sigmoid_grad_from_output, y[::3])
    assert got.dtype == acc.DTYPES[dtype] and np.array_equal(strided, got[::3], equal_nan=True)
    wrong = ~((got == expected) | (np.isnan(got) & np.isnan(expected)))
    assert not wrong.any(), f"[{path}] {dtype}: y = {_where(y, wrong)} -> {_where(got, wrong)}"
    zeros = got == 0  # at y = ±0 and 1: the sign IEEE arithmetic gives y·(1 − y) (−0·(1 + 0) = −0)
    with np.errstate(invalid="ignore"):  # signalling NaNs
        y64 = y[zeros].astype(np.float64)
    assert np.array_equal(np.signbit(got[zeros]), np.signbit(y64 * (1 - y64))), f"[{path}] signs of zero"


# ----------------------------------------------------------------------------------- exact special values

INF, NAN = math.inf, math.nan
SPECIAL = [
    ("sigmoid", [INF, -INF, NAN, 0.0, -0.0], [1.0, 0.0, NAN, 0.5, 0.5]),
    ("sigmoid_grad", [INF, -INF, NAN, 0.0, -0.0], [0.0, 0.0, NAN, 0.25, 0.25]),
    ("sigmoid_second_grad", [INF, -INF, NAN, 0.0, -0.0], [0.0, 0.0, NAN, 0.0, 0.0]),
    ("log_sigmoid", [INF, -INF, NAN, 0.0], [0.0, -INF, NAN, -math.log(2)]),
    ("softplus", [INF, -INF, NAN, 0.0], [INF, 0.0, NAN, math.log(2)]),
    ("logit", [0.0, -0.0, 1.0, 0.5, NAN, -0.25, -1.0, -INF, 1.5, 2.0, INF], [-INF, -INF, INF, 0.0] + [NAN] * 7),
    ("sigmoid_grad_from_output", [0.0, 1.0, 0.5, NAN], [0.0, 0.0, 0.25, NAN]),
]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize(("name", "x", "expected"), SPECIAL, ids=[s[0] for s in SPECIAL])
def test_special_values_are_exact(name, x, expected, dtype, on_every_path):
    x = np.array(x).astype(dtype)
    want = np.array(expected).astype(dtype)  # ln 2 rounded to the dtype: exact for a correct rounding
    for path, got in on_every_path(lambda: getattr(sl, name)(x)).items():
        assert got.dtype == dtype
        assert np.array_equal(got.astype(np.float64), want.astype(np.float64), equal_nan=True), f"[{path}] {got}"


@pytest.mark.parametrize(
    ("name", "x", "negative"),
    [
        # σ''(x) = −σ'(x)·tanh(x/2) is odd and negative for x > 0: σ''(+0) = −0 and σ''(−0) = +0.
        ("sigmoid_second_grad", [0.0, -0.0, 5e-324, -5e-324, 1e300, -1e300], [True, False, True, False, True, False]),
        ("log_sigmoid", [np.inf, 1e300], [True, True]),  # log σ < 0 underflows to −0
        ("softplus", [-np.inf, -1e300], [False, False]),
    ],
)
def test_zeros_carry_the_sign_of_the_function(name, x, negative, on_every_path):
    for path, got in on_every_path(lambda: getattr(sl, name)(np.array(x))).items():
        assert (got == 0).all() and np.signbit(got).tolist() == negative, (path, got)


@pytest.mark.parametrize(
    ("name", "x", "expected"),
    [
        ("sigmoid", -720.0, 2.0322e-313),  # subnormal tail: computed, not flushed
        ("sigmoid", -745.0, 5e-324),
        ("sigmoid_grad", 720.0, 2.0322e-313),
        ("sigmoid_grad", -40.0, 4.248354255291589e-18),
        ("log_sigmoid", -1e308, -1e308),
        ("log_sigmoid", 40.0, -4.248354255291589e-18),
        ("softplus", 1e308, 1e308),
        ("softplus", -720.0, 2.0322e-313),
        ("logit", 5e-324, -744.4400719213812),
        ("logit", 1 - 2**-53, 36.7368005696771),
    ],
)
def test_tails_are_correctly_rounded(name, x, expected, on_every_path):
    exact = acc.correctly_rounded(name, [x], np.float64, prec=200)[0]
    assert exact == pytest.approx(expected, rel=1e-4)
    for path, got in on_every_path(lambda: getattr(sl, name)(x)).items():
        assert type(got) is np.float64 and got == exact, f"{name}({x}) [{path}] = {got!r}, expected {exact!r}"


def test_backprop_form_flushes_where_the_stable_derivative_does_not(on_every_path):
    """sigmoid_grad_from_output is the anchor, not held to the contract: y·(1−y) is 0 once y rounds to 1."""
    x = np.array([40.0, 700.0])
    exact = acc.reference_values("sigmoid_grad", x)
    for path, (stable, cheap) in on_every_path(
        lambda: (sl.sigmoid_grad(x), sl.sigmoid_grad_from_output(sl.sigmoid(x)))
    ).items():
        assert cheap.tolist() == [0.0, 0.0], path
        assert acc.ulp_error(stable, exact).max() <= 1, path


# ------------------------------------------------------------------------------- binary cross-entropy


def _bce_exact(z: float, t: float, w: float) -> tuple[mpmath.mpf, mpmath.mpf, mpmath.mpf]:
    """Exact loss, gradient, and the size of the gradient's terms (the scale of its rounding)."""
    with mp.workprec(264):
        zm, tm, wm = mp.mpf(z), mp.mpf(t), mp.mpf(w)
        s_pos, s_neg = acc.reference_values("softplus", [zm, -zm])
        sig_pos, sig_neg = acc.reference_values("sigmoid", [zm, -zm])
        loss = (wm * tm * s_neg if t else 0) + ((1 - tm) * s_pos if t != 1 else 0)
        positive, negative = (1 - tm) * sig_pos, wm * tm * sig_neg
        return loss, positive - negative, positive + negative


@pytest.mark.parametrize("pos_weight", [None, 2.5])
def test_bce_elementwise_loss_and_gradient_against_mpmath(pos_weight, on_every_path):
    z = np.array([s * v for v in (0.0, 1e-300, 1e-8, 0.3, 2.0, 17.0, 40.0, 300.0, 720.0, 1e300) for s in (1, -1)])
    t = np.array([0.0, 1.0, 0.3, 0.9, 1e-10])
    zz, tt = np.broadcast_arrays(z[:, None], t[None, :])
    w = 1.0 if pos_weight is None else pos_weight
    exact = [_bce_exact(zi, ti, w) for zi, ti in zip(zz.ravel(), tt.ravel(), strict=True)]
    loss_exact, grad_exact, grad_scale = zip(*exact, strict=True)
    results = on_every_path(
        lambda: sl.binary_cross_entropy_with_logits(zz, tt, reduction="none", pos_weight=pos_weight, return_grad=True)
    )
    for path, (loss, grad) in results.items():
        errors = acc.ulp_error(loss.ravel(), loss_exact)
        worst = int(np.argmax(errors))
        assert errors[worst] <= 2, f"[{path}] loss {errors[worst]:.3f} ULP at z={zz.flat[worst]}, t={tt.flat[worst]}"
        # The gradient (1 − t)·σ(z) − w·t·σ(−z) cancels by design near σ(z) = t: its error is bounded by the
        # rounding of its terms, 2 ULP of their size.
        tolerance = np.array([float(2 * acc.ulp(s, np.float64)) for s in grad_scale])
        deviation = np.array([float(abs(mp.mpf(g) - e)) for g, e in zip(grad.ravel(), grad_exact, strict=True)])
        bad = deviation > tolerance
        assert not bad.any(), f"[{path}] gradient off at z={_where(zz, bad)}, t={_where(tt, bad)}"


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("pos_weight", [None, 3.0, "per-column"])
def test_bce_matches_torch_loss_and_autograd(reduction, pos_weight, on_every_path):
    rng = np.random.default_rng(5)
    z = rng.normal(0, 6, (64, 3))
    t = np.concatenate([rng.integers(0, 2, (32, 3)), rng.uniform(0, 1, (32, 3))]).astype(np.float64)
    w = np.array([0.5, 1.0, 4.0]) if pos_weight == "per-column" else pos_weight
    zt = torch.tensor(z, requires_grad=True)
    expected = F.binary_cross_entropy_with_logits(
        zt, torch.tensor(t), pos_weight=None if w is None else torch.as_tensor(w), reduction=reduction
    )
    (expected_grad,) = torch.autograd.grad(expected, zt, torch.ones_like(expected))
    results = on_every_path(
        lambda: sl.binary_cross_entropy_with_logits(z, t, reduction=reduction, pos_weight=w, return_grad=True)
    )
    # torch computes (1 − t)·z − log σ(z), which cancels when the loss is small against |z|: allow for that.
    cancellation = 8 * np.finfo(np.float64).eps * (np.abs(z).max() + 1)
    for path, (loss, grad) in results.items():
        assert np.shape(loss) == tuple(expected.shape) and grad.shape == z.shape, path
        np.testing.assert_allclose(loss, expected.detach().numpy(), rtol=1e-13, atol=cancellation, err_msg=path)
        np.testing.assert_allclose(grad, expected_grad.numpy(), rtol=1e-12, atol=1e-300, err_msg=path)


def test_bce_gradient_matches_finite_differences(on_every_path):
    rng = np.random.default_rng(9)
    z, t, h = rng.normal(0, 3, 50), rng.uniform(0, 1, 50), 1e-6
    for path, (_, grad) in on_every_path(
        lambda: sl.binary_cross_entropy_with_logits(z, t, reduction="sum", pos_weight=1.7, return_grad=True)
    ).items():
        up = sl.binary_cross_entropy_with_logits(z + h, t, reduction="none", pos_weight=1.7)
        down = sl.binary_cross_entropy_with_logits(z - h, t, reduction="none", pos_weight=1.7)
        np.testing.assert_allclose(grad, (up - down) / (2 * h), rtol=1e-6, atol=1e-9, err_msg=path)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_bce_with_infinite_logits_is_never_nan(dtype, on_every_path):
    z = np.array([INF, -INF, INF, -INF, INF, -INF, NAN]).astype(dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 1.0]).astype(dtype)
    want_loss = [0.0, 0.0, INF, INF, INF, INF, NAN]
    want_grad = [0.0, 0.0, 1.0, -1.0, 0.5, -0.5, NAN]
    for path, (loss, grad) in on_every_path(
        lambda: sl.binary_cross_entropy_with_logits(z, t, reduction="none", return_grad=True)
    ).items():
        assert loss.dtype == grad.dtype == dtype, path
        assert np.array_equal(loss.astype(float), want_loss, equal_nan=True), f"[{path}] {loss}"
        assert np.array_equal(grad.astype(float), want_grad, equal_nan=True), f"[{path}] {grad}"
    loss, grad = sl.binary_cross_entropy_with_logits(z[:4], t[:4], pos_weight=3.0, reduction="none", return_grad=True)
    assert loss.astype(float).tolist() == [0.0, 0.0, INF, INF]
    assert grad.astype(float).tolist() == [0.0, 0.0, 1.0, -3.0]


# ------------------------------------------------------------------------------------------- properties

FLOAT64 = st.floats(allow_nan=False, allow_infinity=False)
FLOAT32 = st.floats(allow_nan=False, allow_infinity=False, width=32)
BOTH = st.one_of(FLOAT64.map(np.float64), FLOAT32.map(np.float32))
PROPERTY = settings(max_examples=300, deadline=None)


def _spacing(v: np.ndarray) -> np.ndarray:
    """The spacing of v's dtype at |v| (above |v|, or below it at the largest finite value)."""
    a = np.abs(v)
    with np.errstate(under="ignore", over="ignore"):  # subnormal spacing; np.spacing(max) is inf
        s = np.spacing(a)
        return np.where(np.isinf(s) & np.isfinite(a), a - np.nextafter(a, 0 * a), s)


@PROPERTY
@given(BOTH)
def test_sigmoid_is_symmetric(x):
    # σ(−x) = 1 − σ(x): for x ≥ 0 the subtraction 1 − σ(x) is exact, so they differ by the roundings of σ.
    x = abs(x)
    lower, upper = sl.sigmoid(-x), sl.sigmoid(x)
    assert abs(float(lower) - (1 - float(upper))) <= float(_spacing(upper) + _spacing(lower))


@PROPERTY
@given(BOTH)
def test_sigmoid_grad_is_even_and_at_most_a_quarter(x):
    assert sl.sigmoid_grad(x) == sl.sigmoid_grad(-x) <= 0.25
    assert sl.sigmoid_grad(x) >= 0


@PROPERTY
@given(st.floats(-700, 36, allow_nan=False))
def test_logit_inverts_sigmoid(x):
    # y = σ(x) carries one rounding, which logit amplifies by 1/σ'(x); logit itself adds ≤ 2 ULP of x.
    y = sl.sigmoid(x)
    tolerance = 2 * _spacing(y) / sl.sigmoid_grad(x) + 3 * _spacing(np.float64(x))
    assert abs(sl.logit(y) - x) <= tolerance


@PROPERTY
@given(BOTH)
def test_log_sigmoid_difference_is_x(x):
    # log σ(x) − log σ(−x) = x, up to one rounding of each term and of the difference.
    d = sl.log_sigmoid(x).astype(np.float64) - sl.log_sigmoid(-x).astype(np.float64)
    tolerance = 2 * (_spacing(sl.log_sigmoid(x)) + _spacing(sl.log_sigmoid(-x))) + _spacing(x)
    assert abs(d - x) <= tolerance


@PROPERTY
@given(BOTH)
def test_softplus_difference_is_x(x):
    d = sl.softplus(x).astype(np.float64) - sl.softplus(-x).astype(np.float64)
    tolerance = 2 * (_spacing(sl.softplus(x)) + _spacing(sl.softplus(-x))) + _spacing(x)
    assert abs(d - x) <= tolerance


@PROPERTY
@given(st.lists(FLOAT64, min_size=2, max_size=50), st.sampled_from(["float64", "float32"]))
def test_monotone_on_sorted_inputs(values, dtype):
    with np.errstate(over="ignore", under="ignore"):  # float64 → float32 saturates to ±inf or 0: still sorted
        x = np.sort(np.array(values).astype(dtype))
    for f in (sl.sigmoid, sl.log_sigmoid, sl.softplus, sl.logit):
        y = f(x if f is not sl.logit else sl.sigmoid(x))
        assert np.all(y[1:] >= y[:-1]), f.__name__
