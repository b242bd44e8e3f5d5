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
import scipy.special as sc

import sigmoidlab as sl
from sigmoidlab._testing import accuracy as acc

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


BCE_Z = [-np.inf, -40.0, -3.0, -1e-8, 0.0, 2.0, 40.0, np.inf, np.nan]
BCE_T = [0.0, 0.3, 0.5, 1.0, np.nan]


@pytest.mark.parametrize("pos_weight", [None, 0.0, 1.0, 2.0])
def test_bce_matches_torch_with_soft_targets_infinite_logits_and_nan(pos_weight):
    """torch's F.binary_cross_entropy_with_logits elementwise, NaN propagation included (a NaN logit with
    pos_weight = 0 and t = 1 gave 0). Where torch's loss is NaN only because it forms (1 − t)·z − … at an infinite
    logit (inf − inf), ours is the limit, read off torch at z = ±1e6: inf where that is large, else its value."""
    torch = pytest.importorskip("torch")
    zz, tt = (a.ravel() for a in np.meshgrid(BCE_Z, BCE_T, indexing="ij"))
    loss, grad = sl.binary_cross_entropy_with_logits(zz, tt, "none", pos_weight, return_grad=True)

    def torch_bce(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        zt = torch.tensor(z, requires_grad=True)
        w = None if pos_weight is None else torch.tensor(pos_weight, dtype=torch.float64)
        value = torch.nn.functional.binary_cross_entropy_with_logits(
            zt, torch.tensor(tt), pos_weight=w, reduction="none"
        )
        (gradient,) = torch.autograd.grad(value.sum(), zt)
        return value.detach().numpy(), gradient.numpy()

    expected_loss, expected_grad = torch_bce(zz)
    limit = torch_bce(np.where(np.isinf(zz), np.sign(zz) * 1e6, zz))[0]
    limit = np.where(limit > 1e5, np.inf, limit)
    torch_nan_at_infinity = np.isinf(zz) & np.isnan(expected_loss) & ~np.isnan(tt)
    expected_loss = np.where(torch_nan_at_infinity, limit, expected_loss)
    # torch's (1 − t)·z + softplus(−z) cancels when the loss is small against |z| (0 for e^-40 at z = −40).
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-14, atol=8 * np.finfo(float).eps * 41, equal_nan=True)
    # The gradient (1 − t)·σ(z) − w·t·σ(−z) cancels by design near σ(z) = t: both round at the size of its terms.
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-14, atol=8 * np.finfo(float).eps, equal_nan=True)
    assert np.isnan(loss[np.isnan(zz) | np.isnan(tt)]).all() and np.isnan(grad[np.isnan(zz) | np.isnan(tt)]).all()


def test_bce_a_nan_logit_is_not_lost_in_the_mean():
    for pos_weight in (None, 0.0, 1.0, 3.0):
        loss, grad = sl.binary_cross_entropy_with_logits(
            [np.nan, 0.0], [1.0, 1.0], pos_weight=pos_weight, return_grad=True
        )
        assert np.isnan(loss) and np.isnan(grad[0]), pos_weight


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.float16), BF16], ids=str)
def test_bce_pos_weight_one_is_the_unweighted_loss_bit_for_bit(dtype, reduction):
    rng = np.random.default_rng(11)
    z = rng.normal(0, 6, (40, 3)).astype(dtype)
    t = np.concatenate([rng.uniform(0, 1, (30, 3)), rng.integers(0, 2, (10, 3))]).astype(dtype)
    loss, grad = sl.binary_cross_entropy_with_logits(z, t, reduction, return_grad=True)
    for pos_weight in (1.0, 1, np.ones(3, dtype), np.ones((1, 1), dtype)):
        weighted = sl.binary_cross_entropy_with_logits(z, t, reduction, pos_weight, return_grad=True)
        assert _same(weighted[0], loss) and _same(weighted[1], grad), pos_weight


def test_bce_python_scalars_are_weak_like_in_numpy():
    z = np.array([0.5, -2.0], dtype=np.float32)
    for t, pos_weight in ((1.0, 2.0), (np.ones(2, np.float32), 2), (1, None)):
        assert np.result_type(z, t, pos_weight or 1) == np.float32  # NumPy's own rule
        loss, grad = sl.binary_cross_entropy_with_logits(z, t, "none", pos_weight, return_grad=True)
        assert loss.dtype == grad.dtype == np.float32


