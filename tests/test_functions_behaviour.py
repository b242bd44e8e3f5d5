"""The function family behaves like NumPy ufuncs, on every kernel path.

Scalars in, NumPy scalars out; lists, 0-d and N-d arrays, any strides; ``out=``; integers and bools computed
in float64; float16, bfloat16, float32, float64 and longdouble kept; complex, object and string input
rejected with a TypeError that names the function and the dtype; no floating-point warning, ever.
"""

from __future__ import annotations

import re

import ml_dtypes
import numpy as np
import pytest

import accuracy as acc
import sigmoidlab as sl

pytestmark = pytest.mark.usefixtures("strict_fp", "kernel_path")

BF16 = np.dtype(ml_dtypes.bfloat16)
UNARY = ["sigmoid", "sigmoid_grad", "sigmoid_grad_from_output", "sigmoid_second_grad", "log_sigmoid", "softplus"]
UNARY += ["logit"]
FLOATS = [np.dtype(np.float16), BF16, np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.longdouble)]


def _inputs(name: str, shape: tuple[int, ...] = (24,), dtype=np.float64) -> np.ndarray:
    """Values in the function's domain (probabilities for logit and the from-output form), with a NaN."""
    n = int(np.prod(shape))
    x = np.linspace(0, 1, n) if name in ("logit", "sigmoid_grad_from_output") else np.linspace(-30, 30, n)
    x[n // 3] = np.nan
    return x.reshape(shape).astype(dtype)


def _same(a, b) -> bool:
    """Bitwise equal values (NaN equal to NaN), same dtype and shape."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("name", UNARY)
def test_python_scalars_give_numpy_float64_scalars(name):
    f = getattr(sl, name)
    for value in (0.25, 0, 1, True, False):
        result = f(value)
        assert type(result) is np.float64, (value, type(result))
        assert result == f(np.array([float(value)]))[0]


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_float_dtypes_are_kept_for_arrays_and_scalars(name, dtype):
    f = getattr(sl, name)
    x = _inputs(name, dtype=dtype)
    assert f(x).dtype == dtype
    scalar = f(x[1])
    assert isinstance(scalar, np.generic) and scalar.dtype == dtype
    assert _same(scalar, f(x)[1])


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint8, np.uint64, np.bool_])
@pytest.mark.parametrize("name", UNARY)
def test_integers_and_bools_are_computed_in_float64(name, dtype):
    f = getattr(sl, name)
    x = np.array([0, 1, 1, 0], dtype=dtype)
    assert _same(f(x), f(x.astype(np.float64)))


@pytest.mark.parametrize("name", UNARY)
def test_lists_zero_d_and_n_d_arrays(name):
    f = getattr(sl, name)
    x = _inputs(name, (2, 3, 4))
    flat = f(x.ravel())
    assert _same(f(x), flat.reshape(2, 3, 4))
    assert _same(f(x.tolist()), f(x))
    zero_d = f(np.array(x[0, 0, 1]))
    assert type(zero_d) is np.float64 and zero_d == flat[1]  # a 0-d array gives a scalar, as NumPy ufuncs do
    assert _same(f(np.empty((2, 0))), np.empty((2, 0)))


@pytest.mark.parametrize("name", UNARY)
def test_any_memory_layout_gives_the_same_values(name):
    f = getattr(sl, name)
    x = _inputs(name, (40, 30), np.float32)
    for view in (x[::3, 1::2], x.T, x[::-1, ::-1], np.asfortranarray(x), x.astype(np.dtype(">f4"))):
        assert np.array_equal(f(view), f(np.ascontiguousarray(view, dtype=np.float32)), equal_nan=True)


@pytest.mark.parametrize("name", UNARY)
def test_out_is_written_and_returned(name):
    f = getattr(sl, name)
    x = _inputs(name, (4, 6), np.float32)
    expected = f(x)
    out = np.full((4, 6), -7.0, dtype=np.float32)
    assert f(x, out=out) is out
    assert _same(out, expected)
    assert f(x, out=x) is x  # in place, like np.exp(x, out=x)
    assert _same(x, expected)
    strided = np.zeros((4, 12), dtype=np.float32)[:, ::2]
    assert f(_inputs(name, (4, 6), np.float32), out=strided) is strided
    assert _same(strided, expected)


@pytest.mark.parametrize("name", UNARY)
def test_bad_out_is_rejected(name):
    f = getattr(sl, name)
    x = _inputs(name, (6,))
    with pytest.raises(ValueError):
        f(x, out=np.empty(5))
    with pytest.raises(TypeError):
        f(x, out=np.empty(6, dtype=np.int64))


@pytest.mark.parametrize(
    ("value", "dtype_name"),
    [
        (np.array([1 + 2j]), "complex128"),
        (np.array([1.0], dtype=np.complex64), "complex64"),
        (1j, "complex128"),
        (np.array([0.5], dtype=object), "object"),
        (np.array(["0.5"]), "<U3"),
        (np.array(["2024-01-01"], dtype="datetime64[D]"), "datetime64[D]"),
    ],
)
@pytest.mark.parametrize("name", UNARY)
def test_unsupported_dtypes_raise_a_type_error_naming_function_and_dtype(name, value, dtype_name):
    with pytest.raises(TypeError, match=rf"{name}\(\).*{re.escape(dtype_name)}"):
        getattr(sl, name)(value)


@pytest.mark.parametrize("name", UNARY)
def test_nan_propagates_elementwise_and_input_is_not_modified(name):
    f = getattr(sl, name)
    x = _inputs(name, (24,))
    before = x.copy()
    y = f(x)
    assert _same(x, before)
    assert np.isnan(y[8]) and not np.isnan(np.delete(y, 8)).any()


def test_sigmoid_grad_uses_the_stable_form_where_the_output_form_is_zero():
    """σ'(40) and σ'(700) are e^-40 and e^-700 to within 1 ULP; y·(1 − y) from y = σ(x) = 1.0 gives 0."""
    x = np.array([40.0, 700.0, -700.0])
    exact = acc.reference_values("sigmoid_grad", x)
    assert acc.ulp_error(sl.sigmoid_grad(x), exact).max() <= 1
    assert sl.sigmoid_grad_from_output(sl.sigmoid(x[:2])).tolist() == [0.0, 0.0]


def test_sigmoid_and_grad_is_the_pair_of_separate_functions():
    for dtype in (np.float64, np.float32, np.float16, BF16):
        x = _inputs("sigmoid", (5, 7), dtype)
        y, g = sl.sigmoid_and_grad(x)
        assert _same(y, sl.sigmoid(x)) and _same(g, sl.sigmoid_grad(x))


# ---------------------------------------------------------------------------------- binary cross-entropy


def test_bce_broadcasts_logits_targets_and_pos_weight():
    z = np.linspace(-3, 3, 3)[:, None]
    t = np.array([0.0, 0.25, 1.0, 1.0])
    w = np.array([1.0, 2.0, 0.5, 3.0])
    loss, grad = sl.binary_cross_entropy_with_logits(z, t, reduction="none", pos_weight=w, return_grad=True)
    assert loss.shape == grad.shape == (3, 4)
    zz, tt, ww = np.broadcast_arrays(z, t, w)
    for i in np.ndindex(3, 4):
        one, one_grad = sl.binary_cross_entropy_with_logits(zz[i], tt[i], "none", ww[i], return_grad=True)
        assert loss[i] == one and grad[i] == one_grad
    mean, mean_grad = sl.binary_cross_entropy_with_logits(z, t, pos_weight=w, return_grad=True)
    total = sl.binary_cross_entropy_with_logits(z, t, reduction="sum", pos_weight=w)
    assert type(mean) is np.float64 and mean == pytest.approx(loss.mean(), rel=1e-15)
    assert total == pytest.approx(loss.sum(), rel=1e-15)
    np.testing.assert_allclose(mean_grad, grad / 12, rtol=1e-15)


def test_bce_scalars_lists_and_dtypes():
    assert type(sl.binary_cross_entropy_with_logits(0.0, 1)) is np.float64
    assert sl.binary_cross_entropy_with_logits([0.0, 0.0], [1, 0]) == pytest.approx(np.log(2), rel=1e-15)
    for dtype in (np.float16, BF16, np.float32, np.float64):
        z, t = np.array([0.5, -2.0], dtype=dtype), np.array([1.0, 0.0], dtype=dtype)
        for reduction in ("mean", "sum", "none"):
            loss, grad = sl.binary_cross_entropy_with_logits(z, t, reduction=reduction, return_grad=True)
            assert loss.dtype == grad.dtype == dtype, (dtype, reduction)


def test_bce_rejects_bad_arguments():
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        sl.binary_cross_entropy_with_logits([0.0], [1.0], reduction="avg")
    with pytest.raises(ValueError):
        sl.binary_cross_entropy_with_logits(np.zeros(3), np.zeros(4))
    with pytest.raises(TypeError, match=r"binary_cross_entropy_with_logits\(\).*complex128"):
        sl.binary_cross_entropy_with_logits(np.zeros(3, dtype=complex), np.zeros(3))
