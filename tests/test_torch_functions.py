"""sigmoidlab.torch's functions against mpmath in every dtype, beside torch's own autograd.

The contract: forward values are torch's, bit for bit; f' and f'' (what autograd returns) are correctly rounded
in float16/bfloat16, ≤ 2 ULP in float32 and ≤ 4 ULP in float64, never 0 where the true value is representable.
The rulers (mpmath references, proven correct rounding, input sets, torch's flush points) are those of
``benchmarks/torch_accuracy.py``, which prints the same measurements over larger sets.
"""

from __future__ import annotations

import functools
import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import sigmoidlab.torch as st  # noqa: E402
import torch_accuracy as T  # noqa: E402  (benchmarks/ is on sys.path: tests/conftest.py)
from accuracy import flushed_to_zero, ulp_error  # noqa: E402

NARROW_SPAN = {"bfloat16": (2.0, 16.0), "float16": (4.0, 16.0)}  # every value here: around torch's flush points


@functools.cache
def points(dtype_name: str) -> np.ndarray:
    """Every 16-bit value around the flush points plus every 24th elsewhere; float32/64 on a smaller range set."""
    dtype = T.DTYPES[dtype_name]
    if dtype_name not in NARROW_SPAN:
        return T.points(dtype, n=800, k=8)
    x = T.points(dtype)
    lo, hi = NARROW_SPAN[dtype_name]
    dense = (np.abs(x.astype(np.float64)) >= lo) & (np.abs(x.astype(np.float64)) < hi)
    near = T.neighbours(T.boundaries(dtype), dtype, 8)
    return np.unique(np.concatenate([x[dense], x[::24], near, -near]))


@functools.cache
def exact(name: str, order: int, dtype_name: str) -> tuple:
    narrow = dtype_name in NARROW_SPAN
    return tuple(T.reference(name, order, points(dtype_name), 100 if narrow else 200))


@functools.cache
def rounded(name: str, order: int, dtype_name: str) -> np.ndarray:
    x = points(dtype_name)
    return T.correctly_rounded(name, order, x, T.DTYPES[dtype_name], 100, exact(name, order, dtype_name))


@pytest.mark.parametrize("dtype_name", list(T.DTYPES))
@pytest.mark.parametrize("name", T.FUNCTIONS)
def test_forward_is_torchs_bit_for_bit(name: str, dtype_name: str) -> None:
    x = points(dtype_name)
    ours, theirs = T.evaluate("sigmoidlab.torch", name, 0, x), T.evaluate("torch", name, 0, x)
    assert ours.dtype == theirs.dtype == x.dtype
    np.testing.assert_array_equal(ours.view(f"u{x.itemsize}"), theirs.view(f"u{x.itemsize}"))


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("dtype_name", list(T.DTYPES))
@pytest.mark.parametrize("name", T.FUNCTIONS)
def test_derivatives_meet_the_contract(name: str, order: int, dtype_name: str) -> None:
    x = points(dtype_name)
    got = T.evaluate("sigmoidlab.torch", name, order, x)
    assert got.dtype == x.dtype
    reference = exact(name, order, dtype_name)
    assert not flushed_to_zero(got, reference).any(), x[flushed_to_zero(got, reference)][:5]
    if dtype_name in NARROW_SPAN:
        want = rounded(name, order, dtype_name)
        wrong = (got != want) & ~(np.isnan(got) & np.isnan(want))
        assert not wrong.any(), f"not correctly rounded at x = {x[wrong][:5]}: {got[wrong][:5]} vs {want[wrong][:5]}"
        return
    errors = ulp_error(got, reference)
    roots = T.ROOTS.get((name, order), ()) if dtype_name == "float64" else ()
    near_root = np.zeros(x.shape, dtype=bool)
    for r in roots:  # cancellation next to silu's zeros: there the bound is 2^-52 absolute
        near_root |= np.abs(x - r) < T.ROOT_WINDOW
        wrong = np.abs(got - np.array([float(v) for v in reference])) > 2.0**-52
        assert not (near_root & wrong).any(), x[near_root & wrong][:5]
    worst = np.argmax(np.where(near_root, 0, errors))
    assert errors[~near_root].max() <= T.CONTRACT_ULP[dtype_name], f"{errors[worst]:.3f} ULP at x = {x[worst]!r}"


# The README's table: x from which torch's autograd gradient is exactly 0.
FLUSH_TABLE = {
    ("sigmoid", "bfloat16"): (6.25, 1.9e-3),
    ("sigmoid", "float16"): (8.32, 2.4e-4),
    ("sigmoid", "float32"): (16.64, 6.0e-8),
    ("tanh", "bfloat16"): (3.47, 3.9e-3),
    ("tanh", "float16"): (4.51, 4.9e-4),
    ("tanh", "float32"): (9.01, 6.0e-8),
}