# ------------------------------------------------------------------------------------------- the ufunc protocol
# scipy.special.expit is a real ufunc: what it does with each keyword and array type is what NumPy users expect.
# Each function must give the same structure (type, dtype, shape, layout, mask, index, the out it was given),
# with the values of its own plain call; sigmoid, log_sigmoid and logit are also compared with scipy's values.
# Except for where=: scipy 1.17's special functions write the wrong elements with it (expit([.1, .2, .3, .4],
# where=[1, 0, 1, 1], out=...) leaves element 2 unwritten) and corrupt the heap, so np.exp is the anchor there.

ANCHORS = {"sigmoid": sc.expit, "log_sigmoid": sc.log_expit, "logit": sc.logit}
CASES = ["where", "out tuple", "dtype", "signature", "out of another dtype", "order", "broadcast into out", "integers"]
PAIR = [*UNARY, "sigmoid_and_grad"]


def _domain(name: str, shape=(2, 3)) -> np.ndarray:
    """Finite values where scipy's functions raise no floating-point flag."""
    n = int(np.prod(shape))
    x = np.linspace(0.05, 0.95, n) if name in ("logit", "sigmoid_grad_from_output") else np.linspace(-30, 25, n)
    return x.reshape(shape)


def _case(case: str, name: str) -> tuple[np.ndarray, dict, object]:
    """(input, keywords, expected values from the plain calls of f) for one keyword case; fresh arrays each time."""
    x = _domain(name)
    mask = np.array([[True, False, True], [False, True, True]])
    if case == "where":
        return x, {"where": mask, "out": np.full((2, 3), -7.0)}, lambda f: np.where(mask, f(x), -7.0)
    if case == "out tuple":
        return x, {"out": (np.full((2, 3), -7.0),)}, lambda f: f(x)
    if case in ("dtype", "signature"):
        keywords = {"dtype": np.float32} if case == "dtype" else {"signature": "f->f"}
        return x, keywords, lambda f: f(x.astype(np.float32))  # the input is cast to the loop's dtype first
    if case == "out of another dtype":
        return x, {"out": np.zeros((2, 3), np.float32)}, lambda f: f(x).astype(np.float32)
    if case == "order":
        return x, {"order": "F"}, lambda f: f(x)
    if case == "broadcast into out":
        return x[0], {"out": np.zeros((2, 3))}, lambda f: np.broadcast_to(f(x[0]), (2, 3))
    ints = np.array(
        [[0, 1, 1], [1, 0, 0]] if name in ("logit", "sigmoid_grad_from_output") else [[0, 1, 2], [-3, 4, 5]]
    )
    return ints.astype(np.int8), {}, lambda f: f(ints.astype(np.float64))  # int8: float64, not NumPy's float16


def _structure(got, anchor, keywords: dict) -> None:
    assert type(got) is type(anchor) and got.dtype == anchor.dtype and got.shape == anchor.shape
    assert got.flags.f_contiguous == anchor.flags.f_contiguous and got.flags.c_contiguous == anchor.flags.c_contiguous
    if "out" in keywords:
        out = keywords["out"]
        assert got is (out[0] if isinstance(out, tuple) else out)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", UNARY)
def test_ufunc_keywords_behave_as_for_scipy_expit(name, case):
    f = getattr(sl, name)
    x, keywords, expected = _case(case, name)
    got = f(x, **keywords)
    anchor_x, anchor_keywords, _ = _case(case, name)
    anchor = (np.exp if case == "where" else ANCHORS.get(name, sc.expit))(anchor_x, **anchor_keywords)
    _structure(got, anchor, keywords)
    assert _same(got, expected(f)), f"{name} {case}: {got} vs {expected(f)}"
    if name in ANCHORS and case != "where":
        np.testing.assert_allclose(got, anchor, rtol=4 * np.finfo(got.dtype).eps)


@pytest.mark.parametrize("case", ["where", "out tuple", "dtype", "order"])
def test_sigmoid_and_grad_takes_the_keywords_of_a_two_output_ufunc(case):
    x, keywords, _ = _case(case, "sigmoid")
    if "out" in keywords:
        out = keywords["out"]
        keywords["out"] = (out[0] if isinstance(out, tuple) else out, np.full((2, 3), -5.0))
    y, g = sl.sigmoid_and_grad(x, **keywords)
    split = [{**keywords, "out": o} for o in keywords["out"]] if "out" in keywords else [keywords, keywords]
    expected_y, expected_g = sl.sigmoid(x, **split[0]), sl.sigmoid_grad(x, **split[1])
    assert _same(y, expected_y) and _same(g, expected_g)
    if "out" in keywords:
        assert y is keywords["out"][0] and g is keywords["out"][1]


def test_longdouble_takes_the_keywords_too():
    x = _domain("sigmoid").astype(np.longdouble)
    mask = np.array([[True, False, True], [False, True, True]])
    out = np.full((2, 3), -7.0, dtype=np.longdouble)
    assert sl.sigmoid(x, where=mask, out=out) is out
    assert _same(out, np.where(mask, sl.sigmoid(x), -7.0).astype(np.longdouble))
    wide = sl.sigmoid(x.astype(np.float64), dtype=np.longdouble)
    assert wide.dtype == np.longdouble and _same(wide, sl.sigmoid(x))


@pytest.mark.parametrize(
    "keywords",
    [{"dtype": np.float32, "casting": "no"}, {"out": np.zeros(6, np.int64)}, {"dtype": np.int64}, {"bogus": 1}],
    ids=["casting", "out dtype", "no loop", "unknown keyword"],
)
@pytest.mark.parametrize("name", UNARY)
def test_bad_keywords_raise_a_type_error_naming_the_function_as_scipy_does(name, keywords):
    x = _domain(name, (6,))
    with pytest.raises(TypeError):
        sc.expit(x, **keywords)
    with pytest.raises(TypeError, match=rf"\b{name}\b"):
        getattr(sl, name)(x, **keywords)


def _outputs(result) -> tuple:
    return result if isinstance(result, tuple) else (result,)


def _close(name: str, got: np.ndarray, plain: np.ndarray) -> None:
    """Bitwise, except y·(1 − y) through an override's own multiply, which rounds twice (≤ 1 ULP)."""
    if name == "sigmoid_grad_from_output":
        np.testing.assert_array_max_ulp(got, plain, maxulp=1)
    else:
        assert _same(got, plain)


@pytest.mark.parametrize("name", PAIR)
def test_masked_arrays_keep_their_mask(name):
    f, data = getattr(sl, name), _domain(name)
    mask = np.array([[False, True, False], [True, False, False]])
    anchor = sc.expit(np.ma.array(data, mask=mask))
    for got, plain in zip(_outputs(f(np.ma.array(data, mask=mask))), _outputs(f(data)), strict=True):
        assert type(got) is type(anchor) and np.array_equal(np.ma.getmaskarray(got), np.ma.getmaskarray(anchor))
        _close(name, got.data[~mask], plain[~mask])
    integers = f(np.ma.array([[0, 1], [1, 0]], mask=[[1, 0], [0, 0]]))  # integers compute in float64 here too
    assert all(o.dtype == np.float64 and o.mask.tolist() == [[True, False], [False, False]] for o in _outputs(integers))


@pytest.mark.parametrize("name", PAIR)
def test_pandas_series_and_frames_keep_their_index(name):
    pd = pytest.importorskip("pandas")
    f, data = getattr(sl, name), _domain(name)
    series = pd.Series(data.ravel(), index=list("abcdef"), name="z")
    frame = pd.DataFrame(data, index=["r", "s"], columns=["p", "q", "u"])
    for value, plain in ((series, data.ravel()), (frame, data)):
        anchor = sc.expit(value)
        for got, expected in zip(_outputs(f(value)), _outputs(f(plain)), strict=True):
            assert type(got) is type(anchor) and got.index.equals(anchor.index) and got.shape == anchor.shape
            assert getattr(got, "name", None) == getattr(anchor, "name", None)
            assert list(getattr(got, "columns", [])) == list(getattr(anchor, "columns", []))
            _close(name, got.to_numpy(), expected)
    assert all(o.dtype == np.float64 for o in _outputs(f(pd.Series([0, 1], dtype=np.int8))))


@pytest.mark.parametrize("name", PAIR)
def test_xarray_keeps_its_coordinates(name):
    xr = pytest.importorskip("xarray")
    f, data = getattr(sl, name), _domain(name)
    array = xr.DataArray(data, coords={"row": [10, 20], "col": [1, 2, 3]}, dims=("row", "col"))
    for got, plain in zip(_outputs(f(array)), _outputs(f(data)), strict=True):
        assert type(got) is xr.DataArray and got.dims == array.dims and got.coords.equals(array.coords)
        _close(name, got.to_numpy(), plain)