@pytest.mark.parametrize(("name", "dtype_name"), list(FLUSH_TABLE))
def test_torch_flushes_where_the_table_says_and_we_do_not(name: str, dtype_name: str) -> None:
    table_x, table_true = FLUSH_TABLE[name, dtype_name]
    x0 = T.flush_point(name, dtype_name)
    assert round(x0, 2) == table_x
    beyond = T.neighbours([x0], T.DTYPES[dtype_name], 50)
    beyond = beyond[beyond >= x0]  # x0 and the next 50 values of the dtype
    assert (T.evaluate("torch", name, 1, beyond) == 0).all()
    true = T.reference(name, 1, beyond[:1])[0]
    assert float(true) == pytest.approx(table_true, rel=0.05)
    ours = T.evaluate("sigmoidlab.torch", name, 1, beyond)
    want = T.correctly_rounded(name, 1, beyond, T.DTYPES[dtype_name])
    assert (ours > 0).all()
    assert (ulp_error(ours, T.reference(name, 1, beyond)) <= 0.5 + 2.0**-20).all()
    if dtype_name != "float32":
        np.testing.assert_array_equal(ours, want)


def test_bfloat16_error_of_torch_before_the_flush_is_large_and_ours_is_not() -> None:
    x = np.array([5.0], dtype=T.DTYPES["bfloat16"])
    true = float(T.reference("sigmoid", 1, x)[0])
    theirs = float(T.evaluate("torch", "sigmoid", 1, x)[0])
    ours = float(T.evaluate("sigmoidlab.torch", "sigmoid", 1, x)[0])
    assert abs(theirs - true) / true > 0.15  # 17% off, as reported
    assert abs(ours - true) / true < 2.0**-8


SPECIALS = (-math.inf, -0.0, 0.0, math.inf, math.nan)
# f, f', f'' at −inf, −0, +0, +inf, NaN: the limits, with torch's signs of zero, except where torch gives NaN
# (silu' and silu'' at ±inf: here the limits −0, 1 and −0, each approached from below) or a +0 for a derivative
# that is negative everywhere ((log σ)''(+inf) = −0). silu(−inf) is torch's NaN: the forward is torch's.
EXPECTED = {
    ("sigmoid", 0): (0.0, 0.5, 0.5, 1.0, math.nan),
    ("sigmoid", 1): (0.0, 0.25, 0.25, 0.0, math.nan),
    ("sigmoid", 2): (0.0, 0.0, 0.0, -0.0, math.nan),
    ("tanh", 0): (-1.0, -0.0, 0.0, 1.0, math.nan),
    ("tanh", 1): (0.0, 1.0, 1.0, 0.0, math.nan),
    ("tanh", 2): (0.0, 0.0, -0.0, -0.0, math.nan),
    ("log_sigmoid", 0): (-math.inf, -math.log(2), -math.log(2), 0.0, math.nan),
    ("log_sigmoid", 1): (1.0, 0.5, 0.5, 0.0, math.nan),
    ("log_sigmoid", 2): (-0.0, -0.25, -0.25, -0.0, math.nan),
    ("silu", 0): (math.nan, -0.0, 0.0, math.inf, math.nan),
    ("silu", 1): (-0.0, 0.5, 0.5, 1.0, math.nan),
    ("silu", 2): (-0.0, 0.5, 0.5, -0.0, math.nan),
}


@pytest.mark.parametrize("dtype_name", list(T.DTYPES))
@pytest.mark.parametrize(("name", "order"), list(EXPECTED))
def test_special_inputs(name: str, order: int, dtype_name: str) -> None:
    got = T.evaluate("sigmoidlab.torch", name, order, np.array(SPECIALS).astype(T.DTYPES[dtype_name]))
    got, want = got.astype(np.float64), np.array(EXPECTED[name, order]).astype(got.dtype).astype(np.float64)
    np.testing.assert_array_equal(got, want)  # NaN where NaN
    signed = ~np.isnan(want)  # the sign of a NaN means nothing
    np.testing.assert_array_equal(np.signbit(got[signed]), np.signbit(want[signed]))


@pytest.mark.parametrize("name", T.FUNCTIONS)
def test_gradcheck_and_gradgradcheck_in_float64(name: str) -> None:
    f = T.IMPLEMENTATIONS["sigmoidlab.torch"][name]
    x = torch.tensor([-30.0, -4.0, -1.2785, -0.3, 0.0, 1e-9, 0.7, 2.4, 9.0, 25.0], dtype=torch.float64)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))