class _Duck:
    """Answers every ufunc with what NumPy handed its __array_ufunc__."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return ufunc, method, inputs, kwargs


@pytest.mark.parametrize("name", PAIR)
def test_array_ufunc_overrides_are_handed_the_raw_ufunc_and_every_keyword(name):
    duck, outs = _Duck(), (np.empty(3),) if name != "sigmoid_and_grad" else (np.empty(3), np.empty(3))
    out = outs if name == "sigmoid_and_grad" else outs[0]  # an array is passed on as a 1-tuple, as by NumPy
    ufunc, method, inputs, kwargs = getattr(sl, name)(duck, where=[True, False, True], casting="unsafe", out=out)
    anchor = sc.expit(duck, where=[True, False, True], casting="unsafe", out=outs[0])  # handed over, not computed
    assert ufunc is getattr(sl.ufuncs, name) and inputs == (duck,)
    assert method == anchor[1] == "__call__"
    assert kwargs["where"] == [True, False, True] and kwargs["casting"] == "unsafe"
    assert kwargs["out"] == outs and anchor[3]["out"] == outs[:1]


class _Tagged(np.ndarray):
    """An ndarray subclass without an __array_ufunc__ of its own."""


@pytest.mark.parametrize("name", PAIR)
def test_ndarray_subclasses_keep_their_class_unless_subok_is_false(name):
    f, data = getattr(sl, name), _domain(name)
    assert (
        type(sc.expit(data.view(_Tagged))) is _Tagged and type(sc.expit(data.view(_Tagged), subok=False)) is np.ndarray
    )
    for got, plain in zip(_outputs(f(data.view(_Tagged))), _outputs(f(data)), strict=True):
        assert type(got) is _Tagged
        _close(name, got.view(np.ndarray), plain)
    assert all(type(o) is np.ndarray for o in _outputs(f(data.view(_Tagged), subok=False)))


@pytest.mark.parametrize("name", PAIR)
def test_opting_out_of_ufuncs_is_respected(name):
    class NoUfuncs:
        __array_ufunc__ = None

    with pytest.raises(TypeError):
        sc.expit(NoUfuncs())
    with pytest.raises(TypeError, match="does not support ufuncs"):
        getattr(sl, name)(NoUfuncs())


def test_the_raw_ufuncs_are_public():
    from sigmoidlab.functions import _loader as _ufuncs
    from sigmoidlab.functions import ufuncs

    assert sl.ufuncs is ufuncs
    for name in ["sigmoid", "sigmoid_grad", "sigmoid_second_grad", "log_sigmoid", "softplus", "logit"]:
        ufunc = getattr(ufuncs, name)
        assert isinstance(ufunc, np.ufunc) and ufunc.__name__ == name and (ufunc.nin, ufunc.nout) == (1, 1)
        assert {"e->e", "f->f", "d->d"} <= set(ufunc.types)
        x = _domain(name)
        if _ufuncs.get_kernel() != "reference":  # the public functions call them on the compiled paths
            assert _same(ufunc(x), getattr(sl, name)(x))
        assert ufunc(np.int8(1)).dtype == np.float16  # NumPy's own loop choice, where sl.* gives float64
    assert (ufuncs.sigmoid_and_grad.nin, ufuncs.sigmoid_and_grad.nout) == (1, 2)
    assert (ufuncs.bce_with_logits.nin, ufuncs.bce_with_logits.nout) == (2, 2)
    x = np.zeros(4)
    ufuncs.sigmoid.at(x, [0, 2])  # every ufunc method works
    assert x.tolist() == [0.5, 0.0, 0.5, 0.0]


def test_without_the_extension_keywords_still_work_and_overrides_say_what_is_missing(monkeypatch):
    import importlib
    import sys
    import warnings

    import sigmoidlab._kernels
    from sigmoidlab.functions import _loader as _ufuncs

    x, mask = np.array([1.0, 2.0, 3.0]), [True, False, True]
    expected = sl.sigmoid(x, where=mask, out=np.full(3, -7.0))
    monkeypatch.setitem(sys.modules, "sigmoidlab._kernels._ufuncs", None)  # makes the import fail
    monkeypatch.delattr(sigmoidlab._kernels, "_ufuncs")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the one "kernels unavailable" warning
            importlib.reload(_ufuncs)
        assert not _ufuncs.AVAILABLE
        assert _same(sl.sigmoid(x, where=mask, out=np.full(3, -7.0)), expected)  # the reference path
        assert sl.sigmoid_and_grad(x, dtype=np.float32)[1].dtype == np.float32
        assert _same(sl.sigmoid_grad_from_output(np.array([0.5, 0.2]), where=[True, False], out=np.zeros(2)), [0.25, 0])
        with pytest.raises(TypeError, match=r"sigmoid_grad_from_output\(\) on numpy.ma.MaskedArray needs"):
            sl.sigmoid_grad_from_output(np.ma.array([0.5, 0.2], mask=[0, 1]))
        with pytest.raises(TypeError, match=r"sigmoid\(\) on numpy.ma.MaskedArray needs sigmoidlab's compiled kernels"):
            sl.sigmoid(np.ma.array(x, mask=[0, 1, 0]))
    finally:
        monkeypatch.undo()
        importlib.reload(_ufuncs)
    assert _ufuncs.AVAILABLE