@pytest.mark.parametrize("name", T.FUNCTIONS)
def test_third_order_follows_torchs_autograd_of_the_formulas(name: str) -> None:
    f = T.IMPLEMENTATIONS["sigmoidlab.torch"][name]
    x = torch.linspace(-6, 6, 25, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t: torch.autograd.grad(f(t).sum(), t, create_graph=True)[0], (x,))


def test_torch_func_transforms() -> None:
    x = torch.linspace(-20, 20, 9, dtype=torch.float32)
    exact = torch.from_numpy(np.array([float(v) for v in T.reference("sigmoid", 1, x.numpy())], dtype=np.float32))
    grad = torch.func.grad(lambda t: st.sigmoid(t).sum())(x)
    torch.testing.assert_close(grad, exact, rtol=2**-23, atol=0)
    per_row = torch.func.vmap(torch.func.grad(lambda t: st.tanh(t).sum()))(x.reshape(3, 3))
    leaf = x.clone().requires_grad_(True)
    (whole,) = torch.autograd.grad(st.tanh(leaf).sum(), leaf)
    torch.testing.assert_close(per_row.reshape(-1), whole, rtol=0, atol=0)
    _, tangent = torch.func.jvp(st.sigmoid, (x,), (torch.ones(9),))
    torch.testing.assert_close(tangent, exact, rtol=2**-23, atol=0)
    jacobian = torch.func.jacrev(st.silu)(x[:3])
    assert torch.count_nonzero(jacobian - torch.diag(torch.diagonal(jacobian))) == 0


def test_shapes_views_and_gradients_keep_dtype_and_layout() -> None:
    base = torch.linspace(-12, 12, 24, dtype=torch.bfloat16).reshape(4, 6)
    x = base.t().requires_grad_(True)  # non-contiguous
    y = st.sigmoid(x)
    assert y.shape == (6, 4) and y.dtype == torch.bfloat16
    y.backward(torch.full_like(y, 2.0))
    assert x.grad.dtype == torch.bfloat16 and x.grad.shape == (6, 4)
    want = 2 * T.correctly_rounded("sigmoid", 1, T.to_numpy(x.detach()).ravel(), T.DTYPES["bfloat16"])
    np.testing.assert_array_equal(T.to_numpy(x.grad).ravel(), want)  # ×2 is exact


def test_non_tensor_input_is_one_clear_error_and_integers_follow_torch() -> None:
    with pytest.raises(TypeError, match=r"sigmoidlab\.torch\.sigmoid: expected a torch\.Tensor, got float"):
        st.sigmoid(1.0)
    ints = torch.arange(-3, 4)
    torch.testing.assert_close(st.tanh(ints), torch.tanh(ints), rtol=0, atol=0)


def test_modules_are_drop_ins() -> None:
    for ours, theirs in [(st.nn.Sigmoid(), torch.nn.Sigmoid()), (st.nn.Tanh(), torch.nn.Tanh())]:
        assert isinstance(ours, type(theirs)) and repr(ours) == repr(theirs)
    x = torch.tensor([7.0, -7.0, 3.0], dtype=torch.bfloat16, requires_grad=True)
    for module, name in [(st.nn.Sigmoid(), "sigmoid"), (st.nn.Tanh(), "tanh"), (st.nn.LogSigmoid(), "log_sigmoid")]:
        (g,) = torch.autograd.grad(module(x).sum(), x)
        want = T.correctly_rounded(name, 1, T.to_numpy(x.detach()), T.DTYPES["bfloat16"])
        np.testing.assert_array_equal(T.to_numpy(g), want)
    for inplace in (False, True):
        t = x.detach().clone().requires_grad_(True)
        u = t * 1  # a non-leaf, as in a model
        out = st.nn.SiLU(inplace=inplace)(u)
        assert (out is u) == inplace
        (g,) = torch.autograd.grad(out.sum(), t)
        want = T.correctly_rounded("silu", 1, T.to_numpy(x.detach()), T.DTYPES["bfloat16"])
        np.testing.assert_array_equal(T.to_numpy(g), want)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_sigmoidlab_does_not_import_torch_and_without_torch_the_error_says_what_to_install() -> None:
    done = _run("import sys, sigmoidlab, sigmoidlab.nn; print('torch' in sys.modules)")
    assert done.stdout.strip() == "False", done.stderr
    blocked = _run("import sys; sys.modules['torch'] = None; import sigmoidlab.torch")
    assert blocked.returncode != 0
    assert "ImportError: sigmoidlab.torch needs PyTorch: pip install 'sigmoidlab[torch]'" in blocked.stderr
